"""Rules for certifications: issue, renew, and administrative status moves."""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_role
from registry.certifications import repository
from registry.certifications.models import (
    Certification,
    CertificationStatus,
    Discipline,
    Level,
    StatusEvent,
)
from registry.certifications.status import (
    ADMINISTRATIVE,
    RENEWABLE,
    RESTORE,
    TRANSITIONS,
    Move,
    allowed_moves,
    effective_status,
)
from registry.errors import Duplicate, Forbidden, IllegalStatusMove, InvalidInput, NotFound
from registry.keys.models import Role
from registry.names import clean, reason_for
from registry.officers import repository as officers
from registry.settings import Settings
from registry.states import check_state
from registry.versioning import check_version, save

STAFF = (Role.POST_STAFF,)


@dataclass
class IssueIn:
    officer_id: uuid.UUID
    number: str
    discipline: Discipline
    level: Level
    issued_on: date
    expires_on: date | None = None
    state: str | None = None
    issuing_board: str | None = None


async def issue(
    *, session: AsyncSession, actor: Actor, settings: Settings, issue_in: IssueIn
) -> Certification:
    require_role(actor, *STAFF, to="issue certifications")
    officer = await officers.get(session, issue_in.officer_id)
    if officer is None:
        raise NotFound(f"No officer has id {issue_in.officer_id}.", field="officerId")
    number = clean(issue_in.number)
    if not number or len(number) > 40:
        raise InvalidInput("A certificate number of 1 to 40 characters is required.",
                           field="number")
    if issue_in.expires_on is not None and issue_in.expires_on <= issue_in.issued_on:
        raise InvalidInput(
            f"The expiry date {issue_in.expires_on} must come after the issue date "
            f"{issue_in.issued_on}.", field="expiresOn")
    if issue_in.issued_on > date.today():
        raise InvalidInput(f"The issue date {issue_in.issued_on} is in the future.",
                           field="issuedOn")
    state = check_state(issue_in.state or settings.state)
    cert = Certification(
        officer_id=officer.canonical_id, state=state, number=number,
        issuing_board=clean(issue_in.issuing_board) or settings.board_name,
        discipline=Discipline(issue_in.discipline).value, level=Level(issue_in.level).value,
        issued_on=issue_in.issued_on, expires_on=issue_in.expires_on,
        status=CertificationStatus.ACTIVE.value, status_since=issue_in.issued_on,
        recorded_by=actor.label,
    )
    await save(session, cert, {"certifications_state_number_key": Duplicate(
        f"Certificate number {number} already exists in {state}.", field="number")})
    event = StatusEvent(certification_id=cert.id, action="issue", from_status=None,
                        to_status=cert.status, effective_on=cert.issued_on,
                        expires_on=cert.expires_on, recorded_by=actor.label)
    session.add(event)
    await session.flush()
    await audit.record(session, actor=actor, operation="certification.issue",
                       entity_type="certification", entity_id=cert.id, after=cert)
    return cert


async def _editable(session: AsyncSession, certification_id: uuid.UUID,
                    expected_version: int | None) -> Certification:
    cert = await repository.get(session, certification_id, for_update=True)
    if cert is None:
        raise NotFound(f"No certification has id {certification_id}.")
    check_version(cert.version, expected_version, "certification", certification_id)
    return cert


async def current_status(session: AsyncSession, cert: Certification, day: date
                   ) -> CertificationStatus:
    """The status in effect on ``day``: a suspension ends by itself on its end date."""
    status = CertificationStatus(cert.status)
    if status is not CertificationStatus.SUSPENDED or cert.suspended_until is None:
        return status
    events = await repository.events_of(session, [cert.id])
    suspensions = [e for e in events if e.to_status == CertificationStatus.SUSPENDED.value]
    before = suspensions[-1].from_status if suspensions else None
    return effective_status(status, cert.suspended_until, day,
                            CertificationStatus(before) if before else None)


def _check_effective(cert: Certification, effective_on: date) -> None:
    if effective_on < cert.status_since:
        raise InvalidInput(
            f"The effective date {effective_on} is before the current status began "
            f"({cert.status} since {cert.status_since}); status history is kept in date order.",
            field="effectiveOn")
    if effective_on > date.today():
        raise InvalidInput(f"The effective date {effective_on} is in the future.",
                           field="effectiveOn")


async def renew(
    *, session: AsyncSession, actor: Actor, certification_id: uuid.UUID, expires_on: date,
    effective_on: date, expected_version: int | None = None,
) -> Certification:
    require_role(actor, *STAFF, to="renew certifications")
    cert = await _editable(session, certification_id, expected_version)
    status = await current_status(session, cert, effective_on)
    if status not in RENEWABLE:
        raise IllegalStatusMove(
            f"Certification {cert.number} is {status.value}; only an active, reinstated, "
            "inactive or lapsed certification can be renewed.",
            currentStatus=status.value,
            allowedMoves=[m.value for m in allowed_moves(status)])
    _check_effective(cert, effective_on)
    if expires_on <= effective_on or (cert.expires_on and expires_on <= cert.expires_on):
        raise InvalidInput(
            f"The new expiry date {expires_on} must be later than the renewal date and the "
            f"current expiry date ({cert.expires_on}).", field="expiresOn")
    before = cert.model_copy()
    cert.expires_on = expires_on
    cert.recorded_by, cert.change_reason = actor.label, "renewal"
    await save(session, cert, {})
    session.add(StatusEvent(certification_id=cert.id, action="renew", from_status=status.value,
                            to_status=status.value, effective_on=effective_on,
                            expires_on=expires_on, recorded_by=actor.label))
    await session.flush()
    await audit.record(session, actor=actor, operation="certification.renew",
                       entity_type="certification", entity_id=cert.id, before=before, after=cert)
    return cert


async def move(
    *, session: AsyncSession, actor: Actor, certification_id: uuid.UUID, move: Move,
    effective_on: date, reason: str, expected_version: int | None = None,
    until_on: date | None = None, by_final_order: bool = False, audit_event: bool = True,
) -> Certification:
    """Move a certification's status along the state machine.

    POST staff make the administrative moves; the board's moves (suspend, revoke, surrender,
    deny, reinstate) come only with ``by_final_order`` from a decertification case. A case's
    mutation that moves several certifications passes ``audit_event=False`` and records the
    one event of its mutation itself.
    """
    require_role(actor, *STAFF, to="change certification status")
    move = Move(move)
    if move not in ADMINISTRATIVE and not by_final_order:
        raise Forbidden(
            f"'{move.value}' is a board action: it takes effect through a decertification "
            "case's final order, not an administrative status change.", move=move.value)
    reason = reason_for(reason, "the status changes")
    cert = await _editable(session, certification_id, expected_version)
    current = await current_status(session, cert, effective_on)
    target = TRANSITIONS[current].get(move)
    if target is None:
        allowed = [m.value for m in allowed_moves(current)]
        raise IllegalStatusMove(
            f"Certification {cert.number} is {current.value}; '{move.value}' is not allowed "
            f"from {current.value}. Allowed moves: {', '.join(allowed) or 'none'}.",
            currentStatus=current.value, allowedMoves=allowed)
    _check_effective(cert, effective_on)
    if target is CertificationStatus.SUSPENDED:
        if until_on is None or until_on <= effective_on:
            raise InvalidInput("A suspension needs an end date after its start date.",
                               field="untilOn")
    elif until_on is not None:
        raise InvalidInput("Only a suspension has an end date (untilOn).", field="untilOn")
    before = cert.model_copy()
    cert.status, cert.status_since = target.value, effective_on
    cert.suspended_until = until_on
    cert.recorded_by, cert.change_reason = actor.label, reason
    await save(session, cert, {})
    session.add(StatusEvent(certification_id=cert.id, action=move.value,
                            from_status=current.value, to_status=target.value,
                            effective_on=effective_on, until_on=until_on, reason=reason,
                            recorded_by=actor.label))
    await session.flush()
    if audit_event:
        await audit.record(session, actor=actor, operation=f"certification.{move.value}",
                           entity_type="certification", entity_id=cert.id, before=before,
                           after=cert)
    return cert


async def restore(
    *, session: AsyncSession, actor: Actor, certification_id: uuid.UUID, undo: Move,
    order_effective_on: date, effective_on: date, reason: str,
) -> Certification:
    """An overturned final order: the status it replaced comes back, as its own dated event
    (action ``restore``). Only for a decertification case's appeal, never an administrative
    move; writes no audit event (the appeal decision's event covers it).

    The certification's last move must still be the order's (``undo`` effective on
    ``order_effective_on``); a certification that moved since is refused.
    """
    require_role(actor, *STAFF, to="restore a certification's status")
    cert = await _editable(session, certification_id, None)
    events = [e for e in await repository.events_of(session, [cert.id])
              if e.action != "renew"]
    last = events[-1] if events else None
    if (last is None or last.action != Move(undo).value
            or last.effective_on != order_effective_on or last.from_status is None):
        current = CertificationStatus(cert.status)
        raise IllegalStatusMove(
            f"Certification {cert.number} is {current.value} and its status has moved since "
            f"the final order ({undo} on {order_effective_on}); restore it by a new order.",
            currentStatus=current.value,
            allowedMoves=[m.value for m in allowed_moves(current)])
    _check_effective(cert, effective_on)
    prior = CertificationStatus(last.from_status)
    until = None
    if prior is CertificationStatus.SUSPENDED:
        suspensions = [e for e in events[:-1] if e.to_status == prior.value]
        until = suspensions[-1].until_on if suspensions else None
    before = cert.model_copy()
    cert.status, cert.status_since, cert.suspended_until = prior.value, effective_on, until
    cert.recorded_by, cert.change_reason = actor.label, clean(reason)
    await save(session, cert, {})
    session.add(StatusEvent(certification_id=cert.id, action=RESTORE,
                            from_status=before.status, to_status=prior.value,
                            effective_on=effective_on, until_on=until,
                            reason=cert.change_reason, recorded_by=actor.label))
    await session.flush()
    return cert
