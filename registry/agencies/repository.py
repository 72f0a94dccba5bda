"""SQL for agencies."""

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.agencies.models import Agency
from registry.database import any_of


async def get(session: AsyncSession, agency_id: uuid.UUID) -> Agency | None:
    return await session.get(Agency, agency_id)


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Agency]:
    return list((await session.exec(select(Agency).where(any_of(col(Agency.id), ids)))).all())


async def get_by_ori(session: AsyncSession, ori: str) -> Agency | None:
    return (await session.exec(select(Agency).where(Agency.ori == ori))).first()


async def get_by_name(session: AsyncSession, state: str, name_key: str) -> Agency | None:
    stmt = select(Agency).where(Agency.state == state, Agency.name_key == name_key)
    return (await session.exec(stmt)).first()


async def page(
    session: AsyncSession,
    *,
    limit: int,
    after: tuple[str, str, uuid.UUID] | None,
    state: str | None,
    name_key: str | None,
) -> list[Agency]:
    """Agencies ordered by (state, name_key, id) after a keyset position."""
    stmt = select(Agency)
    if state:
        stmt = stmt.where(Agency.state == state)
    if name_key:
        stmt = stmt.where(
            or_(col(Agency.name_key).contains(name_key), col(Agency.ori) == name_key.upper())
        )
    if after:
        stmt = stmt.where(tuple_(Agency.state, Agency.name_key, Agency.id) > tuple_(*after))
    stmt = stmt.order_by(Agency.state, Agency.name_key, Agency.id).limit(limit)
    return list((await session.exec(stmt)).all())
