import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.api.loaders import RequestLoader, group
from registry.employment import repository
from registry.employment.models import Stint


class StintsByPerson(RequestLoader):
    many = True

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]
                    ) -> dict[uuid.UUID, list[Stint]]:
        return group(await repository.of_people(session, keys))  # type: ignore[return-value]
