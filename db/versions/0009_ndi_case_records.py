"""NDI ledger: a record rooted on a case ("under investigation") as well as on an action.

With REGISTRY_NDI_UNDER_INVESTIGATION each pending decertification case is one NDI record,
rooted on the case (record id ``<state>-<case id>``), not on a decertification action. A
ledger row now names exactly one root:

- ``action_id`` (a final order's action or one of its later actions, as before) becomes
  nullable, and ``case_id`` names the case of an "under investigation" record; a CHECK wants
  exactly one of the two;
- the primary key (submission_id, action_id) cannot hold a NULL: it becomes the unique key
  (submission_id, action_id, case_id) NULLS NOT DISTINCT, which is still one root once per
  submission and still serves the lookups by submission (one index, as before, so the
  export's ledger INSERT writes no more index entries per action row);
- a partial index on ``case_id`` (case rows only, so action rows cost nothing in it): the
  export's per-case ledger read, and the check whether any case record was ever sent (with the
  opt-in off the export reads ``cases`` only then, to take those records back);
- the statement-level reference check of 0006 now checks ``case_id`` against ``cases`` too,
  in the same single pass over the inserted rows. ``cases`` refuses DELETE (versioned), so a
  reference cannot dangle later, as with the other two.

Privileges: none to grant. The service role already has SELECT and INSERT on the ledger (a
table-level grant covers the new column), SELECT on ``cases``, ``case_status_events`` and
``final_orders`` (the export reads them) and EXECUTE on the check's function, which is
replaced in place (CREATE OR REPLACE keeps its grants).

Downgrade refuses while the ledger holds a case record: the ledger is append-only, and
dropping what was sent to the NDI would lose the only trace of it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from registry.migrations import execute_script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The reference check of 0006; ``{missing}`` finds a row that refers to nothing.
REFERENCES = """
CREATE OR REPLACE FUNCTION ndi_submission_records_references() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  SELECT 'submission ' || n.submission_id INTO missing FROM inserted n
  WHERE NOT EXISTS (SELECT 1 FROM ndi_submissions s WHERE s.id = n.submission_id)
  LIMIT 1;
  IF missing IS NULL THEN
    {missing}
  END IF;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'ndi_submission_records refers to % that does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
"""

ACTION_MISSING = """SELECT 'decertification action ' || n.action_id INTO missing FROM inserted n
    WHERE NOT EXISTS (SELECT 1 FROM decertification_actions a WHERE a.id = n.action_id)
    LIMIT 1;"""

# A row names exactly one root (the CHECK): it refers to nothing when its action does not
# exist and it names no case, or its case does not exist. The actions' anti-join first, in a
# subquery PostgreSQL keeps apart (OFFSET 0): an export's action rows all pass it, so the
# cases are looked at only for its case rows. Left to itself the planner tested every row
# against the cases first (10-20 ms more per 100,000 rows, a tenth of the whole check).
ROOT_MISSING = """SELECT coalesce('decertification action ' || n.action_id, 'case ' || n.case_id)
      INTO missing
    FROM (SELECT n.action_id, n.case_id FROM inserted n
          WHERE NOT EXISTS (SELECT 1 FROM decertification_actions a WHERE a.id = n.action_id)
          OFFSET 0) AS n
    WHERE n.case_id IS NULL OR NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = n.case_id)
    LIMIT 1;"""


def upgrade() -> None:
    execute_script("""
    ALTER TABLE ndi_submission_records
      DROP CONSTRAINT ndi_submission_records_pkey,
      ALTER COLUMN action_id DROP NOT NULL,
      ADD COLUMN case_id uuid,
      ADD CONSTRAINT ndi_submission_records_one_root
        CHECK (num_nonnulls(action_id, case_id) = 1),
      ADD CONSTRAINT ndi_submission_records_key
        UNIQUE NULLS NOT DISTINCT (submission_id, action_id, case_id);
    CREATE INDEX ndi_submission_records_case ON ndi_submission_records (case_id)
      WHERE case_id IS NOT NULL;
    """ + REFERENCES.format(missing=ROOT_MISSING))


def downgrade() -> None:
    execute_script("""
    DO $$
    BEGIN
      IF EXISTS (SELECT 1 FROM ndi_submission_records WHERE case_id IS NOT NULL) THEN
        RAISE EXCEPTION 'the NDI ledger holds under-investigation records (case_id): they '
          'were sent to the NDI and the ledger is append-only, so 0009 is not undone';
      END IF;
    END $$;
    DROP INDEX ndi_submission_records_case;
    ALTER TABLE ndi_submission_records
      DROP CONSTRAINT ndi_submission_records_key,
      DROP CONSTRAINT ndi_submission_records_one_root,
      DROP COLUMN case_id,
      ALTER COLUMN action_id SET NOT NULL,
      ADD PRIMARY KEY (submission_id, action_id);
    """ + REFERENCES.format(missing=ACTION_MISSING))
