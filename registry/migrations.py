"""Alembic, driven from code so `registry db ...` and the tests share one configuration."""

from pathlib import Path

from alembic import command
from alembic.config import Config

DB_DIR = Path(__file__).resolve().parent.parent / "db"


def alembic_config(database_url: str) -> Config:
    config = Config(str(DB_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(DB_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> None:
    command.current(alembic_config(database_url), verbose=False)


def execute_script(sql: str) -> None:
    """Run several SQL statements at once inside a migration.

    SQLAlchemy's asyncpg adapter prepares each statement, and a prepared statement holds one
    command; asyncpg's own ``execute`` without arguments sends a multi-statement script.
    """
    from alembic import op
    from sqlalchemy.util import await_only

    driver = op.get_bind().connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_only(driver.execute(sql))


def keep_versions(table: str) -> None:
    """Make ``table`` versioned: every prior row goes to ``<table>_history``; no DELETE."""
    execute_script(f"""
    CREATE TABLE {table}_history (LIKE {table} INCLUDING DEFAULTS);
    ALTER TABLE {table}_history ADD COLUMN superseded_at timestamptz NOT NULL;
    CREATE INDEX {table}_history_id ON {table}_history (id, recorded_at);
    CREATE TRIGGER {table}_keep_version BEFORE UPDATE ON {table}
      FOR EACH ROW EXECUTE FUNCTION registry_keep_version();
    CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
      FOR EACH ROW EXECUTE FUNCTION registry_refuse_change();
    CREATE TRIGGER {table}_history_append_only BEFORE UPDATE OR DELETE ON {table}_history
      FOR EACH ROW EXECUTE FUNCTION registry_refuse_change();
    """)


def stamp(table: str) -> None:
    """``recorded_at`` comes from the database clock, never from a client."""
    execute_script(f"""
    CREATE TRIGGER {table}_stamp BEFORE INSERT ON {table}
      FOR EACH ROW EXECUTE FUNCTION registry_stamp();
    """)


def append_only(table: str) -> None:
    """Rows of ``table`` are facts once written: UPDATE, DELETE and TRUNCATE raise."""
    execute_script(f"""
    CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
      FOR EACH ROW EXECUTE FUNCTION registry_refuse_change();
    CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
      FOR EACH STATEMENT EXECUTE FUNCTION registry_refuse_change();
    """)


def sql_in(values: tuple[str, ...]) -> str:
    """A SQL list literal for a CHECK (values are this project's own enum strings)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"
