"""Rules for the referral queue: which officers meet a statutory ground, and what POST staff
do with a referral (dismiss it, or open a case from it)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_role
from registry.errors import NotFound, ReferralNotOpen, ReferralOfficerMismatch
from registry.keys.models import Role
from registry.names import reason_for
from registry.officers import repository as officers
from registry.referrals import repository
from registry.referrals.grounds import Grounds, load_grounds
from registry.referrals.models import Referral, ReferralStatus
from registry.referrals.repository import Counts
from registry.settings import Settings

QUEUE_READERS = (Role.POST_STAFF, Role.ADMIN)


async def evaluate_officer(*, session: AsyncSession, actor: Actor, settings: Settings,
                           officer_id: uuid.UUID) -> Counts:
    """Evaluate every ground for one officer (any of their record ids), in the caller's
    transaction: called by each report that may change what the officer meets. Writes no
    audit event of its own; the report's event covers it."""
    person = await officers.person_of(session, officer_id)
    counts = Counts()
    if person is None:
        return counts
    for ground in load_grounds(settings).grounds:
        counts.add(await repository.apply_ground(session, ground, person=person,
                                                 actor=actor.label))
    return counts


async def reevaluate(*, session: AsyncSession, actor: Actor, settings: Settings
                     ) -> tuple[uuid.UUID, Grounds, Counts]:
    """Every officer against every ground, set-based (one statement per ground): after a
    change to the grounds file. One audit event for the whole run."""
    require_role(actor, Role.ADMIN, to="re-evaluate referrals")
    grounds = load_grounds(settings)
    counts = Counts()
    for ground in grounds.grounds:
        counts.add(await repository.apply_ground(session, ground, person=None,
                                                 actor=actor.label))
    counts.closed += await repository.close_unknown_grounds(
        session, [g.code for g in grounds.grounds], actor.label)
    run_id = uuid.uuid4()
    await audit.record(session, actor=actor, operation="referral.reevaluate",
                       entity_type="referral_reevaluation", entity_id=run_id, after={
                           "grounds_file": str(grounds.path),
                           "grounds": [g.code for g in grounds.grounds],
                           "opened": counts.opened, "updated": counts.updated,
                           "closed": counts.closed})
    return run_id, grounds, counts


def grounds(*, actor: Actor, settings: Settings) -> Grounds:
    require_role(actor, *QUEUE_READERS, to="read the statutory grounds")
    return load_grounds(settings)


async def queue(*, session: AsyncSession, actor: Actor, status: str | None, limit: int,
                after: tuple[datetime, uuid.UUID] | None) -> list[Referral]:
    require_role(actor, *QUEUE_READERS, to="read the referral queue")
    return await repository.page(session, status=status, limit=limit, after=after)


async def get(*, session: AsyncSession, actor: Actor, referral_id: uuid.UUID
              ) -> Referral | None:
    require_role(actor, *QUEUE_READERS, to="read referrals")
    return await repository.get(session, referral_id)


def _not_open(referral: Referral) -> ReferralNotOpen:
    return ReferralNotOpen(
        f"Referral {referral.id} is {referral.status}, not open; only open referrals can be "
        "dismissed or taken into a case.", status=referral.status.upper())


async def dismiss(*, session: AsyncSession, actor: Actor, referral_id: uuid.UUID,
                  reason: str) -> Referral:
    require_role(actor, Role.POST_STAFF, to="dismiss referrals")
    why = reason_for(reason, "the referral is dismissed")
    referral = await repository.get(session, referral_id, for_update=True)
    if referral is None:
        raise NotFound(f"No referral has id {referral_id}.", field="id")
    if referral.status != ReferralStatus.OPEN.value:
        raise _not_open(referral)
    before = referral.model_copy()
    referral.status = ReferralStatus.DISMISSED.value
    referral.dismissed_reason, referral.decided_by = why, actor.label
    referral.decided_at = referral.updated_at = func.now()  # type: ignore[assignment]
    session.add(referral)
    await session.flush()
    await session.refresh(referral)
    await audit.record(session, actor=actor, operation="referral.dismiss",
                       entity_type="referral", entity_id=referral.id, before=before,
                       after=referral)
    return referral


async def mark_case_opened(*, session: AsyncSession, actor: Actor,
                           referral_ids: list[uuid.UUID], case_id: uuid.UUID,
                           officer_id: uuid.UUID) -> list[Referral]:
    """For the cases domain: the open referrals a new case takes up become case_opened.

    Refuses (nothing changes) unless every referral exists, is open and belongs to the case's
    officer (any record of the same person). Writes no audit event: the caller's case event
    covers it, in the same transaction.
    """
    require_role(actor, Role.POST_STAFF, Role.ADMIN, to="open cases from referrals")
    wanted = list(dict.fromkeys(referral_ids))
    referrals = await repository.get_many(session, wanted, for_update=True)
    missing = set(wanted) - {r.id for r in referrals}
    if missing:
        raise NotFound(f"No referral has id {sorted(map(str, missing))[0]}.",
                       field="referralIds")
    person = await officers.person_of(session, officer_id)
    if person is None:
        raise NotFound(f"No officer has id {officer_id}.", field="officerId")
    for referral in referrals:
        if referral.status != ReferralStatus.OPEN.value:
            raise _not_open(referral)
        if await officers.person_of(session, referral.officer_id) != person:
            raise ReferralOfficerMismatch(
                f"Referral {referral.id} is about another officer; a case takes up only "
                "referrals about its own officer.", field="referralIds")
    for referral in referrals:
        referral.status = ReferralStatus.CASE_OPENED.value
        referral.case_id, referral.decided_by = case_id, actor.label
        referral.decided_at = referral.updated_at = func.now()  # type: ignore[assignment]
        session.add(referral)
    await session.flush()
    for referral in referrals:
        await session.refresh(referral)
    return referrals


async def evidence_of(*, session: AsyncSession, referral_ids: list[uuid.UUID]
                      ) -> tuple[list[str], list[dict[str, Any]]]:
    """The grounds (sorted codes) and the evidence (distinct, sorted by kind and id) of some
    referrals: what a case opened from them records."""
    referrals = await repository.get_many(session, list(dict.fromkeys(referral_ids)))
    grounds = sorted({r.ground for r in referrals})
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in referrals:
        for item in r.evidence:
            seen.setdefault((item["kind"], item["id"]), dict(item))
    return grounds, [seen[k] for k in sorted(seen)]
