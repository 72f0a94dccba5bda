import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.api.loaders import RequestLoader
from registry.background_checks import repository


class FlagsByPerson(RequestLoader):
    """The flags of many people in one query."""

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        return await repository.flags_of_people(session, keys)
