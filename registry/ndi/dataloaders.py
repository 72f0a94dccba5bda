"""Per-request loaders of the NDI."""

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.database import run_sql
from registry.ndi import repository
from registry.officers.dataloaders import _ByRecords


class ExternalActionsByPerson(_ByRecords):
    """Other states' actions attached to any of a person's records; keys are person ids."""

    async def rows(self, session: AsyncSession, record_ids: list[uuid.UUID]) -> list[Any]:
        return list(await run_sql(session, repository.EXTERNAL_OF_RECORDS,
                                  {"records": record_ids}))


async def external_actions_of(info: Any, person: Any) -> list[Any]:
    """The Officer type's ``externalActions``: through the loader, or as held at ``asOf``
    (each action's version current then, from external_actions_history)."""
    from registry.api.context import ctx
    from registry.officers.dataloaders import RecordIdsByPerson
    from registry.versioning import AsOf

    context = ctx(info)
    if not isinstance(person, AsOf):
        return await context.loader(ExternalActionsByPerson).load(person.id)
    records = await context.loader(RecordIdsByPerson).load(person.id)
    async with context.read() as session:
        return list(await run_sql(session, repository.EXTERNAL_OF_RECORDS_AS_OF,
                                  {"records": records, "at": person.at}))
