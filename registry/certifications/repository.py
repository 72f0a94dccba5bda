"""SQL for certifications and their status events."""

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.certifications.models import Certification, StatusEvent
from registry.database import any_of
from registry.officers import repository as officers


async def get(session: AsyncSession, certification_id: uuid.UUID, *, for_update: bool = False
              ) -> Certification | None:
    return await session.get(Certification, certification_id, with_for_update=for_update)


async def of_people(
    session: AsyncSession, person_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, Certification]]:
    """(person id, certification) for every record that belongs to each person."""
    return await officers.attached_to_people(session, Certification, person_ids,
                                             Certification.issued_on, Certification.id)


async def events_of(
    session: AsyncSession, certification_ids: Sequence[uuid.UUID]
) -> list[StatusEvent]:
    stmt = (
        select(StatusEvent)
        .where(any_of(col(StatusEvent.certification_id), certification_ids))
        .order_by(StatusEvent.effective_on, StatusEvent.recorded_at, StatusEvent.id)
    )
    return list((await session.exec(stmt)).all())


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Certification]:
    stmt = select(Certification).where(any_of(col(Certification.id), ids))
    return list((await session.exec(stmt)).all())
