"""Rules for people: registering, correcting, naming, merging and splitting records."""

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_role
from registry.dates import PartialDate, check_birth_date
from registry.errors import Duplicate, InvalidInput, NotFound
from registry.keys.models import Role
from registry.names import REASON_LIMIT, fold, name_key, sort_key, text_field
from registry.officers import repository
from registry.officers.models import IdentityEvent, NameKind, Officer, OfficerName, SourceRecord
from registry.versioning import check_version, save

REGISTRARS = (Role.AGENCY, Role.POST_STAFF, Role.ADMIN)
EDITORS = (Role.POST_STAFF, Role.ADMIN)
SEXES = ("female", "male", "other", "unknown")


@dataclass
class NameIn:
    last_name: str
    first_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    kind: NameKind = NameKind.PRIOR
    used_until: date | None = None


@dataclass
class OfficerIn:
    first_name: str
    last_name: str
    middle_name: str | None = None
    suffix: str | None = None
    birth_date: PartialDate | None = None
    post_id: str | None = None
    sex: str | None = None
    race: str | None = None
    other_names: list[NameIn] = field(default_factory=list)


@dataclass
class SourceIn:
    """Where a registration came from: ``source`` names the system, ``key`` its record id.

    A department system that retries a registration sends the same pair and gets the person
    registered the first time, not a duplicate."""

    source: str
    key: str
    payload: dict = field(default_factory=dict)

    def scoped(self, actor: Actor) -> "SourceIn":
        """Agency keys name sources inside their own agency, so two departments' record ids
        never collide."""
        source = text_field(self.source, "source", 100, required=True)
        key = text_field(self.key, "sourceKey", 200, required=True)
        if actor.role is Role.AGENCY:
            source = f"agency:{actor.agency_id}/{source}"
        return SourceIn(source, key, self.payload)  # type: ignore[arg-type]


def _apply(officer: Officer, o: OfficerIn) -> None:
    officer.first_name = text_field(o.first_name, "firstName", 100, required=True)  # type: ignore[assignment]
    officer.last_name = text_field(o.last_name, "lastName", 100, required=True)  # type: ignore[assignment]
    officer.middle_name = text_field(o.middle_name, "middleName", 100)
    officer.suffix = text_field(o.suffix, "suffix", 20)
    officer.name_key = name_key(officer.first_name, officer.middle_name, officer.last_name,
                                officer.suffix)
    officer.sort_key = sort_key(officer.first_name, officer.middle_name, officer.last_name)
    if not fold(officer.last_name):
        raise InvalidInput(f"The last name '{officer.last_name}' has no letters or digits.",
                           field="lastName")
    birth = check_birth_date(o.birth_date, date.today()) if o.birth_date else None
    officer.birth_year = birth.year if birth else None
    officer.birth_month = birth.month if birth else None
    officer.birth_day = birth.day if birth else None
    officer.post_id = text_field(o.post_id, "postId", 40)
    if o.sex is not None and o.sex not in SEXES:
        raise InvalidInput(f"sex must be one of {', '.join(SEXES)}.", field="sex")
    officer.sex = o.sex
    officer.race = text_field(o.race, "race", 60)


def _name_row(officer_id: uuid.UUID, n: NameIn, actor: Actor) -> OfficerName:
    last = text_field(n.last_name, "lastName", 100, required=True)
    first = text_field(n.first_name, "firstName", 100)
    middle = text_field(n.middle_name, "middleName", 100)
    suffix = text_field(n.suffix, "suffix", 20)
    return OfficerName(
        officer_id=officer_id, kind=NameKind(n.kind).value, first_name=first, middle_name=middle,
        last_name=last,  # type: ignore[arg-type]
        suffix=suffix, name_key=name_key(first, middle, last, suffix), used_until=n.used_until,
        recorded_by=actor.label,
    )


def _duplicate_post_id(officer: Officer) -> dict[str, Exception]:
    return {"officers_post_id_key": Duplicate(
        f"Another officer already has POST id {officer.post_id}; look that person up instead "
        "of registering them again.", field="postId")}


async def register(
    *, session: AsyncSession, actor: Actor, officer_in: OfficerIn, source: SourceIn | None = None
) -> Officer:
    require_role(actor, *REGISTRARS, to="register officers")
    if source is not None:
        source = source.scoped(actor)
        known = await repository.get_by_source(session, source.source, source.key)
        if known is not None:
            return await get_person(session=session, officer_id=known.officer_id)
    officer_id = uuid.uuid4()
    officer = Officer(id=officer_id, canonical_id=officer_id, first_name="", last_name="",
                      name_key="", sort_key="", recorded_by=actor.label)
    _apply(officer, officer_in)
    await save(session, officer, _duplicate_post_id(officer))
    names = [_name_row(officer.id, n, actor) for n in officer_in.other_names]
    session.add_all(names)
    if source is not None:
        await save(session, SourceRecord(
            officer_id=officer.id, source=source.source, source_key=source.key,
            payload=source.payload, recorded_by=actor.label,
        ), {"source_records_source_source_key_key": Duplicate(
            f"Record {source.key} of {source.source} is being registered by another request; "
            "retry to get the registered officer.", field="sourceKey")})
    await session.flush()
    await audit.record(
        session, actor=actor, operation="officer.register", entity_type="officer",
        entity_id=officer.id,
        after={**officer.model_dump(), "other_names": [n.model_dump() for n in names]},
    )
    return officer


async def get_person(*, session: AsyncSession, officer_id: uuid.UUID) -> Officer:
    """The person a record belongs to (the survivor, if the record was merged)."""
    people = await repository.get_people(session, [officer_id])
    if not people:
        raise NotFound(f"No officer has id {officer_id}.")
    return people[0]


async def _editable(session: AsyncSession, officer_id: uuid.UUID) -> Officer:
    officer = await repository.get(session, officer_id, for_update=True)
    if officer is None:
        raise NotFound(f"No officer has id {officer_id}.")
    return officer


async def correct(
    *, session: AsyncSession, actor: Actor, officer_id: uuid.UUID, officer_in: OfficerIn,
    reason: str, expected_version: int | None = None,
) -> Officer:
    """A correction is a new version of the record; the old one stays in its history."""
    require_role(actor, *EDITORS, to="correct officer records")
    reason = text_field(reason, "reason", REASON_LIMIT, required=True)  # type: ignore[assignment]
    officer = await _editable(session, officer_id)
    check_version(officer.version, expected_version, "officer", officer_id)
    before = officer.model_copy()
    _apply(officer, officer_in)
    officer.recorded_by, officer.change_reason = actor.label, reason
    await save(session, officer, _duplicate_post_id(officer))
    names = [_name_row(officer.id, n, actor) for n in officer_in.other_names]
    session.add_all(names)
    await session.flush()
    await audit.record(
        session, actor=actor, operation="officer.correct", entity_type="officer",
        entity_id=officer.id, before=before, after=officer,
    )
    return officer


async def add_name(
    *, session: AsyncSession, actor: Actor, officer_id: uuid.UUID, name_in: NameIn
) -> OfficerName:
    require_role(actor, *EDITORS, to="add names to officer records")
    await _editable(session, officer_id)
    row = _name_row(officer_id, name_in, actor)
    session.add(row)
    await session.flush()
    await audit.record(session, actor=actor, operation="officer.add_name",
                       entity_type="officer", entity_id=officer_id, after=row)
    return row


async def merge(
    *, session: AsyncSession, actor: Actor, survivor_id: uuid.UUID, duplicate_id: uuid.UUID,
    reason: str,
) -> Officer:
    """Record that two people are one. Nothing moves: the duplicate's certifications, stints
    and sources now show under the survivor, and a split gives them back."""
    require_role(actor, *EDITORS, to="merge officer records")
    reason = text_field(reason, "reason", REASON_LIMIT, required=True)  # type: ignore[assignment]
    if survivor_id == duplicate_id:
        raise InvalidInput("An officer cannot be merged into itself.", field="duplicateId")
    # Lock both in a fixed order so two clerks merging the same pair cannot deadlock.
    locked = {i: await _editable(session, i) for i in sorted((survivor_id, duplicate_id))}
    survivor, duplicate = locked[survivor_id], locked[duplicate_id]
    for o in (survivor, duplicate):
        if o.canonical_id != o.id:
            raise InvalidInput(
                f"Officer {o.id} was already merged into {o.canonical_id}; merge into or from "
                "that record instead.", field="survivorId" if o is survivor else "duplicateId")
    await repository.set_merged_into(session, duplicate_id, survivor_id, actor.label, reason)
    await repository.repoint_people(session, duplicate_id, survivor_id, actor.label)
    event = IdentityEvent(kind="merge", survivor_id=survivor_id, merged_id=duplicate_id,
                          reason=reason, recorded_by=actor.label)
    session.add(event)
    await session.flush()
    await audit.record(session, actor=actor, operation="officer.merge", entity_type="officer",
                       entity_id=survivor_id, after=event)
    await session.refresh(survivor)
    return survivor


async def split(
    *, session: AsyncSession, actor: Actor, survivor_id: uuid.UUID, merged_id: uuid.UUID,
    reason: str,
) -> Officer:
    """Undo a merge: the merged record (and what was merged into it) is its own person again."""
    require_role(actor, *EDITORS, to="split officer records")
    reason = text_field(reason, "reason", REASON_LIMIT, required=True)  # type: ignore[assignment]
    merged = await _editable(session, merged_id)
    if merged.merged_into_id != survivor_id:
        raise InvalidInput(
            f"Officer {merged_id} is not merged into {survivor_id}, so there is nothing to "
            "split; the officer's identityEvents show what was merged into what.",
            field="mergedId")
    await repository.set_merged_into(session, merged_id, None, actor.label, reason)
    await repository.repoint_people(session, merged_id, merged_id, actor.label)
    event = IdentityEvent(kind="split", survivor_id=survivor_id, merged_id=merged_id,
                          reason=reason, recorded_by=actor.label)
    session.add(event)
    await session.flush()
    await audit.record(session, actor=actor, operation="officer.split", entity_type="officer",
                       entity_id=merged_id, after=event)
    await session.refresh(merged)
    return merged
