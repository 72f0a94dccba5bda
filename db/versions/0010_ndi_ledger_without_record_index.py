"""NDI ledger: drop the index on ``record_id``, which no query needs.

A record id is ``<state>-<root id>``, and the root (an action, or a case for an "under
investigation" record) is indexed already (``ndi_submission_records_action``,
``ndi_submission_records_case``): a lookup by record id is a lookup by its root. Nothing in
the registry reads the ledger by record id, and every export paid one index entry per ledger
row for it (~0.1 s of an export of 100,000 records).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from registry.migrations import execute_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("DROP INDEX IF EXISTS ndi_submission_records_record;")


def downgrade() -> None:
    execute_script("CREATE INDEX ndi_submission_records_record "
                   "ON ndi_submission_records (record_id);")
