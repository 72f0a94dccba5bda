"""SQL for employment stints."""

import uuid
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.employment.models import Stint
from registry.officers import repository as officers


async def get(session: AsyncSession, stint_id: uuid.UUID, *, for_update: bool = False
              ) -> Stint | None:
    return await session.get(Stint, stint_id, with_for_update=for_update)


async def of_people(
    session: AsyncSession, person_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, Stint]]:
    """(person id, stint) for every record that belongs to each person, oldest first."""
    return await officers.attached_to_people(session, Stint, person_ids, Stint.started_on, Stint.id)
