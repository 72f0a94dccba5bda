import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.agencies import repository
from registry.agencies.models import Agency
from registry.api.loaders import RequestLoader


class AgencyById(RequestLoader):
    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> dict[uuid.UUID, Agency]:
        return {a.id: a for a in await repository.get_many(session, keys)}
