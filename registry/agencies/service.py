"""Rules for agencies: POST staff and administrators maintain the directory."""

import re
import uuid
from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_role
from registry.agencies.models import Agency, AgencyType
from registry.errors import Duplicate, InvalidInput, NotFound
from registry.keys.models import Role
from registry.names import clean, fold, reason_for
from registry.states import check_state
from registry.versioning import check_version, save

ORI_PATTERN = re.compile(r"^[A-Z]{2}[A-Z0-9]{7}$")
EDITORS = (Role.POST_STAFF, Role.ADMIN)


@dataclass
class AgencyIn:
    state: str
    name: str
    agency_type: AgencyType
    ori: str | None = None
    aliases: list[str] = field(default_factory=list)


def _validated(agency_in: AgencyIn) -> AgencyIn:
    state = check_state(agency_in.state)
    name = clean(agency_in.name)
    if not name or len(name) > 200:
        raise InvalidInput("An agency needs a name of 1 to 200 characters.", field="name")
    ori = clean(agency_in.ori)
    if ori is not None:
        ori = ori.upper()
        if not ORI_PATTERN.match(ori):
            raise InvalidInput(
                f"'{agency_in.ori}' is not an ORI: an ORI is 9 characters, the state's two "
                "letters then 7 letters or digits (e.g. VA0010000).",
                field="ori",
            )
        if ori[:2] != state:
            raise InvalidInput(
                f"ORI {ori} belongs to state {ori[:2]}, not {state}.", field="ori"
            )
    aliases = sorted({a for a in (clean(x) for x in agency_in.aliases) if a and a != name})
    return AgencyIn(state, name, AgencyType(agency_in.agency_type), ori, aliases)


async def create(*, session: AsyncSession, actor: Actor, agency_in: AgencyIn) -> Agency:
    require_role(actor, *EDITORS, to="add agencies")
    a = _validated(agency_in)
    agency = Agency(
        state=a.state, ori=a.ori, name=a.name, name_key=fold(a.name), aliases=a.aliases,
        agency_type=a.agency_type.value, recorded_by=actor.label,
    )
    await _save(session, agency)
    await audit.record(
        session, actor=actor, operation="agency.create", entity_type="agency",
        entity_id=agency.id, after=agency,
    )
    return agency


async def correct(
    *,
    session: AsyncSession,
    actor: Actor,
    agency_id: uuid.UUID,
    agency_in: AgencyIn,
    reason: str,
    expected_version: int | None = None,
) -> Agency:
    """A correction is a new version; the old one stays in the history."""
    require_role(actor, *EDITORS, to="correct agencies")
    reason = reason_for(reason, "the agency is corrected")
    agency = await get(session=session, agency_id=agency_id, for_update=True)
    check_version(agency.version, expected_version, "agency", agency_id)
    before = agency.model_copy()
    a = _validated(agency_in)
    agency.state, agency.ori, agency.name = a.state, a.ori, a.name
    agency.name_key, agency.aliases = fold(a.name), a.aliases
    agency.agency_type = a.agency_type.value
    agency.recorded_by, agency.change_reason = actor.label, reason
    await _save(session, agency)
    await audit.record(
        session, actor=actor, operation="agency.correct", entity_type="agency",
        entity_id=agency.id, before=before, after=agency,
    )
    return agency


async def get(
    *, session: AsyncSession, agency_id: uuid.UUID, for_update: bool = False
) -> Agency:
    agency = await session.get(Agency, agency_id, with_for_update=for_update)
    if agency is None:
        raise NotFound(f"No agency has id {agency_id}.")
    return agency


async def _save(session: AsyncSession, agency: Agency) -> None:
    await save(session, agency, {
        "agencies_ori_key": Duplicate(f"Another agency already has ORI {agency.ori}.", field="ori"),
        "agencies_state_name_key_key": Duplicate(
            f"{agency.state} already has an agency named '{agency.name}'.", field="name"
        ),
    })
