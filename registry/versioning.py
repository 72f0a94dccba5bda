"""Reading versioned records. Every versioned table ``T`` has ``T_history`` with the same
columns plus ``superseded_at`` (filled by a trigger on UPDATE), so the row that was current at
time ``at`` is either the live row (if recorded by then) or the history row whose validity
interval contains ``at``."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.database import run_sql
from registry.errors import Conflict

Model = TypeVar("Model", bound=SQLModel)


def _as_of_sql(table: Table, column: str) -> str:
    cols = ", ".join(c.name for c in table.columns)
    where = f"{column} = ANY(:values) AND recorded_at <= :at"
    return (
        f"SELECT {cols} FROM {table.name} WHERE {where} "
        f"UNION ALL SELECT {cols} FROM {table.name}_history "
        f"WHERE {where} AND superseded_at > :at"
    )


async def as_of(
    session: AsyncSession, model: type[Model], at: datetime, column: str, values: list[Any]
) -> list[Model]:
    """The versions of ``model`` rows whose ``column`` is in ``values``, as current at ``at``."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    rows = await run_sql(session, _as_of_sql(table, column), {"at": at, "values": values})
    return [model.model_validate(dict(r._mapping)) for r in rows]


async def versions(session: AsyncSession, model: type[Model], id: Any) -> list[dict[str, Any]]:
    """Every version of one record, oldest first, each with the time it was superseded."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    cols = ", ".join(c.name for c in table.columns)
    rows = await run_sql(
        session,
        f"SELECT {cols}, superseded_at FROM {table.name}_history WHERE id = :id "
        f"UNION ALL SELECT {cols}, NULL FROM {table.name} WHERE id = :id ORDER BY version",
        {"id": id},
    )
    return [dict(r._mapping) for r in rows]


def check_version(current: int, expected: int | None, what: str, id: Any) -> None:
    """Optimistic concurrency: a client that read version N may only write over version N."""
    if expected is not None and expected != current:
        raise Conflict(
            f"The {what} {id} changed since you read it (you had version {expected}, it is now "
            f"version {current}). Reload it and apply your change again.",
            current_version=current,
        )


async def save(
    session: AsyncSession, record: SQLModel, constraint_errors: dict[str, Exception]
) -> None:
    """Write ``record`` and read back what the database set (version, recorded_at).

    The write runs in a savepoint so that a constraint violation, turned into the client error
    given for that constraint's name, leaves the rest of the transaction usable.
    """
    session.add(record)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        constraint = getattr(exc.orig.__cause__, "constraint_name", None)  # asyncpg's error
        if constraint in constraint_errors:
            raise constraint_errors[constraint] from exc
        raise
    await session.refresh(record)


@dataclass
class AsOf:
    """A record as the registry held it at ``at``; its relations are read as of then too."""

    row: Any
    at: datetime

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


def recorded_by(root: Any) -> Callable[[list[Any]], list[Any]] | None:
    """For a record read as of a time (``AsOf``), what keeps the related rows recorded by
    then; None for a current record."""
    if not isinstance(root, AsOf):
        return None
    at = root.at
    return lambda rows: [r for r in rows if r.recorded_at <= at]
