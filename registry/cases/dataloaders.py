import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.api.loaders import RequestLoader, group
from registry.cases import repository
from registry.cases.models import BoardMember, Case, DecertificationAction
from registry.officers.dataloaders import _ByRecords


class CaseById(RequestLoader):
    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> dict[uuid.UUID, Case]:
        return {c.id: c for c in await repository.get_many(session, keys)}


class CasesByPerson(_ByRecords):
    """Cases about any of a person's records; keys are person ids."""

    async def rows(self, session: AsyncSession, record_ids: list[uuid.UUID]) -> list[Case]:
        return await repository.of_records(session, record_ids)


class ActionsByPerson(_ByRecords):
    async def rows(self, session: AsyncSession, record_ids: list[uuid.UUID]
                   ) -> list[DecertificationAction]:
        return await repository.actions_of_records(session, record_ids)


class _ByCase(RequestLoader):
    many = True
    query: Any = None

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> dict:
        rows = await type(self).query(session, keys)
        return group((r.case_id, r) for r in rows)


class StatusEventsByCase(_ByCase):
    query = staticmethod(repository.status_events_of)


class HearingsByCase(_ByCase):
    query = staticmethod(repository.hearings_of)


class VotesByCase(_ByCase):
    query = staticmethod(repository.votes_of)


class FinalOrdersByCase(_ByCase):
    query = staticmethod(repository.final_orders_of)


class AppealsByCase(_ByCase):
    query = staticmethod(repository.appeals_of)


class ActionsByCase(_ByCase):
    query = staticmethod(repository.actions_of)


class BoardMemberById(RequestLoader):
    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]
                    ) -> dict[uuid.UUID, BoardMember]:
        return {m.id: m for m in await repository.members_by_id(session, keys)}


class AllBoardMembers(RequestLoader):
    """The whole board (a few dozen rows at most), under the key ``"all"``."""

    async def fetch(self, session: AsyncSession, keys: list[str]
                    ) -> dict[str, list[BoardMember]]:
        members = await repository.members(session)
        return {k: members for k in keys}
