import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.api.loaders import RequestLoader
from registry.employment.models import Stint
from registry.referrals import repository


class StintById(RequestLoader):
    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> dict[uuid.UUID, Stint]:
        return {s.id: s for s in await repository.stints_by_ids(session, keys)}
