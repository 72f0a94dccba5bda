"""Foundation: agencies, officers, certifications, employment stints, API keys, audit.

Rules the database enforces itself, so that no code path can skip them:
- versioned tables keep every prior row in ``<table>_history`` (a correction is a new
  version; "what did the registry say at time T" is a query) and refuse DELETE;
- ``audit_events`` is append-only (UPDATE, DELETE and TRUNCATE raise) and hash-chained: a
  trigger serialises writers, links each event to the previous one and hashes it;
- employment stints of one officer at one agency cannot overlap (exclusion constraint).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

from registry.migrations import append_only, execute_script, keep_versions, sql_in, stamp

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

VERSIONED = ("agencies", "officers", "certifications", "stints")

SEPARATION_REASONS = (
    "resigned", "retired", "terminated", "resigned_in_lieu_of_termination",
    "resigned_under_investigation", "retired_under_investigation", "deceased", "laid_off",
    "transferred", "other",
)
CERT_STATUSES = (
    "active", "inactive", "lapsed", "suspended", "revoked", "surrendered", "denied", "reinstated",
)


def upgrade() -> None:
    for ext in ("pg_trgm", "fuzzystrmatch", "unaccent", "citext", "btree_gist"):
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")

    execute_script("""
    CREATE FUNCTION registry_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% on % is not allowed: this registry never destroys records',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END $$;

    -- System time comes from the database clock only, never from a client.
    CREATE FUNCTION registry_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.recorded_at := now();
      RETURN NEW;
    END $$;

    -- Before a versioned row changes, its old version goes to <table>_history.
    CREATE FUNCTION registry_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NULL;
      END IF;
      EXECUTE format('INSERT INTO %I.%I SELECT ($1).*, now()',
                     TG_TABLE_SCHEMA, TG_TABLE_NAME || '_history') USING OLD;
      NEW.version := OLD.version + 1;
      NEW.recorded_at := now();
      RETURN NEW;
    END $$;
    """)

    execute_script(f"""
    CREATE TABLE agencies (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      state char(2) NOT NULL,
      ori text UNIQUE CHECK (ori ~ '^[A-Z]{{2}}[A-Z0-9]{{7}}$'),
      name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
      name_key text NOT NULL,
      aliases text[] NOT NULL DEFAULT '{{}}',
      agency_type text NOT NULL CHECK (agency_type IN
        ('police', 'sheriff', 'jail', 'corrections', 'state', 'university', 'tribal',
         'transit', 'school', 'airport', 'federal', 'other')),
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text,
      UNIQUE (state, name_key)
    );
    CREATE INDEX agencies_name_trgm ON agencies USING gin (name_key gin_trgm_ops);

    CREATE TABLE officers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      -- The person this record now belongs to: itself, or the survivor of a merge.
      canonical_id uuid NOT NULL,
      -- The record this one was merged into (directly); NULL unless merged.
      merged_into_id uuid REFERENCES officers(id),
      -- The only identifier the public transparency pages show: random, unrelated to id.
      public_id text NOT NULL UNIQUE
        DEFAULT substr(replace(gen_random_uuid()::text, '-', ''), 1, 16),
      first_name text NOT NULL CHECK (length(btrim(first_name)) BETWEEN 1 AND 100),
      middle_name text CHECK (length(middle_name) <= 100),
      last_name text NOT NULL CHECK (length(btrim(last_name)) BETWEEN 1 AND 100),
      suffix text CHECK (length(suffix) <= 20),
      name_key text NOT NULL,
      -- Compared byte by byte: a linguistic collation ignores the spaces between the parts
      -- and would list "Smithers, Al" before "Smith, John".
      sort_key text COLLATE "C" NOT NULL,
      birth_year smallint CHECK (birth_year BETWEEN 1900 AND 2100),
      birth_month smallint CHECK (birth_month BETWEEN 1 AND 12),
      birth_day smallint CHECK (birth_day BETWEEN 1 AND 31),
      post_id text UNIQUE CHECK (length(post_id) BETWEEN 1 AND 40),
      sex text CHECK (sex IN ('female', 'male', 'other', 'unknown')),
      race text CHECK (length(race) <= 60),
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text,
      CHECK (birth_month IS NOT NULL OR birth_day IS NULL),
      CHECK (birth_year IS NOT NULL OR birth_month IS NULL)
    );
    CREATE INDEX officers_listing ON officers (sort_key, id) WHERE canonical_id = id;
    CREATE INDEX officers_canonical ON officers (canonical_id);
    CREATE INDEX officers_merged_into ON officers (merged_into_id) WHERE merged_into_id IS NOT NULL;
    CREATE INDEX officers_name_trgm ON officers USING gin (name_key gin_trgm_ops);
    CREATE INDEX officers_last_birth ON officers (last_name, birth_year);

    CREATE TABLE officer_names (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      officer_id uuid NOT NULL REFERENCES officers(id),
      kind text NOT NULL CHECK (kind IN ('prior', 'maiden', 'alias')),
      first_name text CHECK (length(first_name) <= 100),
      middle_name text CHECK (length(middle_name) <= 100),
      last_name text NOT NULL CHECK (length(btrim(last_name)) BETWEEN 1 AND 100),
      suffix text CHECK (length(suffix) <= 20),
      name_key text NOT NULL,
      used_until date,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL
    );
    CREATE INDEX officer_names_officer ON officer_names (officer_id);
    CREATE INDEX officer_names_trgm ON officer_names USING gin (name_key gin_trgm_ops);

    -- The records sources hold about a person, kept apart from the person they describe.
    CREATE TABLE source_records (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      officer_id uuid NOT NULL REFERENCES officers(id),
      source text NOT NULL,
      source_key text NOT NULL,
      payload jsonb NOT NULL DEFAULT '{{}}',
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      UNIQUE (source, source_key)
    );
    CREATE INDEX source_records_officer ON source_records (officer_id);

    CREATE TABLE officer_identity_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      kind text NOT NULL CHECK (kind IN ('merge', 'split')),
      survivor_id uuid NOT NULL REFERENCES officers(id),
      merged_id uuid NOT NULL REFERENCES officers(id),
      reason text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL
    );
    CREATE INDEX officer_identity_events_ids ON officer_identity_events (survivor_id, merged_id);

    CREATE TABLE certifications (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      officer_id uuid NOT NULL REFERENCES officers(id),
      state char(2) NOT NULL,
      number text NOT NULL CHECK (length(btrim(number)) BETWEEN 1 AND 40),
      issuing_board text NOT NULL,
      discipline text NOT NULL CHECK (discipline IN
        ('law_enforcement', 'corrections', 'jail', 'communications', 'other')),
      level text NOT NULL CHECK (level IN
        ('basic', 'intermediate', 'advanced', 'supervisor', 'management', 'instructor')),
      issued_on date NOT NULL,
      expires_on date CHECK (expires_on > issued_on),
      status text NOT NULL CHECK (status IN {sql_in(CERT_STATUSES)}),
      status_since date NOT NULL,
      suspended_until date,
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text,
      UNIQUE (state, number),
      CHECK ((status = 'suspended') = (suspended_until IS NOT NULL))
    );
    CREATE INDEX certifications_officer ON certifications (officer_id);
    CREATE INDEX certifications_status ON certifications (status, officer_id);

    -- The dated history of every status move; the certification row holds the latest.
    CREATE TABLE certification_status_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      certification_id uuid NOT NULL REFERENCES certifications(id),
      action text NOT NULL,
      from_status text CHECK (from_status IN {sql_in(CERT_STATUSES)}),
      to_status text NOT NULL CHECK (to_status IN {sql_in(CERT_STATUSES)}),
      effective_on date NOT NULL,
      until_on date,
      expires_on date,
      reason text,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL
    );
    CREATE INDEX certification_status_events_cert
      ON certification_status_events (certification_id, effective_on, recorded_at);

    CREATE TABLE stints (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      officer_id uuid NOT NULL REFERENCES officers(id),
      agency_id uuid NOT NULL REFERENCES agencies(id),
      rank text CHECK (length(rank) <= 100),
      started_on date NOT NULL,
      ended_on date,
      separation_reason text CHECK (separation_reason IN {sql_in(SEPARATION_REASONS)}),
      separation_note text CHECK (length(separation_note) <= 2000),
      reported_by_agency_id uuid REFERENCES agencies(id),
      reported_at timestamptz NOT NULL,
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text,
      CHECK (ended_on IS NULL OR ended_on >= started_on),
      CHECK ((ended_on IS NULL) = (separation_reason IS NULL)),
      CONSTRAINT stints_no_overlap EXCLUDE USING gist (
        officer_id WITH =, agency_id WITH =, daterange(started_on, ended_on, '[]') WITH &&)
    );
    CREATE INDEX stints_officer ON stints (officer_id, started_on);
    CREATE INDEX stints_agency ON stints (agency_id, officer_id);

    CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
      role text NOT NULL CHECK (role IN ('agency', 'post_staff', 'board_member', 'admin')),
      agency_id uuid REFERENCES agencies(id),
      token_hash bytea NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz,
      CHECK ((role = 'agency') = (agency_id IS NOT NULL))
    );

    CREATE TABLE audit_events (
      id bigint PRIMARY KEY,
      occurred_at timestamptz NOT NULL,
      actor_key_id uuid,
      actor text NOT NULL,
      role text NOT NULL,
      agency_id uuid,
      operation text NOT NULL,
      entity_type text NOT NULL,
      entity_id text,
      before jsonb,
      after jsonb,
      request_id text,
      prev_hash bytea NOT NULL,
      hash bytea NOT NULL
    );
    CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
    CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id);
    """)

    for table in VERSIONED:
        keep_versions(table)
    for table in (*VERSIONED, "officer_names", "source_records", "officer_identity_events",
                  "certification_status_events", "api_keys"):
        stamp(table)
    execute_script("""
    CREATE FUNCTION stints_reported_at() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Loaders may carry the date a source says a stint was reported; otherwise it is now.
      NEW.reported_at := coalesce(NEW.reported_at, now());
      RETURN NEW;
    END $$;
    CREATE TRIGGER stints_reported_at BEFORE INSERT ON stints
      FOR EACH ROW EXECUTE FUNCTION stints_reported_at();
    """)
    for table in ("certification_status_events", "officer_identity_events", "audit_events"):
        append_only(table)

    execute_script("""
    -- The hash of one audit event: its fields in a fixed text form, chained to the previous
    -- event's hash. The same function recomputes it when the chain is verified.
    CREATE FUNCTION audit_event_hash(e audit_events) RETURNS bytea
    LANGUAGE sql IMMUTABLE AS $$
      SELECT sha256(e.prev_hash || convert_to(concat_ws(chr(31),
        e.id::text,
        to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        coalesce(e.actor_key_id::text, ''), e.actor, e.role,
        coalesce(e.agency_id::text, ''), e.operation, e.entity_type,
        coalesce(e.entity_id, ''), coalesce(e.before::text, ''), coalesce(e.after::text, ''),
        coalesce(e.request_id, '')), 'UTF8'))
    $$;

    CREATE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      previous bytea;
    BEGIN
      -- One writer at a time appends, so ids follow the chain order.
      PERFORM pg_advisory_xact_lock(7201620251123);
      SELECT hash INTO previous FROM audit_events ORDER BY id DESC LIMIT 1;
      NEW.id := nextval('audit_events_id_seq');
      NEW.occurred_at := clock_timestamp();
      NEW.prev_hash := coalesce(previous, '\\x'::bytea);
      NEW.hash := audit_event_hash(NEW);
      RETURN NEW;
    END $$;
    CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_chain();
    """)


def downgrade() -> None:
    for table in (
        "audit_events", "api_keys", "stints_history", "stints",
        "certification_status_events", "certifications_history", "certifications",
        "officer_identity_events", "source_records", "officer_names", "officers_history",
        "officers", "agencies_history", "agencies",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("DROP FUNCTION IF EXISTS audit_events_chain() CASCADE")
    op.execute("DROP FUNCTION IF EXISTS registry_keep_version() CASCADE")
    op.execute("DROP FUNCTION IF EXISTS registry_refuse_change() CASCADE")
    op.execute("DROP FUNCTION IF EXISTS registry_stamp() CASCADE")
    op.execute("DROP FUNCTION IF EXISTS stints_reported_at() CASCADE")
