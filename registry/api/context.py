"""What every resolver gets: who is asking, how to reach the database, per-request loaders."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLResolveInfo
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.actors import Actor
from registry.database import session_scope
from registry.settings import Settings


@dataclass
class Context:
    engine: AsyncEngine
    settings: Settings
    actor: Actor | None
    request_id: str
    _loaders: dict[type, Any] = field(default_factory=dict)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read session. Each resolver and loader batch opens its own, so batches
        that run concurrently use separate pooled connections."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    def write(self) -> Any:
        """One transaction for one mutation: committed when the mutation returns."""
        return session_scope(self.engine)

    def loader(self, cls: type) -> Any:
        """The request's instance of a DataLoader class (created on first use)."""
        if cls not in self._loaders:
            self._loaders[cls] = cls(self)
        return self._loaders[cls]


def ctx(info: GraphQLResolveInfo) -> Context:
    return info.context


def actor(info: GraphQLResolveInfo) -> Actor:
    """The authenticated actor; the private schema is only served to authenticated keys."""
    a = info.context.actor
    assert a is not None, "private resolvers run only for authenticated requests"
    return a
