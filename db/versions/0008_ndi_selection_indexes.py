"""NDI export: partial indexes on ``decertification_actions`` for the records' later actions.

Each NDI record is a final order's action; the export looks for the actions that later belong
to it (appeal outcomes: same case and certificate; reinstatements: same certificate, the
latest final order before them). Without an index this reads every action twice and hashes
all final orders, for what is usually a handful of appeals and reinstatements (~40 ms at
100,000 actions, more as they accumulate). With these three small indexes it reads only the
later actions and, for each, the final orders of its case or certificate:

- ``decertification_actions_later``: the actions that are not final orders (few), by kind;
- ``decertification_actions_final_case`` / ``_final_certification``: final orders by case and
  by certificate.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from registry.migrations import execute_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    CREATE INDEX decertification_actions_later ON decertification_actions (kind)
      WHERE kind <> 'final_order';
    CREATE INDEX decertification_actions_final_case ON decertification_actions (case_id)
      WHERE kind = 'final_order';
    CREATE INDEX decertification_actions_final_certification
      ON decertification_actions (certification_id) WHERE kind = 'final_order';
    """)


def downgrade() -> None:
    execute_script("""
    DROP INDEX IF EXISTS decertification_actions_final_certification;
    DROP INDEX IF EXISTS decertification_actions_final_case;
    DROP INDEX IF EXISTS decertification_actions_later;
    """)
