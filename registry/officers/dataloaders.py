import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.api.loaders import RequestLoader, group
from registry.officers import repository
from registry.officers.models import IdentityEvent, Officer, OfficerName, SourceRecord


class PersonById(RequestLoader):
    """The person behind an officer record id (the survivor when the record was merged)."""

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> dict[uuid.UUID, Officer]:
        people = {p.id: p for p in await repository.get_people(session, keys)}
        records = await repository.records_of_people(session, list(people))
        return {r: people[p] for p, rs in records.items() for r in rs if r in set(keys)}


class RecordIdsByPerson(RequestLoader):
    """Every officer record id that belongs to a person (itself and what was merged in)."""

    many = True

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]
                    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        return await repository.records_of_people(session, keys)


async def _owners(context: Any, people: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """record id -> person id, through the request's shared RecordIdsByPerson loader."""
    records = await context.loader(RecordIdsByPerson).load_many(people)
    return {r: p for p, rs in zip(people, records, strict=True) for r in rs}


class _ByRecords(RequestLoader):
    """Rows attached to any of a person's records; keys are person ids."""

    many = True

    async def gather(self, keys: list[uuid.UUID]) -> dict:
        owner = await _owners(self.context, keys)
        async with self.context.read() as session:
            rows = await self.rows(session, list(owner))
        return group((owner[self.record_of(row)], row) for row in rows)

    async def rows(self, session: AsyncSession, record_ids: list[uuid.UUID]) -> list:
        raise NotImplementedError

    @staticmethod
    def record_of(row: object) -> uuid.UUID:
        return row.officer_id  # type: ignore[attr-defined]


class NamesByPerson(_ByRecords):
    async def rows(self, session: AsyncSession, record_ids: list[uuid.UUID]
                   ) -> list[OfficerName]:
        return await repository.names_of(session, record_ids)


class SourceRecordsByPerson(_ByRecords):
    async def rows(self, session: AsyncSession, record_ids: list[uuid.UUID]
                   ) -> list[SourceRecord]:
        return await repository.source_records_of(session, record_ids)


class IdentityEventsByPerson(RequestLoader):
    many = True

    async def gather(self, keys: list[uuid.UUID]) -> dict:
        owner = await _owners(self.context, keys)
        async with self.context.read() as session:
            events: list[IdentityEvent] = await repository.identity_events_of(session,
                                                                              list(owner))
        out: dict[uuid.UUID, list[IdentityEvent]] = {}
        for e in events:
            for person in {owner.get(e.survivor_id), owner.get(e.merged_id)} - {None}:
                out.setdefault(person, []).append(e)  # type: ignore[arg-type]
        return out
