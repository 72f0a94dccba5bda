"""Per-request DataLoaders: each relation is fetched once per batch of parents, never one
query per row. A loader class maps keys to values with one SQL statement."""

import asyncio
import inspect
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from graphene.utils.dataloader import DataLoader
from sqlmodel.ext.asyncio.session import AsyncSession


class RequestLoader(DataLoader):
    """Subclasses implement ``fetch(session, keys) -> {key: value}``; keys it leaves out get
    None (one-to-one loaders) or [] (one-to-many, ``many = True``).

    A loader that needs another loader's answers first overrides ``gather(keys)`` instead,
    awaiting the other loader before it takes its turn on the request's session."""

    many = False

    def __init__(self, context: Any) -> None:
        super().__init__()
        self.context = context

    async def batch_load_fn(self, keys: list[Hashable]) -> list[Any]:
        found = await self.gather(keys)
        return [found.get(k, [] if self.many else None) for k in keys]

    async def gather(self, keys: list[Any]) -> dict[Any, Any]:
        async with self.context.read() as session:
            return await self.fetch(session, keys)

    async def fetch(self, session: AsyncSession, keys: list[Any]) -> dict[Any, Any]:
        raise NotImplementedError


def loaded(loader: DataLoader, key: Hashable,
           then: Callable[[Any], Any] | None = None) -> Any:
    """The value ``loader`` has for ``key``, passed through ``then``: at once when it is
    already loaded (a background check's report primes every relation it shows), else an
    awaitable. A resolver returning a plain value lets graphql-core complete the field on the
    spot; an awaitable costs a task per list item and an event-loop turn."""
    return settled(loader.load(key), then)


def settled(value: Any, then: Callable[[Any], Any] | None = None) -> Any:
    """``then(value)`` at once when ``value`` is not awaitable or is a finished future, else
    an awaitable of it."""
    if isinstance(value, asyncio.Future) and value.done():
        value = value.result()
    elif inspect.isawaitable(value):
        if then is None:
            return value

        async def later() -> Any:
            return then(await value)

        return later()
    return then(value) if then is not None else value


def group(pairs: Iterable[tuple[Hashable, Any]]) -> dict[Hashable, list[Any]]:
    out: dict[Hashable, list[Any]] = defaultdict(list)
    for key, value in pairs:
        out[key].append(value)
    return out
