"""SQL for officers (people), their names, source records and merges."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import exists, tuple_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.certifications.models import Certification
from registry.database import any_of, run_sql
from registry.employment.models import Stint
from registry.officers.models import IdentityEvent, Officer, OfficerName, SourceRecord

Row = TypeVar("Row")


async def get(session: AsyncSession, officer_id: uuid.UUID, *, for_update: bool = False
              ) -> Officer | None:
    return await session.get(Officer, officer_id, with_for_update=for_update)


async def get_people(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Officer]:
    """The people behind ``ids``: a merged record resolves to its survivor."""
    stmt = select(Officer).where(
        col(Officer.id).in_(
            select(Officer.canonical_id).where(any_of(col(Officer.id), ids)).scalar_subquery()
        )
    )
    return list((await session.exec(stmt)).all())


async def records_of_people(
    session: AsyncSession, person_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Every officer record that now belongs to each person (itself and what merged into it)."""
    rows = await session.exec(
        select(Officer.canonical_id, Officer.id)
        .where(any_of(col(Officer.canonical_id), person_ids))
        .order_by(Officer.id)
    )
    out: dict[uuid.UUID, list[uuid.UUID]] = {p: [] for p in person_ids}
    for person, record in rows.all():
        out[person].append(record)
    return out


async def get_by_post_id(session: AsyncSession, post_id: str) -> Officer | None:
    return (await session.exec(select(Officer).where(Officer.post_id == post_id))).first()


@dataclass
class OfficerFilter:
    name_key: str | None = None
    agency_id: uuid.UUID | None = None
    status: str | None = None


async def page(
    session: AsyncSession,
    *,
    limit: int,
    after: tuple[str, uuid.UUID] | None,
    where: OfficerFilter,
) -> list[Officer]:
    """People in roster order (last, first, middle) after a keyset position.

    A name filter matches names that contain the words typed (trigram index), and prior names.
    Agency and status filters match any record merged into the person.
    """
    stmt = select(Officer).where(Officer.canonical_id == Officer.id)
    if where.name_key:
        pattern = f"%{where.name_key}%"
        prior = select(OfficerName.officer_id).join(
            Officer, col(Officer.id) == OfficerName.officer_id
        ).where(col(OfficerName.name_key).like(pattern))
        stmt = stmt.where(
            col(Officer.name_key).like(pattern)
            | col(Officer.id).in_(
                select(Officer.canonical_id).where(col(Officer.id).in_(prior))
            )
        )
    if where.agency_id or where.status:
        record = aliased(Officer)
        # Correlated to the outer person explicitly: nested inside EXISTS, SQLAlchemy would
        # otherwise add its own FROM officers and match every person.
        records = select(record.id).where(record.canonical_id == Officer.id).correlate(Officer)
        if where.agency_id:
            stmt = stmt.where(exists().where(
                Stint.agency_id == where.agency_id, col(Stint.officer_id).in_(records)
            ))
        if where.status:
            stmt = stmt.where(exists().where(
                Certification.status == where.status, col(Certification.officer_id).in_(records)
            ))
    if after:
        stmt = stmt.where(tuple_(Officer.sort_key, Officer.id) > tuple_(*after))
    stmt = stmt.order_by(Officer.sort_key, Officer.id).limit(limit)
    return list((await session.exec(stmt)).all())


async def names_of(
    session: AsyncSession, record_ids: Sequence[uuid.UUID]
) -> list[OfficerName]:
    stmt = select(OfficerName).where(any_of(col(OfficerName.officer_id), record_ids)).order_by(
        OfficerName.recorded_at
    )
    return list((await session.exec(stmt)).all())


async def source_records_of(
    session: AsyncSession, record_ids: Sequence[uuid.UUID]
) -> list[SourceRecord]:
    stmt = select(SourceRecord).where(any_of(col(SourceRecord.officer_id), record_ids)).order_by(
        SourceRecord.recorded_at
    )
    return list((await session.exec(stmt)).all())


async def identity_events_of(
    session: AsyncSession, record_ids: Sequence[uuid.UUID]
) -> list[IdentityEvent]:
    stmt = (
        select(IdentityEvent)
        .where(any_of(col(IdentityEvent.survivor_id), record_ids)
               | any_of(col(IdentityEvent.merged_id), record_ids))
        .order_by(IdentityEvent.recorded_at)
    )
    return list((await session.exec(stmt)).all())


async def person_of(session: AsyncSession, record_id: uuid.UUID) -> uuid.UUID | None:
    """The person an officer record belongs to (itself, or its survivor after a merge)."""
    stmt = select(Officer.canonical_id).where(Officer.id == record_id)
    return (await session.exec(stmt)).first()


async def attached_to_people(
    session: AsyncSession, model: type[Row], person_ids: Sequence[uuid.UUID], *order_by: Any
) -> list[tuple[uuid.UUID, Row]]:
    """(person id, row) for every ``model`` row whose ``officer_id`` is one of the people's
    records (a person is a record and everything merged into it)."""
    record = aliased(Officer)
    stmt = (
        select(record.canonical_id, model)
        .join(record, record.id == model.officer_id)  # type: ignore[attr-defined]
        .where(any_of(col(record.canonical_id), person_ids))
        .order_by(*order_by)
    )
    return [(p, row) for p, row in (await session.exec(stmt)).all()]


async def repoint_people(session: AsyncSession, subtree_root: uuid.UUID, person: uuid.UUID,
                         actor: str) -> None:
    """Make every record merged (directly or not) into ``subtree_root`` belong to ``person``."""
    await run_sql(
        session,
        """
        WITH RECURSIVE tree(id) AS (
          SELECT CAST(:root AS uuid)
          UNION ALL SELECT o.id FROM officers o JOIN tree t ON o.merged_into_id = t.id
        )
        UPDATE officers SET canonical_id = :person, recorded_by = :actor
        WHERE id IN (SELECT id FROM tree) AND canonical_id <> :person
        """,
        {"root": subtree_root, "person": person, "actor": actor},
    )


async def set_merged_into(session: AsyncSession, record: uuid.UUID, into: uuid.UUID | None,
                          actor: str, reason: str) -> None:
    await session.exec(
        update(Officer).where(col(Officer.id) == record).values(
            merged_into_id=into, recorded_by=actor, change_reason=reason
        )
    )


async def get_by_public_id(session: AsyncSession, public_id: str) -> Officer | None:
    """The person (never a merged-away record) with this public id."""
    stmt = select(Officer).where(Officer.public_id == public_id,
                                 Officer.canonical_id == Officer.id)
    return (await session.exec(stmt)).first()


async def get_by_source(session: AsyncSession, source: str, key: str) -> SourceRecord | None:
    stmt = select(SourceRecord).where(SourceRecord.source == source,
                                      SourceRecord.source_key == key)
    return (await session.exec(stmt)).first()
