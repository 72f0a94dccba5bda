"""Background checks: match keys for every name a person is known by, the checks themselves,
notifications to agencies that checked an officer, and signed webhook deliveries.

- ``match_keys`` is derived data: one row per (officer record, name it is known by, surname
  token), with folded, phonetic and birth-date columns that the blocking indexes of
  registry/background_checks/matching.py use. Statement-level triggers on officers and
  officer_names keep it current (also under COPY); ``registry_rebuild_match_keys()`` rebuilds
  it after a bulk load that ran with triggers off.
- ``registry_fold`` is the SQL form of name folding (accents, case, punctuation). It wraps
  ``unaccent`` with its dictionary named, which makes it safe to declare IMMUTABLE.
- ``background_checks`` and ``background_check_hits`` are facts (append-only): who asked,
  for which agency and purpose, a hash of the input, and which people were returned.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import op

from registry.migrations import append_only, execute_script, sql_in

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PURPOSES = ("hiring", "promotion", "audit")
NOTIFICATION_KINDS = ("final_order", "sustained_finding", "separation_under_investigation")
DELIVERY_STATUSES = ("pending", "delivered", "failed")
# Surname particles that are not a surname on their own ("de la Cruz" is found as "delacruz"
# and "cruz", never as "de").
PARTICLES = ("de", "del", "della", "der", "den", "di", "da", "das", "do", "dos", "du", "la",
             "las", "le", "los", "van", "von", "st", "ste", "y", "e", "bin", "ibn", "al", "el")


def upgrade() -> None:
    execute_script(f"""
    CREATE FUNCTION registry_fold(value text) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
      RETURN btrim(regexp_replace(
        lower(public.unaccent('public.unaccent'::regdictionary, value)), '[^a-z0-9]+', ' ', 'g'));

    -- The keys a surname is found by: the whole of it without spaces, and each word of it that
    -- is not a particle ("Garcia-Lopez": garcialopez, garcia, lopez).
    CREATE FUNCTION registry_surname_tokens(last_name text) RETURNS text[]
      LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
      RETURN ARRAY(
        SELECT DISTINCT token FROM (
          SELECT replace(registry_fold(last_name), ' ', '') AS token
          UNION ALL
          SELECT word FROM regexp_split_to_table(registry_fold(last_name), ' ') AS word
          WHERE length(word) > 1 AND word <> ALL (ARRAY{list(PARTICLES)}::text[])
        ) tokens WHERE token <> '' ORDER BY token);

    CREATE VIEW match_key_source AS
    SELECT n.officer_id, o.canonical_id AS person_id, n.name_kind,
           registry_fold(n.first_name) AS first_key,
           dmetaphone(split_part(registry_fold(n.first_name), ' ', 1)) AS first_meta,
           coalesce(registry_fold(n.middle_name), '') AS middle_key,
           registry_fold(n.last_name) AS last_key,
           t.token AS last_token,
           dmetaphone(t.token) AS last_meta,
           coalesce(registry_fold(n.suffix), '') AS suffix_key,
           o.birth_year, o.birth_month, o.birth_day
    FROM (
      SELECT id AS officer_id, 'current' AS name_kind, first_name, middle_name, last_name, suffix
      FROM officers
      UNION ALL
      -- A maiden or prior surname often comes without a first name: the person's own applies.
      SELECT nm.officer_id, nm.kind, coalesce(nm.first_name, cur.first_name),
             coalesce(nm.middle_name, cur.middle_name), nm.last_name, nm.suffix
      FROM officer_names nm JOIN officers cur ON cur.id = nm.officer_id
    ) n
    JOIN officers o ON o.id = n.officer_id
    CROSS JOIN LATERAL unnest(registry_surname_tokens(n.last_name)) AS t(token);

    CREATE TABLE match_keys (
      officer_id uuid NOT NULL REFERENCES officers(id),
      -- The person the record belongs to (officers.canonical_id); a merge or split updates
      -- officers, and the trigger rebuilds these rows.
      person_id uuid NOT NULL,
      name_kind text NOT NULL,
      first_key text NOT NULL,
      first_meta text NOT NULL,
      middle_key text NOT NULL,
      last_key text NOT NULL,
      last_token text NOT NULL,
      last_meta text NOT NULL,
      suffix_key text NOT NULL,
      birth_year smallint,
      birth_month smallint,
      birth_day smallint
    );
    -- The blocking indexes carry what blocking reads (person, birth year, and the name part
    -- a block filters on), so that blocking never visits the table.
    CREATE INDEX match_keys_officer ON match_keys (officer_id);
    CREATE INDEX match_keys_person ON match_keys (person_id);
    CREATE INDEX match_keys_surname_first ON match_keys (last_meta, first_key)
      INCLUDE (person_id, birth_year);
    CREATE INDEX match_keys_surname_first_meta ON match_keys (last_meta, first_meta)
      INCLUDE (person_id, birth_year);
    CREATE INDEX match_keys_surname_year ON match_keys (last_meta, birth_year)
      INCLUDE (person_id, birth_day, first_key, middle_key);
    CREATE INDEX match_keys_first_year ON match_keys (first_key, birth_year)
      INCLUDE (person_id, birth_day, last_key);
    CREATE INDEX match_keys_birth ON match_keys (birth_year, birth_month, birth_day)
      INCLUDE (person_id);

    CREATE FUNCTION registry_rebuild_match_keys() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
      added bigint;
    BEGIN
      TRUNCATE match_keys;
      INSERT INTO match_keys SELECT * FROM match_key_source;
      GET DIAGNOSTICS added = ROW_COUNT;
      RETURN added;
    END $$;

    -- ``= ANY(ARRAY(...))`` rather than ``IN (SELECT ...)``: the planner cannot estimate a
    -- transition table and otherwise scans all of officers and officer_names per statement.
    CREATE FUNCTION match_keys_of_new_officers() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO match_keys SELECT * FROM match_key_source
      WHERE officer_id = ANY(ARRAY(SELECT id FROM changed));
      RETURN NULL;
    END $$;

    CREATE FUNCTION match_keys_of_changed_officers() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      ids uuid[] := ARRAY(SELECT id FROM changed);
    BEGIN
      DELETE FROM match_keys WHERE officer_id = ANY(ids);
      INSERT INTO match_keys SELECT * FROM match_key_source WHERE officer_id = ANY(ids);
      RETURN NULL;
    END $$;

    CREATE FUNCTION match_keys_of_changed_names() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      ids uuid[] := ARRAY(SELECT DISTINCT officer_id FROM changed);
    BEGIN
      DELETE FROM match_keys WHERE officer_id = ANY(ids);
      INSERT INTO match_keys SELECT * FROM match_key_source WHERE officer_id = ANY(ids);
      RETURN NULL;
    END $$;

    CREATE TRIGGER officers_match_keys_insert AFTER INSERT ON officers
      REFERENCING NEW TABLE AS changed
      FOR EACH STATEMENT EXECUTE FUNCTION match_keys_of_new_officers();
    CREATE TRIGGER officers_match_keys_update AFTER UPDATE ON officers
      REFERENCING NEW TABLE AS changed
      FOR EACH STATEMENT EXECUTE FUNCTION match_keys_of_changed_officers();
    CREATE TRIGGER officer_names_match_keys_insert AFTER INSERT ON officer_names
      REFERENCING NEW TABLE AS changed
      FOR EACH STATEMENT EXECUTE FUNCTION match_keys_of_changed_names();
    CREATE TRIGGER officer_names_match_keys_update AFTER UPDATE ON officer_names
      REFERENCING NEW TABLE AS changed
      FOR EACH STATEMENT EXECUTE FUNCTION match_keys_of_changed_names();

    -- Certificate numbers compared as letters and digits only ("2004-1187" = "20041187").
    CREATE FUNCTION registry_certificate_key(number text) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
      RETURN upper(regexp_replace(number, '[^A-Za-z0-9]+', '', 'g'));
    CREATE INDEX certifications_number_key ON certifications (registry_certificate_key(number));

    CREATE TABLE background_checks (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      key_id uuid REFERENCES api_keys(id),
      actor text NOT NULL,
      role text NOT NULL,
      agency_id uuid REFERENCES agencies(id),
      purpose text NOT NULL CHECK (purpose IN {sql_in(PURPOSES)}),
      -- The candidate as entered (the printable report shows it) and its SHA-256.
      candidate jsonb NOT NULL,
      input_hash text NOT NULL,
      -- Ranked: [{{"officer_id", "score", "reasons": [...]}}].
      matches jsonb NOT NULL,
      threshold real NOT NULL,
      request_id text,
      run_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX background_checks_key ON background_checks (key_id, run_at);
    CREATE INDEX background_checks_agency ON background_checks (agency_id, run_at DESC, id);
    CREATE INDEX background_checks_run ON background_checks (run_at DESC, id);

    -- One row per person a check returned: "who checked this officer" is an index lookup.
    CREATE TABLE background_check_hits (
      check_id uuid NOT NULL REFERENCES background_checks(id),
      officer_id uuid NOT NULL REFERENCES officers(id),
      agency_id uuid REFERENCES agencies(id),
      rank smallint NOT NULL,
      score real NOT NULL,
      run_at timestamptz NOT NULL,
      PRIMARY KEY (check_id, officer_id)
    );
    CREATE INDEX background_check_hits_officer ON background_check_hits
      (officer_id, run_at DESC, check_id);

    CREATE TABLE notifications (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      agency_id uuid NOT NULL REFERENCES agencies(id),
      officer_id uuid NOT NULL REFERENCES officers(id),
      -- The agency's latest check that returned this officer.
      check_id uuid NOT NULL REFERENCES background_checks(id),
      kind text NOT NULL CHECK (kind IN {sql_in(NOTIFICATION_KINDS)}),
      entity_type text NOT NULL,
      entity_id uuid NOT NULL,
      summary text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (agency_id, kind, entity_id)
    );
    CREATE INDEX notifications_agency ON notifications (agency_id, created_at DESC, id);

    CREATE TABLE webhooks (
      agency_id uuid PRIMARY KEY REFERENCES agencies(id),
      url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
      -- Kept whole: the registry signs each body with it (HMAC-SHA256).
      secret text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      created_by text NOT NULL
    );

    CREATE TABLE webhook_deliveries (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      notification_id uuid NOT NULL REFERENCES notifications(id),
      agency_id uuid NOT NULL REFERENCES agencies(id),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN {sql_in(DELIVERY_STATUSES)}),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      last_error text,
      last_status_code integer,
      delivered_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (notification_id)
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
      WHERE status = 'pending';
    """)
    for table in ("background_checks", "background_check_hits", "notifications"):
        append_only(table)
    op.execute("SELECT registry_rebuild_match_keys()")
    op.execute("ANALYZE match_keys")
    # Index-only blocking needs the visibility map set; VACUUM cannot run inside the
    # migration's transaction, and autovacuum sets it soon after a large rebuild.


def downgrade() -> None:
    for table in ("webhook_deliveries", "webhooks", "notifications", "background_check_hits",
                  "background_checks", "match_keys"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("DROP INDEX IF EXISTS certifications_number_key")
    op.execute("DROP VIEW IF EXISTS match_key_source")
    for function in ("match_keys_of_new_officers()", "match_keys_of_changed_officers()",
                     "match_keys_of_changed_names()", "registry_rebuild_match_keys()",
                     "registry_surname_tokens(text)", "registry_certificate_key(text)",
                     "registry_fold(text)"):
        op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
