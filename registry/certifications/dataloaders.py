import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.api.loaders import RequestLoader, group
from registry.certifications import repository
from registry.certifications.models import Certification, StatusEvent


class CertificationsByPerson(RequestLoader):
    many = True

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]
                    ) -> dict[uuid.UUID, list[Certification]]:
        return group(await repository.of_people(session, keys))  # type: ignore[return-value]


class StatusEventsByCertification(RequestLoader):
    many = True

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]
                    ) -> dict[uuid.UUID, list[StatusEvent]]:
        events = await repository.events_of(session, keys)
        return group((e.certification_id, e) for e in events)  # type: ignore[return-value]


class CertificationById(RequestLoader):
    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]
                    ) -> dict[uuid.UUID, Certification]:
        return {c.id: c for c in await repository.get_many(session, keys)}
