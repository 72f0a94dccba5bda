"""NDI ledger: the references of ``ndi_submission_records`` checked once per statement.

The two foreign keys (to ``ndi_submissions`` and ``decertification_actions``) were checked row
by row: each check is a lookup that also locks the referenced row (FOR KEY SHARE), ~1.4 s per
100,000 ledger rows, most of an export's ledger time. They are replaced by one AFTER INSERT
trigger per statement that looks for a missing reference in the inserted rows with one
anti-join, and refuses the statement as the foreign key would (SQLSTATE 23503).

Integrity holds as before: the check covers every insert, and what a foreign key also guarded
on the other side, a referenced row deleted later, cannot happen: ``ndi_submissions`` and
``decertification_actions`` are append-only (UPDATE, DELETE and TRUNCATE raise), and so is the
ledger itself. The export writes the ledger in its own transaction, under its lock, from the
actions it has just read and the submission it has just inserted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from registry.migrations import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    ALTER TABLE ndi_submission_records
      DROP CONSTRAINT ndi_submission_records_submission_id_fkey,
      DROP CONSTRAINT ndi_submission_records_action_id_fkey;

    CREATE FUNCTION ndi_submission_records_references() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      missing text;
    BEGIN
      SELECT 'submission ' || n.submission_id INTO missing FROM inserted n
      WHERE NOT EXISTS (SELECT 1 FROM ndi_submissions s WHERE s.id = n.submission_id)
      LIMIT 1;
      IF missing IS NULL THEN
        SELECT 'decertification action ' || n.action_id INTO missing FROM inserted n
        WHERE NOT EXISTS (SELECT 1 FROM decertification_actions a WHERE a.id = n.action_id)
        LIMIT 1;
      END IF;
      IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'ndi_submission_records refers to % that does not exist', missing
          USING ERRCODE = 'foreign_key_violation';
      END IF;
      RETURN NULL;
    END $$;

    CREATE TRIGGER ndi_submission_records_references AFTER INSERT ON ndi_submission_records
      REFERENCING NEW TABLE AS inserted
      FOR EACH STATEMENT EXECUTE FUNCTION ndi_submission_records_references();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER ndi_submission_records_references ON ndi_submission_records;
    DROP FUNCTION ndi_submission_records_references();
    ALTER TABLE ndi_submission_records
      ADD CONSTRAINT ndi_submission_records_submission_id_fkey
        FOREIGN KEY (submission_id) REFERENCES ndi_submissions(id),
      ADD CONSTRAINT ndi_submission_records_action_id_fkey
        FOREIGN KEY (action_id) REFERENCES decertification_actions(id);
    """)
