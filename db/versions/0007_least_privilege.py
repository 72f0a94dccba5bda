"""Least privilege: the service connects as a role that reads and appends, and changes only
what it legitimately updates; the role that runs these migrations owns every table.

The service role (``REGISTRY_SERVICE_ROLE``, ``registry_app`` by default) is created here if
it is missing (LOGIN, nothing else; roles are cluster-wide, so an operator may create it first,
with a password). It gets:
- CONNECT and TEMPORARY on the database (loaders and the NDI export stage rows in temporary
  tables), USAGE on the schema, never CREATE: no DDL, no DROP, ALTER, TRUNCATE or DISABLE
  TRIGGER (those need ownership or the TRUNCATE privilege, which it never has);
- SELECT on every table and view; INSERT on every table but ``alembic_version``, the
  ``*_history`` tables and ``match_keys``, which only triggers write: those trigger functions
  run as their owner (SECURITY DEFINER), so the service cannot forge a past version;
- UPDATE only on the tables it edits (versioned tables, the referral queue, webhooks and their
  deliveries, load runs) and on ``api_keys.revoked_at`` alone; DELETE only on ``webhooks``
  (removing an agency's webhook). Append-only tables (``audit_events``, votes, final orders,
  ...) get SELECT and INSERT: UPDATE and DELETE fail on the privilege before any trigger runs;
- USAGE on sequences and EXECUTE on functions (the audit chain's trigger takes the next id).

Default privileges give tables, sequences and functions that later migrations create (as the
same owner) SELECT and INSERT, USAGE, EXECUTE. A later migration whose table the service
updates or deletes from must GRANT that itself; a table only triggers write must REVOKE INSERT.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from alembic import op

from registry.migrations import execute_script
from registry.settings import Settings

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPDATED = ("agencies", "officers", "certifications", "stints", "findings", "convictions",
           "cases", "board_members", "appeals", "external_actions", "referrals", "webhooks",
           "webhook_deliveries", "load_runs")
DELETED = ("webhooks",)
# Written only by triggers, which run as the owner; the service reads them.
TRIGGER_WRITTEN_FUNCTIONS = ("registry_keep_version()", "match_keys_of_new_officers()",
                             "match_keys_of_changed_officers()", "match_keys_of_changed_names()")


def _role() -> str:
    return Settings().service_role  # validated: lower-case letters, digits and underscores


def upgrade() -> None:
    role = _role()
    execute_script(f"""
    DO $$
    DECLARE
      r pg_roles;
    BEGIN
      SELECT * INTO r FROM pg_roles WHERE rolname = '{role}';
      IF NOT FOUND THEN
        BEGIN
          CREATE ROLE "{role}" LOGIN;
        EXCEPTION
          WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile
          WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'role "{role}" does not exist and % may not create roles',
              current_user
              USING HINT = 'Create it first as an administrator: CREATE ROLE "{role}" LOGIN '
                           'PASSWORD ''...''; (README, "Database roles").';
        END;
      ELSIF r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb THEN
        RAISE EXCEPTION 'the service role "{role}" must not be a superuser or have '
          'BYPASSRLS, CREATEROLE or CREATEDB'
          USING HINT = 'ALTER ROLE "{role}" NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;';
      END IF;
      IF '{role}' = current_user THEN
        RAISE EXCEPTION 'the service role "{role}" is running the migrations: it would own '
          'the tables' USING HINT = 'Migrate with REGISTRY_OWNER_DATABASE_URL, as another role.';
      END IF;
      EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO "{role}"', current_database());
    END $$;

    -- Before PostgreSQL 15 every role could create objects in public.
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    GRANT USAGE ON SCHEMA public TO "{role}";

    GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}";
    DO $$
    DECLARE
      t text;
    BEGIN
      FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'
                 AND tablename <> 'alembic_version' AND tablename <> 'match_keys'
                 AND tablename NOT LIKE '%\\_history' LOOP
        EXECUTE format('GRANT INSERT ON public.%I TO "{role}"', t);
      END LOOP;
    END $$;
    GRANT UPDATE ON {", ".join(UPDATED)} TO "{role}";
    GRANT UPDATE (revoked_at) ON api_keys TO "{role}";
    GRANT DELETE ON {", ".join(DELETED)} TO "{role}";
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO "{role}";

    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO "{role}";
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO "{role}";
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO "{role}";
    """)
    for function in TRIGGER_WRITTEN_FUNCTIONS:
        # A fixed search_path: a SECURITY DEFINER function must not resolve names through a
        # schema the caller controls.
        op.execute(f"ALTER FUNCTION {function} SECURITY DEFINER "
                   "SET search_path = pg_catalog, public, pg_temp")


def downgrade() -> None:
    role = _role()
    for function in TRIGGER_WRITTEN_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SECURITY INVOKER RESET search_path")
    execute_script(f"""
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM "{role}";
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM "{role}";
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM "{role}";
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}";
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "{role}";
    REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM "{role}";
    REVOKE ALL ON SCHEMA public FROM "{role}";
    DO $$
    BEGIN
      EXECUTE format('REVOKE ALL ON DATABASE %I FROM "{role}"', current_database());
    END $$;
    """)
    # The role stays: it is cluster-wide and other databases may use it.
