import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.api.loaders import RequestLoader
from registry.findings import repository
from registry.findings.models import Conviction, Finding
from registry.officers.dataloaders import _ByRecords
from registry.referrals import repository as referrals


class FindingsByPerson(_ByRecords):
    """A person's findings (every merged record), by incident date."""

    async def rows(self, session: AsyncSession, record_ids: list[uuid.UUID]) -> list[Finding]:
        return await repository.of_records(session, record_ids)


class ConvictionsByPerson(_ByRecords):
    async def rows(self, session: AsyncSession, record_ids: list[uuid.UUID]
                   ) -> list[Conviction]:
        return await repository.convictions_of_records(session, record_ids)


class FindingById(RequestLoader):
    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]
                    ) -> dict[uuid.UUID, Finding]:
        return {f.id: f for f in await referrals.findings_by_ids(session, keys)}


class ConvictionById(RequestLoader):
    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]
                    ) -> dict[uuid.UUID, Conviction]:
        return {c.id: c for c in await referrals.convictions_by_ids(session, keys)}
