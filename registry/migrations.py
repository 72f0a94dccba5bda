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
