"""Every write appends an audit event in the same transaction as the write itself."""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.actors import Actor
from registry.database import run_sql


def snapshot(value: SQLModel | dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe copy of a record for ``before``/``after``."""
    if value is None:
        return None
    data = value.model_dump() if isinstance(value, SQLModel) else dict(value)
    return {k: _json(v) for k, v in data.items()}


def _json(v: Any) -> Any:
    if isinstance(v, date | datetime):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, list | tuple):
        return [_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return str(v)  # e.g. a PartialDate prints as YYYY[-MM[-DD]]


# One event's INSERT, its values the ``audit_*`` parameters of ``event``: a statement that
# writes may also carry it (as a CTE) and so record itself without a round trip of its own.
EVENT_INSERT = """
INSERT INTO audit_events (actor_key_id, actor, role, agency_id, operation, entity_type,
  entity_id, before, after, request_id)
VALUES (:audit_key_id, :audit_actor, :audit_role, :audit_agency_id, :audit_operation,
  :audit_entity_type, :audit_entity_id, CAST(:audit_before AS jsonb),
  CAST(:audit_after AS jsonb), :audit_request_id)"""


def event(*, actor: Actor, operation: str, entity_type: str, entity_id: Any = None,
          before: SQLModel | dict[str, Any] | None = None,
          after: SQLModel | dict[str, Any] | None = None) -> dict[str, Any]:
    """The parameters of EVENT_INSERT for one event."""
    return {"audit_key_id": actor.key_id, "audit_actor": actor.name,
            "audit_role": actor.role.value, "audit_agency_id": actor.agency_id,
            "audit_operation": operation, "audit_entity_type": entity_type,
            "audit_entity_id": None if entity_id is None else str(entity_id),
            "audit_before": _document(before), "audit_after": _document(after),
            "audit_request_id": actor.request_id}


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    operation: str,
    entity_type: str,
    entity_id: Any = None,
    before: SQLModel | dict[str, Any] | None = None,
    after: SQLModel | dict[str, Any] | None = None,
) -> None:
    if session.new or session.dirty or session.deleted:
        await session.flush()  # the write this event records goes first
    await run_sql(session, EVENT_INSERT, event(
        actor=actor, operation=operation, entity_type=entity_type, entity_id=entity_id,
        before=before, after=after))


def _document(value: SQLModel | dict[str, Any] | None) -> str:
    """The JSON of a snapshot; an absent one is JSON null, as the ORM wrote it before."""
    return json.dumps(snapshot(value))


@dataclass
class ChainBreak:
    event_id: int
    problem: str


@dataclass
class ChainReport:
    events: int
    head_hash: str | None
    breaks: list[ChainBreak]


async def verify_chain(engine: AsyncEngine, batch: int = 5000) -> AsyncIterator[ChainReport]:
    """Walk the whole chain in id order, recomputing each hash in the database.

    Yields a running report after every ``batch`` events (for progress) and a last one.
    """
    breaks: list[ChainBreak] = []
    count = 0
    head: bytes | None = None
    last_id = 0
    async with engine.connect() as conn:
        while True:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, prev_hash, hash, audit_event_hash(a) AS expected "
                        "FROM audit_events a WHERE id > :after ORDER BY id LIMIT :n"
                    ),
                    {"after": last_id, "n": batch},
                )
            ).all()
            for row in rows:
                if row.prev_hash != (head or b""):
                    breaks.append(
                        ChainBreak(row.id, "its prev_hash does not match the hash of the "
                                   "event before it (an event was removed or rewritten)")
                    )
                if row.hash != row.expected:
                    breaks.append(
                        ChainBreak(row.id, "its content does not match its hash "
                                   "(the event was altered after it was written)")
                    )
                head = row.hash
                last_id = row.id
                count += 1
            if len(rows) < batch:
                break
            yield ChainReport(count, head.hex() if head else None, breaks)
    yield ChainReport(count, head.hex() if head else None, breaks)
