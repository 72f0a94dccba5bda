"""SQL for cases, hearings, votes, final orders, appeals, actions and board members."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.cases.models import (
    Appeal,
    BoardMember,
    Case,
    CaseStatusEvent,
    DecertificationAction,
    FinalOrder,
    Hearing,
    Vote,
)
from registry.database import any_of, run_sql
from registry.officers.models import Officer


async def next_number(session: AsyncSession, year: int) -> str:
    """A human case number: the year and the next value of ``case_number_seq``."""
    n = (await run_sql(session, "SELECT nextval('case_number_seq')")).scalar_one()
    return f"{year}-{n:04d}"


async def get(session: AsyncSession, case_id: uuid.UUID, *, for_update: bool = False
              ) -> Case | None:
    return await session.get(Case, case_id, with_for_update=for_update)


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Case]:
    return list((await session.exec(select(Case).where(any_of(col(Case.id), ids)))).all())


@dataclass
class CaseFilter:
    status: str | None = None
    person_id: uuid.UUID | None = None


async def page(session: AsyncSession, *, limit: int, after: tuple[datetime, uuid.UUID] | None,
               where: CaseFilter) -> list[Case]:
    """Cases in the order they were opened, after a keyset position."""
    stmt = select(Case)
    if where.status:
        stmt = stmt.where(Case.status == where.status)
    if where.person_id:
        records = select(Officer.id).where(Officer.canonical_id == where.person_id)
        stmt = stmt.where(col(Case.officer_id).in_(records))
    if after:
        stmt = stmt.where(tuple_(Case.opened_at, Case.id) > tuple_(*after))
    stmt = stmt.order_by(Case.opened_at, Case.id).limit(limit)  # type: ignore[arg-type]
    return list((await session.exec(stmt)).all())


async def of_records(session: AsyncSession, record_ids: Sequence[uuid.UUID]) -> list[Case]:
    stmt = (select(Case).where(any_of(col(Case.officer_id), record_ids))
            .order_by(Case.opened_at, Case.id))  # type: ignore[arg-type]
    return list((await session.exec(stmt)).all())


async def actions_of_records(session: AsyncSession, record_ids: Sequence[uuid.UUID]
                             ) -> list[DecertificationAction]:
    stmt = (select(DecertificationAction)
            .where(any_of(col(DecertificationAction.officer_id), record_ids))
            .order_by(DecertificationAction.recorded_at, DecertificationAction.id))  # type: ignore[arg-type]
    return list((await session.exec(stmt)).all())


async def _of_cases(session: AsyncSession, model: type, case_ids: Sequence[uuid.UUID],
                    *order: object) -> list:
    stmt = select(model).where(any_of(col(model.case_id), case_ids)).order_by(*order)  # type: ignore[attr-defined]
    return list((await session.exec(stmt)).all())


async def status_events_of(session: AsyncSession, case_ids: Sequence[uuid.UUID]
                           ) -> list[CaseStatusEvent]:
    return await _of_cases(session, CaseStatusEvent, case_ids, CaseStatusEvent.recorded_at,
                           CaseStatusEvent.id)


async def hearings_of(session: AsyncSession, case_ids: Sequence[uuid.UUID]) -> list[Hearing]:
    return await _of_cases(session, Hearing, case_ids, Hearing.scheduled_for, Hearing.id)


async def votes_of(session: AsyncSession, case_ids: Sequence[uuid.UUID]) -> list[Vote]:
    return await _of_cases(session, Vote, case_ids, Vote.cast_on, Vote.recorded_at, Vote.id)


async def final_orders_of(session: AsyncSession, case_ids: Sequence[uuid.UUID]
                          ) -> list[FinalOrder]:
    return await _of_cases(session, FinalOrder, case_ids, FinalOrder.id)


async def appeals_of(session: AsyncSession, case_ids: Sequence[uuid.UUID]) -> list[Appeal]:
    return await _of_cases(session, Appeal, case_ids, Appeal.filed_on, Appeal.id)


async def actions_of(session: AsyncSession, case_ids: Sequence[uuid.UUID]
                     ) -> list[DecertificationAction]:
    return await _of_cases(session, DecertificationAction, case_ids,
                           DecertificationAction.recorded_at, DecertificationAction.id)


async def actions_of_certification(session: AsyncSession, certification_id: uuid.UUID
                                   ) -> list[DecertificationAction]:
    stmt = (select(DecertificationAction)
            .where(DecertificationAction.certification_id == certification_id)
            .order_by(DecertificationAction.recorded_at, DecertificationAction.id))  # type: ignore[arg-type]
    return list((await session.exec(stmt)).all())


async def pending_appeal(session: AsyncSession, case_id: uuid.UUID) -> Appeal | None:
    stmt = select(Appeal).where(Appeal.case_id == case_id, Appeal.status == "pending")
    return (await session.exec(stmt.with_for_update())).first()


async def get_appeal(session: AsyncSession, appeal_id: uuid.UUID) -> Appeal | None:
    return await session.get(Appeal, appeal_id, with_for_update=True)


async def members(session: AsyncSession) -> list[BoardMember]:
    stmt = select(BoardMember).order_by(BoardMember.term_start, BoardMember.name,
                                        BoardMember.id)  # type: ignore[arg-type]
    return list((await session.exec(stmt)).all())


async def member(session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False
                 ) -> BoardMember | None:
    return await session.get(BoardMember, member_id, with_for_update=for_update)


async def member_of_key(session: AsyncSession, key_id: uuid.UUID) -> BoardMember | None:
    stmt = select(BoardMember).where(BoardMember.api_key_id == key_id)
    return (await session.exec(stmt)).first()


async def members_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[BoardMember]:
    stmt = select(BoardMember).where(any_of(col(BoardMember.id), ids))
    return list((await session.exec(stmt)).all())


async def count_votes(session: AsyncSession, case_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(Vote).where(Vote.case_id == case_id)
    return (await session.exec(stmt)).one()
