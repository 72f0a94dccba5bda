"""Rules for misconduct findings and criminal convictions.

Departments report findings about officers they employ or employed (any stint, ever); POST
staff may record one on behalf of a named agency, under the same check. An amendment is a new
version with a reason. A report retried with the same idempotency key (per agency) returns the
first report and writes nothing; the same key with different content is refused. Each report
re-evaluates the officer's statutory grounds in the same transaction.
"""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_own_agency, require_role
from registry.agencies import repository as agencies
from registry.dates import check_not_future
from registry.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidInput,
    NotEmployedByAgency,
    NotFound,
)
from registry.findings import repository
from registry.findings.models import (
    Category,
    Conviction,
    DisciplineImposed,
    Disposition,
    Finding,
    OffenseLevel,
)
from registry.keys.models import Role
from registry.names import clean, reason_for
from registry.notifications import service as notifications
from registry.officers import repository as officers
from registry.referrals import service as referrals
from registry.settings import Settings
from registry.versioning import check_version, save, versions

REPORTERS = (Role.AGENCY, Role.POST_STAFF)
# What a retried report must repeat exactly (compared with the first version recorded).
FINDING_CONTENT = ("incident_on", "reported_on", "category", "recommended_disposition",
                   "final_disposition", "discipline", "suspension_days",
                   "completed_after_separation", "public_releasable", "summary")
CONVICTION_CONTENT = ("offense", "level", "domestic_violence", "convicted_on", "court")


@dataclass
class FindingIn:
    officer_id: uuid.UUID
    incident_on: date
    reported_on: date
    category: Category
    recommended_disposition: Disposition
    final_disposition: Disposition
    agency_id: uuid.UUID | None = None
    discipline: DisciplineImposed | None = None
    suspension_days: int | None = None
    completed_after_separation: bool = False
    public_releasable: bool = False
    summary: str | None = None


@dataclass
class ConvictionIn:
    officer_id: uuid.UUID
    offense: str
    level: OffenseLevel
    convicted_on: date
    domestic_violence: bool = False
    court: str | None = None
    agency_id: uuid.UUID | None = None


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not 1 <= len(key) <= 200:
        raise InvalidInput("idempotencyKey must be 1 to 200 characters.", field="idempotencyKey")
    return key


def _reporting_agency(actor: Actor, agency_id: uuid.UUID | None, *, to: str,
                      required: bool = True) -> uuid.UUID | None:
    require_role(actor, *REPORTERS, to=to)
    if agency_id is None and actor.role is Role.AGENCY:
        agency_id = actor.agency_id
    if agency_id is None:
        if required:
            raise InvalidInput("Name the agency that reports this (agencyId); POST staff "
                               "record findings on behalf of an agency.", field="agencyId")
        return None
    require_own_agency(actor, agency_id, to=to)
    return agency_id


async def _check_agency(session: AsyncSession, agency_id: uuid.UUID) -> None:
    if await agencies.get(session, agency_id) is None:
        raise NotFound(f"No agency has id {agency_id}.", field="agencyId")


async def _person(session: AsyncSession, officer_id: uuid.UUID) -> uuid.UUID:
    officer = await officers.get(session, officer_id)
    if officer is None:
        raise NotFound(f"No officer has id {officer_id}; register the officer first.",
                       field="officerId")
    return officer.canonical_id


async def _check_employed(session: AsyncSession, person: uuid.UUID, agency_id: uuid.UUID
                          ) -> None:
    if not await repository.employed_ever(session, person, agency_id):
        raise NotEmployedByAgency(
            "This agency never employed this officer (no stint at the agency, current or "
            "past); report the hire first, or the finding belongs to another agency.",
            field="officerId")


def _enum(enum: Any, value: Any, field: str) -> str:
    try:
        return enum(getattr(value, "value", value)).value  # type: ignore[no-any-return]
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(f"'{value}' is not a {field}; use one of {allowed}.",
                           field=field) from None


def _finding_values(finding_in: FindingIn) -> dict[str, Any]:
    today = date.today()
    check_not_future(finding_in.incident_on, today, field="incidentOn")
    check_not_future(finding_in.reported_on, today, field="reportedOn")
    if finding_in.reported_on < finding_in.incident_on:
        raise InvalidInput(f"The report date {finding_in.reported_on} is before the incident "
                           f"date {finding_in.incident_on}.", field="reportedOn")
    discipline = (_enum(DisciplineImposed, finding_in.discipline, "discipline")
                  if finding_in.discipline is not None else None)
    days = finding_in.suspension_days
    if discipline == DisciplineImposed.SUSPENSION.value and days is None:
        raise InvalidInput("A suspension needs its length: give suspensionDays.",
                           field="suspensionDays")
    if days is not None and discipline != DisciplineImposed.SUSPENSION.value:
        raise InvalidInput("suspensionDays goes with discipline SUSPENSION only.",
                           field="suspensionDays")
    if days is not None and not 1 <= days <= 3650:
        raise InvalidInput("suspensionDays must be from 1 to 3650.", field="suspensionDays")
    final = _enum(Disposition, finding_in.final_disposition, "finalDisposition")
    if final == Disposition.PENDING.value and discipline not in (
            None, DisciplineImposed.NONE.value):
        raise InvalidInput("A finding whose final disposition is pending has no discipline "
                           "yet; report the discipline when the finding is decided.",
                           field="discipline")
    summary = finding_in.summary.strip() if finding_in.summary else None
    if summary is not None and len(summary) > 10_000:
        raise InvalidInput("The summary is longer than 10000 characters.", field="summary")
    return {
        "incident_on": finding_in.incident_on, "reported_on": finding_in.reported_on,
        "category": _enum(Category, finding_in.category, "category"),
        "recommended_disposition": _enum(Disposition, finding_in.recommended_disposition,
                                         "recommendedDisposition"),
        "final_disposition": final, "discipline": discipline, "suspension_days": days,
        "completed_after_separation": bool(finding_in.completed_after_separation),
        "public_releasable": bool(finding_in.public_releasable), "summary": summary or None,
    }


async def _check_separation(session: AsyncSession, person: uuid.UUID, agency_id: uuid.UUID,
                            values: dict[str, Any]) -> None:
    if values["completed_after_separation"] and not await repository.separated_by(
            session, person, agency_id, values["reported_on"]):
        raise InvalidInput(
            "completedAfterSeparation is true, but no stint of this officer at this agency "
            "ended on or before the report date; report the separation first.",
            field="completedAfterSeparation")


async def _first_version(session: AsyncSession, model: Any, record: Any) -> dict[str, Any]:
    if record.version == 1:
        return record.model_dump()
    return (await versions(session, model, record.id))[0]


async def _retried(session: AsyncSession, model: Any, existing: Any, person: uuid.UUID,
                   content: dict[str, Any], fields: tuple[str, ...]) -> Any:
    """The record a retried report made, or a refusal when the key was used for another."""
    first = await _first_version(session, model, existing)
    same = (await officers.person_of(session, first["officer_id"]) == person
            and all(first[f] == content[f] for f in fields))
    if not same:
        raise IdempotencyKeyReused(
            "This idempotencyKey was already used by this agency for a different report; "
            "send a new key for a new report (a retry must repeat the report exactly).",
            field="idempotencyKey", existingId=str(existing.id))
    return existing


def _key_race() -> dict[str, Exception]:
    error = Conflict("Another report with this idempotencyKey is being recorded right now; "
                     "retry and you will get that report back.", field="idempotencyKey")
    return {"findings_idempotency": error, "convictions_idempotency": error}


async def report_finding(*, session: AsyncSession, actor: Actor, settings: Settings,
                         finding_in: FindingIn, idempotency_key: str | None = None) -> Finding:
    agency_id = _reporting_agency(actor, finding_in.agency_id, to="report misconduct findings")
    assert agency_id is not None
    await _check_agency(session, agency_id)
    person = await _person(session, finding_in.officer_id)
    key = _idempotency_key(idempotency_key)
    values = _finding_values(finding_in)
    if key is not None:
        existing = await repository.by_idempotency_key(session, agency_id, key)
        if existing is not None:
            return await _retried(session, Finding, existing, person, values, FINDING_CONTENT)
    await _check_employed(session, person, agency_id)
    await _check_separation(session, person, agency_id, values)
    finding = Finding(officer_id=person, agency_id=agency_id, idempotency_key=key,
                      recorded_by=actor.label, **values)
    await save(session, finding, _key_race())
    await audit.record(session, actor=actor, operation="finding.report", entity_type="finding",
                       entity_id=finding.id, after=finding)
    await referrals.evaluate_officer(session=session, actor=actor, settings=settings,
                                     officer_id=person)
    await notifications.finding_sustained(session=session, actor=actor, settings=settings,
                                          finding=finding)
    return finding


async def amend_finding(*, session: AsyncSession, actor: Actor, settings: Settings,
                        finding_id: uuid.UUID, finding_in: FindingIn, reason: str,
                        expected_version: int | None = None) -> Finding:
    """A new version (pending -> sustained, discipline reversed in arbitration...) by the
    reporting agency or POST staff; the earlier version stays in the history."""
    require_role(actor, *REPORTERS, to="amend findings")
    why = reason_for(reason, "the finding is amended")
    finding = await repository.get(session, finding_id, for_update=True)
    if finding is None:
        raise NotFound(f"No finding has id {finding_id}.", field="id")
    require_own_agency(actor, finding.agency_id, to="amend findings")
    check_version(finding.version, expected_version, "finding", finding_id)
    person = await officers.person_of(session, finding.officer_id)
    if await _person(session, finding_in.officer_id) != person:
        raise InvalidInput("An amendment cannot move a finding to another officer; report a "
                           "new finding for that officer instead.", field="officerId")
    if finding_in.agency_id is not None and finding_in.agency_id != finding.agency_id:
        raise InvalidInput("An amendment cannot change the reporting agency.", field="agencyId")
    values = _finding_values(finding_in)
    assert person is not None
    await _check_separation(session, person, finding.agency_id, values)
    before = finding.model_copy()
    for name, value in values.items():
        setattr(finding, name, value)
    finding.recorded_by, finding.change_reason = actor.label, why
    await save(session, finding, {})
    await audit.record(session, actor=actor, operation="finding.amend", entity_type="finding",
                       entity_id=finding.id, before=before, after=finding)
    await referrals.evaluate_officer(session=session, actor=actor, settings=settings,
                                     officer_id=person)
    await notifications.finding_sustained(session=session, actor=actor, settings=settings,
                                          finding=finding, before=before)
    return finding


def _conviction_values(conviction_in: ConvictionIn) -> dict[str, Any]:
    offense = clean(conviction_in.offense)
    if not offense:
        raise InvalidInput("Name the offense (offense).", field="offense")
    if len(offense) > 500:
        raise InvalidInput("The offense is longer than 500 characters.", field="offense")
    court = clean(conviction_in.court)
    if court is not None and len(court) > 300:
        raise InvalidInput("The court is longer than 300 characters.", field="court")
    check_not_future(conviction_in.convicted_on, date.today(), field="convictedOn")
    return {"offense": offense, "level": _enum(OffenseLevel, conviction_in.level, "level"),
            "domestic_violence": bool(conviction_in.domestic_violence),
            "convicted_on": conviction_in.convicted_on, "court": court}


async def report_conviction(*, session: AsyncSession, actor: Actor, settings: Settings,
                            conviction_in: ConvictionIn, idempotency_key: str | None = None
                            ) -> Conviction:
    """An agency reports a conviction of its own current or former officer; POST staff
    enter any (naming an agency or none)."""
    agency_id = _reporting_agency(actor, conviction_in.agency_id, to="report convictions",
                                  required=False)
    if agency_id is not None:
        await _check_agency(session, agency_id)
    person = await _person(session, conviction_in.officer_id)
    key = _idempotency_key(idempotency_key)
    values = _conviction_values(conviction_in)
    if key is not None:
        existing = await repository.conviction_by_idempotency_key(session, agency_id, key)
        if existing is not None:
            return await _retried(session, Conviction, existing, person, values,
                                  CONVICTION_CONTENT)
    if agency_id is not None:
        await _check_employed(session, person, agency_id)
    conviction = Conviction(officer_id=person, reported_by_agency_id=agency_id,
                            idempotency_key=key, recorded_by=actor.label, **values)
    await save(session, conviction, _key_race())
    await audit.record(session, actor=actor, operation="conviction.report",
                       entity_type="conviction", entity_id=conviction.id, after=conviction)
    await referrals.evaluate_officer(session=session, actor=actor, settings=settings,
                                     officer_id=person)
    return conviction


def visible(actor: Actor, agency_id: uuid.UUID | None) -> bool:
    """POST staff, board members and administrators see every finding and conviction; an
    agency key sees those its own agency reported."""
    return actor.role is not Role.AGENCY or (agency_id is not None
                                             and agency_id == actor.agency_id)


async def get_finding(*, session: AsyncSession, actor: Actor, finding_id: uuid.UUID
                      ) -> Finding | None:
    finding = await repository.get(session, finding_id)
    return finding if finding is not None and visible(actor, finding.agency_id) else None


async def finding_versions(*, session: AsyncSession, actor: Actor, finding_id: uuid.UUID
                           ) -> list[dict[str, Any]]:
    require_role(actor, Role.POST_STAFF, Role.ADMIN, to="read a finding's history")
    return await versions(session, Finding, finding_id)
