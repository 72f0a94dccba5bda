"""NDI submissions and imports, and the bookkeeping of bulk loads.

- ``ndi_submissions`` / ``ndi_submission_records``: the ledger of what was exported to the
  NDI, when, by whom, under which layout version, and as new / update / rescind. A record's
  ``record_id`` is stable across submissions (corrections and reinstatements update or
  rescind the same NDI record). Facts: append-only.
- ``external_actions``: actions another state reported (an NDI file read back), attached to
  the person the background check's matching found, or to a person of their own created for
  them (known only from that state) when nobody matched. Versioned: an "update" record of
  the same (state, record id) makes a new version; re-reading the same file changes nothing.
- ``load_runs``: one row per run of a loader (file, SHA-256, counts, rejects, status).
- ``loaded_rows``: which source rows a loader already turned into which registry rows, so a
  re-run creates no duplicates and a run killed half way resumes where it stopped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

from registry.migrations import append_only, execute_script, keep_versions, sql_in, stamp

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RECORD_TYPES = ("new", "update", "rescind")
NDI_ACTIONS = ("revocation", "suspension", "surrender", "denial", "under_investigation")
ATTACHED_BY = ("certificate", "name_and_birth_date", "new_person")
LOAD_STATUSES = ("running", "finished", "failed", "dry_run")


def upgrade() -> None:
    execute_script(f"""
    CREATE TABLE ndi_submissions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      layout_version text NOT NULL,
      scope text NOT NULL CHECK (scope IN ('since_last', 'all')),
      file_name text,
      file_sha256 text,
      records integer NOT NULL CHECK (records >= 0),
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL
    );
    CREATE INDEX ndi_submissions_recorded ON ndi_submissions (recorded_at DESC, id);

    CREATE TABLE ndi_submission_records (
      submission_id uuid NOT NULL REFERENCES ndi_submissions(id),
      action_id uuid NOT NULL REFERENCES decertification_actions(id),
      record_id text NOT NULL,
      record_type text NOT NULL CHECK (record_type IN {sql_in(RECORD_TYPES)}),
      PRIMARY KEY (submission_id, action_id)
    );
    CREATE INDEX ndi_submission_records_action ON ndi_submission_records (action_id);
    CREATE INDEX ndi_submission_records_record ON ndi_submission_records (record_id);

    CREATE TABLE external_actions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      contributing_state char(2) NOT NULL,
      record_id text NOT NULL CHECK (length(record_id) BETWEEN 1 AND 100),
      record_type text NOT NULL CHECK (record_type IN {sql_in(RECORD_TYPES)}),
      officer_id uuid NOT NULL REFERENCES officers(id),
      attached_by text NOT NULL CHECK (attached_by IN {sql_in(ATTACHED_BY)}),
      match_score real,
      certifying_authority text,
      verification_contact text,
      first_name text NOT NULL,
      middle_name text,
      last_name text NOT NULL,
      suffix text,
      aliases text[] NOT NULL DEFAULT '{{}}',
      birth_year smallint,
      birth_month smallint,
      birth_day smallint,
      certificate_number text,
      action_type text NOT NULL CHECK (action_type IN {sql_in(NDI_ACTIONS)}),
      action_date date NOT NULL,
      suspension_start date,
      suspension_end date,
      reason_category text,
      rescinded boolean NOT NULL DEFAULT false,
      load_run_id uuid,
      raw jsonb NOT NULL DEFAULT '{{}}',
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text,
      UNIQUE (contributing_state, record_id)
    );
    CREATE INDEX external_actions_officer ON external_actions (officer_id);
    CREATE INDEX external_actions_certificate
      ON external_actions (registry_certificate_key(certificate_number))
      WHERE certificate_number IS NOT NULL;

    CREATE TABLE load_runs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      kind text NOT NULL,
      file_name text NOT NULL,
      file_sha256 text NOT NULL,
      status text NOT NULL CHECK (status IN {sql_in(LOAD_STATUSES)}),
      rows_in integer NOT NULL DEFAULT 0,
      rows_loaded integer NOT NULL DEFAULT 0,
      rows_already_loaded integer NOT NULL DEFAULT 0,
      rows_rejected integer NOT NULL DEFAULT 0,
      counts jsonb NOT NULL DEFAULT '{{}}',
      rejects_file text,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      started_by text NOT NULL
    );
    CREATE INDEX load_runs_file ON load_runs (file_sha256, started_at);

    CREATE TABLE loaded_rows (
      source text NOT NULL,
      row_key text NOT NULL,
      entity_type text NOT NULL,
      entity_id uuid NOT NULL,
      load_run_id uuid NOT NULL REFERENCES load_runs(id),
      PRIMARY KEY (source, row_key)
    );
    """)
    keep_versions("external_actions")
    stamp("external_actions")
    for table in ("ndi_submissions", "ndi_submission_records", "loaded_rows"):
        append_only(table)


def downgrade() -> None:
    for table in ("loaded_rows", "load_runs", "external_actions_history", "external_actions",
                  "ndi_submission_records", "ndi_submissions"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
