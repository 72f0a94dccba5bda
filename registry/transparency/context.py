"""The public side's database access and per-request context.

The public pages and ``/public/graphql`` read through their own small asyncpg pool (one per
worker process, opened on first use) rather than SQLAlchemy: no ORM rows, no session. A
request holds at most one connection, taken on its first query and returned when the request
ends; loaders that run at the same time take turns on it.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.api.context import Context
from registry.api.http import is_database_down
from registry.database import asyncpg_url
from registry.errors import DatabaseUnavailable
from registry.referrals.grounds import load_grounds
from registry.settings import Settings
from registry.transparency import repository


class PublicDatabase:
    """The pool, created lazily inside the serving event loop (uvicorn workers each get
    their own), and a short-lived cache of the registry's as-of time."""

    AS_OF_SECONDS = 30.0
    CACHE_ENTRIES = 512

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = asyncpg_url(url)
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._as_of: tuple[float, datetime | None] | None = None
        self._cache: dict[Hashable, tuple[float, Any]] = {}

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    s = self.settings
                    # A public statement runs at most the shorter of the two limits; a
                    # server that stops answering is found half a second later by the
                    # client-side timeout (there is no ping per checkout).
                    limit_ms = min(s.db_statement_timeout_ms,
                                   int(s.db_unavailable_timeout_seconds * 1000))
                    self._pool = await asyncpg.create_pool(
                        self.url, min_size=1, max_size=s.public_db_pool_size,
                        timeout=s.db_unavailable_timeout_seconds,
                        command_timeout=limit_ms / 1000 + 0.5,
                        server_settings={
                            "statement_timeout": str(limit_ms),
                            "application_name": "registry-public", "jit": "off",
                            # Reads only: a bug cannot write through the public side.
                            "default_transaction_read_only": "on"})
        return self._pool

    async def acquire(self) -> asyncpg.Connection:
        """A pooled connection within ``db_unavailable_timeout_seconds``, else
        ``DatabaseUnavailable``. No ping per checkout (its round trip was ~20% of a search's
        database CPU): the pool replaces connections a restarted server closed, and a server
        that hangs is found by the first statement's client-side timeout (``pool``)."""
        try:
            async with asyncio.timeout(self.settings.db_unavailable_timeout_seconds):
                return await (await self.pool()).acquire()
        except TimeoutError:
            raise DatabaseUnavailable() from None

    async def release(self, conn: asyncpg.Connection, *, broken: bool = False) -> None:
        """``broken``: the connection failed (timeout, lost server); its state is unknown, so
        it is closed rather than reset, which would wait on a server that does not answer."""
        if broken:
            conn.terminate()
        await (await self.pool()).release(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await self.acquire()
        broken = False
        try:
            yield conn
        except BaseException as err:
            broken = is_database_down(err)
            raise
        finally:
            await self.release(conn, broken=broken)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def cached(self, key: Hashable, make: Callable[[], Awaitable[Any]]) -> Any:
        """The aggregates (statistics, the list's years) are whole-state scans that change
        only with a board action: kept per worker for ``public_cache_seconds``, the time
        shared caches may keep the pages that show them anyway."""
        ttl = self.settings.public_cache_seconds
        now = asyncio.get_running_loop().time()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        value = await make()
        if ttl:
            if len(self._cache) >= self.CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = (now, value)
        return value

    async def as_of(self, conn: asyncpg.Connection) -> datetime | None:
        now = asyncio.get_running_loop().time()
        if self._as_of is None or now - self._as_of[0] > self.AS_OF_SECONDS:
            self._as_of = (now, await repository.data_as_of(conn))
        return self._as_of[1]


@dataclass
class PublicContext(Context):
    """What the public resolvers get: no actor, the public pool, today's date."""

    database: PublicDatabase | None = None
    today: date = field(default_factory=date.today)
    _conn: Any = None
    _db_turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    @asynccontextmanager
    async def db(self) -> AsyncIterator[asyncpg.Connection]:
        """The request's connection (taken on first use); concurrent callers take turns."""
        assert self.database is not None
        async with self._db_turn:
            if self._conn is None:
                self._conn = await self.database.acquire()
            try:
                yield self._conn
            except BaseException as err:
                if is_database_down(err):
                    conn, self._conn = self._conn, None
                    await self.database.release(conn, broken=True)
                raise

    def grounds(self) -> dict[str, str]:
        """Ground code -> category, from the grounds file in force."""
        return {g.code: g.category for g in load_grounds(self.settings).grounds}

    async def close(self) -> None:
        await super().close()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            assert self.database is not None
            await self.database.release(conn)


def public_context_factory(engine: AsyncEngine, settings: Settings, database: PublicDatabase
                           ) -> Any:
    async def make(_request: Any, request_id: str) -> PublicContext:
        return PublicContext(engine, settings, None, request_id, database=database)

    return make
