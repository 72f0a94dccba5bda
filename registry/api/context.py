"""What every resolver gets: who is asking, how to reach the database, per-request loaders."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.actors import Actor
from registry.database import checkout
from registry.settings import Settings


@dataclass
class Context:
    engine: AsyncEngine
    settings: Settings
    actor: Actor | None
    request_id: str
    _loaders: dict[type, Any] = field(default_factory=dict)
    _session: AsyncSession | None = None
    _turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """The request's read session, opened on first use. Loader batches that run at the
        same time take turns on its one connection: a checkout, ping, BEGIN and ROLLBACK
        per batch cost more than the batch's query (bench/bench_api.py). Do not await a
        loader inside this block: the loader waits for the same turn."""
        async with self._turn:
            if self._session is None:
                session = AsyncSession(self.engine, expire_on_commit=False)
                await checkout(session, self.settings)  # bounded; closes it on failure
                self._session = session
            yield self._session

    async def close(self) -> None:
        """End the request: return the read session's connection to the pool."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction for one mutation, on the request's own connection (the one that
        authenticated the key): committed when the block ends, rolled back on any error.
        Like ``read``, it holds the request's turn: no loader may be awaited inside it."""
        async with self.read() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    def loader(self, cls: type) -> Any:
        """The request's instance of a DataLoader class (created on first use)."""
        if cls not in self._loaders:
            self._loaders[cls] = cls(self)
        return self._loaders[cls]


def ctx(info: GraphQLResolveInfo) -> Context:
    return info.context


def fields_asked(info: GraphQLResolveInfo, *path: str) -> set[str]:
    """The fields the query asks for at ``path`` below the field being resolved (each name
    the child of the one before; aliases, fragments and inline fragments followed;
    directives ignored: a field under @skip counts as asked)."""
    names: set[str] = set()

    def walk(selection_set: SelectionSetNode | None, path: tuple[str, ...]) -> None:
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                if not path:
                    names.add(sel.name.value)
                elif sel.name.value == path[0]:
                    walk(sel.selection_set, path[1:])
            elif isinstance(sel, InlineFragmentNode):
                walk(sel.selection_set, path)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value in info.fragments:
                walk(info.fragments[sel.name.value].selection_set, path)

    for node in info.field_nodes:
        walk(node.selection_set, path)
    return names


def actor(info: GraphQLResolveInfo) -> Actor:
    """The authenticated actor; the private schema is only served to authenticated keys."""
    a = info.context.actor
    assert a is not None, "private resolvers run only for authenticated requests"
    return a
