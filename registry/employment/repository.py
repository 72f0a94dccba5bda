"""SQL for employment stints."""

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.employment.models import Stint
from registry.officers.models import Officer


async def get(session: AsyncSession, stint_id: uuid.UUID, *, for_update: bool = False
              ) -> Stint | None:
    return await session.get(Stint, stint_id, with_for_update=for_update)


async def of_people(
    session: AsyncSession, person_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, Stint]]:
    """(person id, stint) for every record that belongs to each person, oldest first."""
    record = aliased(Officer)
    stmt = (
        select(record.canonical_id, Stint)
        .join(record, record.id == Stint.officer_id)
        .where(col(record.canonical_id).in_(person_ids))
        .order_by(Stint.started_on, Stint.id)
    )
    return [(p, s) for p, s in (await session.exec(stmt)).all()]
