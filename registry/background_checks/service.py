"""Background checks: run one (rate-limited, audited, remembered for notifications), read the
ones run, and decide what a check shows the agency that ran it."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.actors import Actor, require_role
from registry.audit import service as audit
from registry.background_checks import repository
from registry.background_checks.candidate import Candidate
from registry.background_checks.matching import Match, find_matches
from registry.errors import Forbidden, InvalidInput, NotFound, RateLimited
from registry.keys.models import Role
from registry.officers import repository as officers
from registry.settings import Settings

RUNNERS = (Role.AGENCY, Role.POST_STAFF)


class Purpose(StrEnum):
    HIRING = "hiring"
    PROMOTION = "promotion"
    AUDIT = "audit"


@dataclass(frozen=True)
class CheckResult:
    check_id: uuid.UUID
    purpose: Purpose
    run_at: datetime
    candidate: Candidate
    matches: list[Match]


async def run_check(*, session: AsyncSession, actor: Actor, settings: Settings,
                    candidate: Candidate, purpose: Purpose | str,
                    read_report: Callable[[list[Match]], Awaitable[None]] | None = None
                    ) -> CheckResult:
    """Rank the people who may be ``candidate``, and leave the trail: the check itself, one
    hit per person returned (so later events notify this agency) and an audit event with
    who asked, for which agency and purpose, the input's hash and the people returned. A
    refused check writes nothing.

    ``read_report(matches)`` runs in the same transaction before the trail is written (the
    audit event holds the audit chain's lock until the commit)."""
    require_role(actor, *RUNNERS, to="run background checks")
    try:
        purpose = Purpose(purpose)
    except ValueError:
        raise InvalidInput(
            f"'{purpose}' is not a purpose; use one of "
            f"{', '.join(p.name for p in Purpose)}.", field="purpose") from None
    if actor.key_id is not None:  # a key over its allowance is refused before the work
        await _within_allowance(session, actor.key_id, settings.checks_per_hour, lock=False)
    matches = await find_matches(session, candidate, threshold=settings.match_threshold,
                                 trigram_floor=settings.match_trigram_floor,
                                 limit=settings.match_limit)
    if read_report is not None:
        await read_report(matches)
    if actor.key_id is not None:
        # Counted again under the key's lock, held to the commit, just before the trail: two
        # checks of one key cannot both take the last one, yet their matching overlaps.
        await _within_allowance(session, actor.key_id, settings.checks_per_hour, lock=True)
    input_hash = candidate.input_hash()
    check_id = uuid.uuid4()
    run_at = await repository.insert_check(
        session, check_id=check_id, purpose=purpose.value, candidate=candidate.as_entered(),
        input_hash=input_hash, matches=matches, threshold=settings.match_threshold,
        audit_event=audit.event(actor=actor, operation="backgroundCheck",
                                entity_type="background_check", entity_id=check_id,
                                after={"purpose": purpose.value, "agency_id": actor.agency_id,
                                       "input_hash": input_hash,
                                       "officer_ids": [m.officer_id for m in matches]}))
    return CheckResult(check_id, purpose, run_at, candidate, matches)


async def _within_allowance(session: AsyncSession, key_id: uuid.UUID, per_hour: int, *,
                            lock: bool) -> None:
    used, wait = await repository.checks_in_last_hour(session, key_id, lock=lock)
    if used >= per_hour:
        retry = max(1, int(wait) + 1)
        raise RateLimited(
            f"This key has run {used} background checks in the last hour, its allowance "
            f"(REGISTRY_CHECKS_PER_HOUR={per_hour}). Try again in {retry} seconds.",
            retryAfter=retry)


def _may_read(actor: Actor, agency_id: uuid.UUID | None) -> bool:
    """POST staff and administrators read every check; an agency key its own agency's."""
    if actor.role in (Role.POST_STAFF, Role.ADMIN):
        return True
    return actor.role is Role.AGENCY and agency_id is not None and agency_id == actor.agency_id


async def get_check(*, session: AsyncSession, actor: Actor, check_id: uuid.UUID) -> Any:
    require_role(actor, Role.AGENCY, Role.POST_STAFF, Role.ADMIN, to="read background checks")
    check = await repository.get_check(session, check_id)
    if check is None or not _may_read(actor, check.agency_id):
        # The same answer for "not there" and "not yours": ids of other agencies' checks
        # reveal nothing.
        raise NotFound(f"No background check {check_id} is visible to this key.",
                       field="checkId")
    return check


async def list_checks(*, session: AsyncSession, actor: Actor, agency_id: uuid.UUID | None,
                      officer_id: uuid.UUID | None, limit: int,
                      after: tuple[datetime, uuid.UUID] | None) -> list[Any]:
    """Checks newest first, run by an agency and/or returning an officer. POST staff list
    any; an agency key lists only its own agency's."""
    require_role(actor, Role.AGENCY, Role.POST_STAFF, Role.ADMIN, to="list background checks")
    if actor.role is Role.AGENCY:
        if agency_id is not None and agency_id != actor.agency_id:
            raise Forbidden("An agency key lists only the checks its own agency ran.",
                            role=actor.role.value)
        agency_id = actor.agency_id
    records = None
    if officer_id is not None:
        person = await officers.person_of(session, officer_id)
        if person is None:
            raise NotFound(f"No officer has id {officer_id}.", field="officerId")
        records = (await officers.records_of_people(session, [person])).get(person, [])
    return await repository.page_checks(session, agency_id=agency_id, person_records=records,
                                        limit=limit, after=after)


# Findings an agency sees in a check it ran: sustained and pending ones of every agency (the
# point of the check), besides everything its own agency reported.
CHECK_DISPOSITIONS = frozenset({"sustained", "pending"})


def finding_visible_in_check(actor: Actor, agency_id: uuid.UUID | None,
                             final_disposition: str) -> bool:
    if actor.role is not Role.AGENCY:
        return True
    return final_disposition in CHECK_DISPOSITIONS or agency_id == actor.agency_id
