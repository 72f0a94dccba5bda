"""Rules for employment stints: departments report their own hires and separations."""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_own_agency, require_role
from registry.agencies import repository as agencies
from registry.dates import check_not_future
from registry.employment import repository
from registry.employment.models import SeparationReason, Stint
from registry.errors import Conflict, InvalidInput, NotFound, OverlappingStint
from registry.keys.models import Role
from registry.names import clean, reason_for
from registry.notifications import service as notifications
from registry.officers import repository as officers
from registry.referrals import service as referrals
from registry.settings import Settings
from registry.versioning import check_version, save

REPORTERS = (Role.AGENCY, Role.POST_STAFF)


@dataclass
class HireIn:
    officer_id: uuid.UUID
    agency_id: uuid.UUID
    started_on: date
    rank: str | None = None


@dataclass
class SeparationIn:
    ended_on: date
    reason: SeparationReason
    note: str | None = None


def _overlap(stint: Stint) -> dict[str, Exception]:
    return {"stints_no_overlap": OverlappingStint(
        "This stint overlaps another stint of the same officer at the same agency; correct "
        "the existing stint instead of reporting a second one.", field="startedOn")}


def _rank(value: str | None) -> str | None:
    rank = clean(value)
    if rank is not None and len(rank) > 100:
        raise InvalidInput("rank is longer than 100 characters.", field="rank")
    return rank


def _note(value: str | None) -> str | None:
    note = clean(value)
    if note is not None and len(note) > 2000:
        raise InvalidInput("The separation note is longer than 2000 characters.", field="note")
    return note


async def report_hire(*, session: AsyncSession, actor: Actor, hire_in: HireIn) -> Stint:
    require_own_agency(actor, hire_in.agency_id, to="report hires")
    if await agencies.get(session, hire_in.agency_id) is None:
        raise NotFound(f"No agency has id {hire_in.agency_id}.", field="agencyId")
    officer = await officers.get(session, hire_in.officer_id)
    if officer is None:
        raise NotFound(f"No officer has id {hire_in.officer_id}; register the officer first.",
                       field="officerId")
    check_not_future(hire_in.started_on, date.today(), field="startedOn")
    stint = Stint(
        officer_id=officer.canonical_id, agency_id=hire_in.agency_id, rank=_rank(hire_in.rank),
        started_on=hire_in.started_on, reported_by_agency_id=actor.agency_id,
        recorded_by=actor.label,
    )
    await save(session, stint, _overlap(stint))
    await audit.record(session, actor=actor, operation="stint.hire", entity_type="stint",
                       entity_id=stint.id, after=stint)
    return stint


async def _editable(session: AsyncSession, actor: Actor, stint_id: uuid.UUID,
                    expected_version: int | None, *, to: str) -> Stint:
    require_role(actor, *REPORTERS, to=to)  # before a lookup that says whether the id exists
    stint = await repository.get(session, stint_id, for_update=True)
    if stint is None:
        raise NotFound(f"No stint has id {stint_id}.")
    require_own_agency(actor, stint.agency_id, to=to)
    check_version(stint.version, expected_version, "stint", stint_id)
    return stint


def _check_end(stint: Stint, ended_on: date) -> None:
    if ended_on < stint.started_on:
        raise InvalidInput(
            f"The end date {ended_on} is before the stint's start date {stint.started_on}.",
            field="endedOn")
    check_not_future(ended_on, date.today(), field="endedOn")


async def report_separation(
    *, session: AsyncSession, actor: Actor, settings: Settings, stint_id: uuid.UUID,
    separation_in: SeparationIn, expected_version: int | None = None,
) -> Stint:
    """Ends a stint; the officer's statutory grounds are re-evaluated in the same
    transaction (a resignation under investigation can complete a ground)."""
    stint = await _editable(session, actor, stint_id, expected_version,
                            to="report separations")
    if stint.ended_on is not None:
        raise Conflict(
            f"This stint already ended on {stint.ended_on} ({stint.separation_reason}); use "
            "correctStint to change a reported separation.")
    _check_end(stint, separation_in.ended_on)
    before = stint.model_copy()
    stint.ended_on = separation_in.ended_on
    stint.separation_reason = SeparationReason(separation_in.reason).value
    stint.separation_note = _note(separation_in.note)
    stint.recorded_by, stint.change_reason = actor.label, "separation reported"
    await save(session, stint, _overlap(stint))
    await audit.record(session, actor=actor, operation="stint.separation", entity_type="stint",
                       entity_id=stint.id, before=before, after=stint)
    await referrals.evaluate_officer(session=session, actor=actor, settings=settings,
                                     officer_id=stint.officer_id)
    await notifications.separated(session=session, actor=actor, settings=settings, stint=stint)
    return stint


@dataclass
class StintCorrectionIn:
    started_on: date
    rank: str | None = None
    ended_on: date | None = None
    reason: SeparationReason | None = None
    note: str | None = None


async def correct(
    *, session: AsyncSession, actor: Actor, stint_id: uuid.UUID, stint_in: StintCorrectionIn,
    reason: str, expected_version: int | None = None,
) -> Stint:
    """A correction is a new version; the reported one stays in the stint's history."""
    require_role(actor, *REPORTERS, to="correct stints")
    why = reason_for(reason, "the stint is corrected")
    stint = await _editable(session, actor, stint_id, expected_version, to="correct stints")
    if (stint_in.ended_on is None) != (stint_in.reason is None):
        raise InvalidInput("An end date and a separation reason go together: give both or "
                           "neither.", field="endedOn")
    check_not_future(stint_in.started_on, date.today(), field="startedOn")
    before = stint.model_copy()
    stint.started_on, stint.rank = stint_in.started_on, _rank(stint_in.rank)
    if stint_in.ended_on is not None:
        _check_end(stint, stint_in.ended_on)
    stint.ended_on = stint_in.ended_on
    stint.separation_reason = SeparationReason(stint_in.reason).value if stint_in.reason else None
    stint.separation_note = _note(stint_in.note)
    stint.recorded_by, stint.change_reason = actor.label, why
    await save(session, stint, _overlap(stint))
    await audit.record(session, actor=actor, operation="stint.correct", entity_type="stint",
                       entity_id=stint.id, before=before, after=stint)
    return stint
