"""SQL for findings and convictions."""

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.database import any_of, run_sql
from registry.findings.models import Conviction, Finding


async def get(session: AsyncSession, finding_id: uuid.UUID, *, for_update: bool = False
              ) -> Finding | None:
    return await session.get(Finding, finding_id, with_for_update=for_update)


async def by_idempotency_key(session: AsyncSession, agency_id: uuid.UUID, key: str
                             ) -> Finding | None:
    stmt = select(Finding).where(Finding.agency_id == agency_id, Finding.idempotency_key == key)
    return (await session.exec(stmt)).first()


async def conviction_by_idempotency_key(session: AsyncSession, agency_id: uuid.UUID | None,
                                        key: str) -> Conviction | None:
    stmt = select(Conviction).where(Conviction.idempotency_key == key)
    stmt = stmt.where(col(Conviction.reported_by_agency_id).is_(None) if agency_id is None
                      else Conviction.reported_by_agency_id == agency_id)
    return (await session.exec(stmt)).first()


async def employed_ever(session: AsyncSession, person_id: uuid.UUID, agency_id: uuid.UUID
                        ) -> bool:
    """Whether any record of the person has (or had) a stint at the agency."""
    rows = await run_sql(session, """
        SELECT EXISTS (SELECT 1 FROM stints s JOIN officers o ON o.id = s.officer_id
                       WHERE o.canonical_id = :person AND s.agency_id = :agency)""",
                         {"person": person_id, "agency": agency_id})
    return bool(rows.scalar_one())


async def separated_by(session: AsyncSession, person_id: uuid.UUID, agency_id: uuid.UUID,
                       on: object) -> bool:
    """Whether a stint of the person at the agency had ended by the date ``on``."""
    rows = await run_sql(session, """
        SELECT EXISTS (SELECT 1 FROM stints s JOIN officers o ON o.id = s.officer_id
                       WHERE o.canonical_id = :person AND s.agency_id = :agency
                         AND s.ended_on IS NOT NULL AND s.ended_on <= :on)""",
                         {"person": person_id, "agency": agency_id, "on": on})
    return bool(rows.scalar_one())


async def of_records(session: AsyncSession, record_ids: Sequence[uuid.UUID]) -> list[Finding]:
    stmt = (select(Finding).where(any_of(col(Finding.officer_id), record_ids))
            .order_by(Finding.incident_on, Finding.id))
    return list((await session.exec(stmt)).all())


async def convictions_of_records(session: AsyncSession, record_ids: Sequence[uuid.UUID]
                                 ) -> list[Conviction]:
    stmt = (select(Conviction).where(any_of(col(Conviction.officer_id), record_ids))
            .order_by(Conviction.convicted_on, Conviction.id))
    return list((await session.exec(stmt)).all())



