"""Rules for decertification cases and the board that decides them.

POST staff open and run cases (review, motion, hearings, final orders, appeals,
reinstatement); a board member's key votes only as the member linked to it; administrators
seat and unseat members. Every mutation appends exactly one audit event, and a final order,
an appeal decision or a reinstatement changes certifications only through the certification
state machine, with a ``decertification_actions`` row for the NDI export.
"""

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_role
from registry.audit.service import snapshot
from registry.cases import repository
from registry.cases.board import Rules, VoteResult, count, seated_on
from registry.cases.models import (
    ActionKind,
    Appeal,
    AppealStatus,
    BoardMember,
    Case,
    CaseStatus,
    CaseStatusEvent,
    DecertificationAction,
    FinalOrder,
    Hearing,
    Outcome,
    Seat,
    Vote,
    VoteChoice,
)
from registry.cases.status import BY_HAND, TRANSITIONS, CaseMove, allowed_moves
from registry.certifications import repository as certifications_repo
from registry.certifications import service as certifications
from registry.certifications.models import Certification
from registry.certifications.status import TRANSITIONS as CERT_TRANSITIONS
from registry.certifications.status import Move
from registry.errors import (
    Duplicate,
    IllegalStatusMove,
    InvalidInput,
    MotionFailed,
    NoFinalOrder,
    NoMotion,
    NoQuorum,
    NotABoardMember,
    NotFound,
    TermNotCurrent,
    VotingStarted,
)
from registry.keys.models import ApiKey, Role
from registry.names import REASON_LIMIT, clean, text_field
from registry.notifications import service as notifications
from registry.officers import repository as officers
from registry.referrals import service as referrals
from registry.referrals.grounds import load_grounds
from registry.settings import Settings
from registry.versioning import check_version, save

STAFF = (Role.POST_STAFF,)
READERS = (Role.POST_STAFF, Role.ADMIN, Role.BOARD_MEMBER)

# What each outcome does to a certification (no action changes none).
OUTCOME_MOVE: dict[Outcome, Move] = {
    Outcome.REVOCATION: Move.REVOKE,
    Outcome.SUSPENSION: Move.SUSPEND,
    Outcome.SURRENDER: Move.SURRENDER,
    Outcome.DENIAL: Move.DENY,
}


def _enum(enum: Any, value: Any, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid {field}; one of "
                           f"{', '.join(e.value for e in enum)}.", field=field) from None


def _not_future(day: date, field: str, what: str) -> None:
    if day > date.today():
        raise InvalidInput(f"The {what} {day} is in the future.", field=field)


# --- the case and its moves -------------------------------------------------------------

async def _case(session: AsyncSession, case_id: uuid.UUID,
                expected_version: int | None = None) -> Case:
    case = await repository.get(session, case_id, for_update=True)
    if case is None:
        raise NotFound(f"No case has id {case_id}.", field="caseId")
    check_version(case.version, expected_version, "case", case_id)
    return case


def _target(case: Case, move: CaseMove) -> CaseStatus:
    """Where ``move`` takes the case, or the error naming its status and the allowed moves."""
    current = CaseStatus(case.status)
    target = TRANSITIONS[current].get(move)
    if target is None:
        allowed = [m.value for m in allowed_moves(current)]
        raise IllegalStatusMove(
            f"Case {case.number} is {current.value}; '{move.value}' is not allowed from "
            f"{current.value}. Allowed moves: {', '.join(allowed) or 'none'}.",
            currentStatus=current.value, allowedMoves=allowed)
    return target


async def _move(session: AsyncSession, actor: Actor, case: Case, move: CaseMove,
                reason: str | None, *, changed: bool = False) -> None:
    """Make ``move``: a new status is saved (a new version) with its status event; a move to
    the same status saves only when the caller ``changed`` other fields."""
    target = _target(case, move)
    current = case.status
    if target.value == current and not changed:
        return
    case.status = target.value
    case.recorded_by, case.change_reason = actor.label, reason or move.value
    await save(session, case, {})
    if target.value != current:
        session.add(CaseStatusEvent(case_id=case.id, from_status=current, to_status=target.value,
                                    reason=reason or move.value, recorded_by=actor.label))
        await session.flush()


async def open_case(
    *, session: AsyncSession, actor: Actor, settings: Settings, officer_id: uuid.UUID,
    referral_ids: Sequence[uuid.UUID] = (), grounds: Sequence[str] = (),
    summary: str | None = None,
) -> Case:
    """Open a case from referrals (their grounds and evidence are copied; the referrals become
    case_opened) or directly on grounds listed (codes of the statutory grounds file)."""
    require_role(actor, *STAFF, to="open decertification cases")
    officer = await officers.get(session, officer_id)
    if officer is None:
        raise NotFound(f"No officer has id {officer_id}.", field="officerId")
    person = officer.canonical_id
    wanted = list(dict.fromkeys(referral_ids))
    listed = sorted({g for g in (clean(x) for x in grounds) if g})
    if not wanted and not listed:
        raise InvalidInput("A case needs its statutory grounds: give referralIds or grounds.",
                           field="grounds")
    known = load_grounds(settings)
    unknown = [g for g in listed if known.get(g) is None]
    if unknown:
        raise InvalidInput(
            f"Unknown ground {unknown[0]!r}; the statutory grounds are "
            f"{', '.join(g.code for g in known.grounds)}.", field="grounds")
    evidence: list[dict[str, Any]] = []
    if wanted:
        from_referrals, evidence = await referrals.evidence_of(session=session,
                                                               referral_ids=wanted)
        listed = sorted(set(listed) | set(from_referrals))
    case = Case(number=await repository.next_number(session, date.today().year),
                officer_id=person, status=CaseStatus.OPEN.value, grounds=listed,
                evidence=evidence, summary=text_field(summary, "summary", 10_000),
                opened_by=actor.label, recorded_by=actor.label)
    case.opened_at = func.now()  # type: ignore[assignment]
    await save(session, case, {})
    session.add(CaseStatusEvent(case_id=case.id, from_status=None, to_status=case.status,
                                reason="opened", recorded_by=actor.label))
    await session.flush()
    if wanted:
        await referrals.mark_case_opened(session=session, actor=actor, referral_ids=wanted,
                                         case_id=case.id, officer_id=person)
    await audit.record(session, actor=actor, operation="case.open", entity_type="case",
                       entity_id=case.id, after=case)
    return case


async def move_case(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID, move: CaseMove, reason: str,
    expected_version: int | None = None,
) -> Case:
    """The moves made by hand: review an open case, close a case (dismissed, or the appeal
    period of a final order ran out). The others come with their own mutations."""
    require_role(actor, *STAFF, to="move decertification cases")
    move = _enum(CaseMove, move, "move")
    if move not in BY_HAND:
        raise InvalidInput(f"'{move.value}' happens through its own mutation, not moveCase.",
                           field="move")
    why = text_field(reason, "reason", REASON_LIMIT, required=True)
    case = await _case(session, case_id, expected_version)
    before = case.model_copy()
    await _move(session, actor, case, move, why)
    await audit.record(session, actor=actor, operation="case.move", entity_type="case",
                       entity_id=case.id, before=before, after=case)
    return case


async def propose_outcome(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID, outcome: Outcome,
    suspended_until: date | None = None, expected_version: int | None = None,
) -> Case:
    """Set the motion the board votes on; it cannot change once a member has voted."""
    require_role(actor, *STAFF, to="propose a case's outcome")
    outcome = _enum(Outcome, outcome, "outcome")
    if (outcome is Outcome.SUSPENSION) != (suspended_until is not None):
        raise InvalidInput("A suspension needs its end date (suspendedUntil); no other outcome "
                           "has one.", field="suspendedUntil")
    case = await _case(session, case_id, expected_version)
    if await repository.count_votes(session, case.id):
        raise VotingStarted(f"Board members have voted on case {case.number}'s motion; it "
                            "cannot change now.")
    before = case.model_copy()
    _target(case, CaseMove.PROPOSE_OUTCOME)
    case.proposed_outcome, case.proposed_until = outcome.value, suspended_until
    await _move(session, actor, case, CaseMove.PROPOSE_OUTCOME,
                f"motion: {outcome.value}", changed=True)
    await audit.record(session, actor=actor, operation="case.propose_outcome",
                       entity_type="case", entity_id=case.id, before=before, after=case)
    return case


async def schedule_hearing(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID, scheduled_for: datetime,
    notice_sent_on: date, location: str | None = None,
) -> Hearing:
    require_role(actor, *STAFF, to="schedule hearings")
    if scheduled_for.tzinfo is None:
        raise InvalidInput("Give the hearing's time with its UTC offset.", field="scheduledFor")
    if notice_sent_on > scheduled_for.date():
        raise InvalidInput(
            f"The notice ({notice_sent_on}) must be sent to the officer on or before the "
            f"hearing ({scheduled_for.date()}).", field="noticeSentOn")
    _not_future(notice_sent_on, "noticeSentOn", "notice date")
    case = await _case(session, case_id)
    _target(case, CaseMove.SCHEDULE_HEARING)
    hearing = Hearing(case_id=case.id, scheduled_for=scheduled_for,
                      notice_sent_on=notice_sent_on,
                      location=text_field(location, "location", 300), recorded_by=actor.label)
    await save(session, hearing, {})
    await _move(session, actor, case, CaseMove.SCHEDULE_HEARING,
                f"hearing on {scheduled_for.date()}")
    await audit.record(session, actor=actor, operation="case.schedule_hearing",
                       entity_type="case", entity_id=case.id, after=hearing)
    return hearing


# --- the board ------------------------------------------------------------------------------

async def add_board_member(
    *, session: AsyncSession, actor: Actor, name: str, seat: Seat, term_start: date,
    term_end: date | None = None, api_key_id: uuid.UUID | None = None,
) -> BoardMember:
    require_role(actor, Role.ADMIN, to="manage board members")
    seat = _enum(Seat, seat, "seat")
    who = text_field(name, "name", 200, required=True)
    if term_end is not None and term_end <= term_start:
        raise InvalidInput(f"The term's end ({term_end}) must come after its start "
                           f"({term_start}).", field="termEnd")
    if api_key_id is not None:
        key = await session.get(ApiKey, api_key_id)
        if key is None:
            raise NotFound(f"No API key has id {api_key_id}.", field="apiKeyId")
        if key.role != Role.BOARD_MEMBER.value or key.revoked_at is not None:
            raise InvalidInput(f"API key {api_key_id} is not a live board_member key.",
                               field="apiKeyId")
    member = BoardMember(name=who, seat=seat.value, term_start=term_start, term_end=term_end,
                         api_key_id=api_key_id, recorded_by=actor.label)
    await save(session, member, {"board_members_api_key_id_key": Duplicate(
        f"API key {api_key_id} is already linked to another board member.",
        field="apiKeyId")})
    await audit.record(session, actor=actor, operation="board_member.add",
                       entity_type="board_member", entity_id=member.id, after=member)
    return member


async def end_board_member_term(
    *, session: AsyncSession, actor: Actor, member_id: uuid.UUID, term_end: date, reason: str,
    expected_version: int | None = None,
) -> BoardMember:
    """Set (or correct) the last day of a member's term; the earlier version is kept."""
    require_role(actor, Role.ADMIN, to="manage board members")
    why = text_field(reason, "reason", REASON_LIMIT, required=True)
    member = await repository.member(session, member_id, for_update=True)
    if member is None:
        raise NotFound(f"No board member has id {member_id}.", field="memberId")
    check_version(member.version, expected_version, "board member", member_id)
    if term_end <= member.term_start:
        raise InvalidInput(f"The term's end ({term_end}) must come after its start "
                           f"({member.term_start}).", field="termEnd")
    before = member.model_copy()
    member.term_end, member.recorded_by, member.change_reason = term_end, actor.label, why
    await save(session, member, {})
    await audit.record(session, actor=actor, operation="board_member.end_term",
                       entity_type="board_member", entity_id=member.id, before=before,
                       after=member)
    return member


async def cast_vote(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID, vote: VoteChoice,
    cast_on: date,
) -> Vote:
    """A board member's vote on the case's motion, as the member linked to the key."""
    require_role(actor, Role.BOARD_MEMBER, to="vote on cases")
    choice = _enum(VoteChoice, vote, "vote")
    member = await repository.member_of_key(session, actor.key_id) if actor.key_id else None
    if member is None:
        raise NotABoardMember("This key is not linked to a board member; an administrator "
                              "links it with addBoardMember(apiKeyId).")
    if not seated_on(member.term_start, member.term_end, cast_on):
        raise TermNotCurrent(
            f"{member.name}'s term ({member.term_start} to {member.term_end or 'open'}) does "
            f"not cover the vote date {cast_on}.", field="castOn")
    _not_future(cast_on, "castOn", "vote date")
    case = await _case(session, case_id)
    _target(case, CaseMove.VOTE)
    if case.proposed_outcome is None:
        raise NoMotion(f"Case {case.number} has no motion to vote on; POST staff propose the "
                       "outcome first (proposeOutcome).")
    row = Vote(case_id=case.id, member_id=member.id, vote=choice.value, cast_on=cast_on,
               recorded_by=actor.label)
    await save(session, row, {"votes_case_id_member_id_key": Duplicate(
        f"{member.name} has already voted on case {case.number}; a vote is cast once.",
        field="caseId")})
    await _move(session, actor, case, CaseMove.VOTE, "the board voted")
    await audit.record(session, actor=actor, operation="case.vote", entity_type="case",
                       entity_id=case.id, after=row)
    return row


def result_of(case: Case, votes: Sequence[Vote], members: Sequence[BoardMember],
              settings: Settings) -> VoteResult:
    """The vote as counted: the vote date is the day of the latest vote; seated are the
    members whose term covers it."""
    seats = {m.id: m.seat for m in members}
    vote_date = max((v.cast_on for v in votes), default=None)
    day = vote_date or date.today()
    seated = sum(1 for m in members if seated_on(m.term_start, m.term_end, day))
    return count([(VoteChoice(v.vote), Seat(seats[v.member_id])) for v in votes], seated,
                 Rules.from_settings(settings), vote_date, case.proposed_outcome)


async def vote_result(*, session: AsyncSession, settings: Settings, case: Case) -> VoteResult:
    return result_of(case, await repository.votes_of(session, [case.id]),
                     await repository.members(session), settings)


# --- final orders, appeals, reinstatement ---------------------------------------------------

async def _certifications(session: AsyncSession, settings: Settings, officer_id: uuid.UUID
                          ) -> list[Certification]:
    """The officer's certifications issued by this registry's state (any merged record)."""
    officer = await officers.get(session, officer_id)
    person = officer.canonical_id if officer else officer_id
    return [c for _, c in await certifications_repo.of_people(session, [person])
            if c.state == settings.state]


async def issue_final_order(
    *, session: AsyncSession, actor: Actor, settings: Settings, case_id: uuid.UUID,
    effective_on: date, public_text: str, outcome: Outcome | None = None,
) -> FinalOrder:
    """The board's order after a valid vote: the motion's outcome when it passed; when it
    failed with a quorum, only no action. Moves every certification of this state that the
    outcome can move, effective on ``effective_on``."""
    require_role(actor, *STAFF, to="issue final orders")
    text = text_field(public_text, "publicText", 20_000, required=True)
    _not_future(effective_on, "effectiveOn", "effective date")
    case = await _case(session, case_id)
    _target(case, CaseMove.ISSUE_FINAL_ORDER)
    result = await vote_result(session=session, settings=settings, case=case)
    if not result.quorum_met:
        raise NoQuorum(f"Case {case.number} has no valid vote. {result.reason}",
                       reason=result.reason)
    motion = Outcome(case.proposed_outcome)
    allowed = motion if result.passed else Outcome.NO_ACTION
    chosen = allowed if outcome is None else _enum(Outcome, outcome, "outcome")
    if chosen is not allowed:
        if not result.passed:
            raise MotionFailed(f"{result.reason} Only a final order of no action may follow.",
                               reason=result.reason)
        raise InvalidInput(f"The board voted on {motion.value}; the order must carry it.",
                           field="outcome")
    if result.vote_date and effective_on < result.vote_date:
        raise InvalidInput(f"The order cannot take effect ({effective_on}) before the vote "
                           f"({result.vote_date}).", field="effectiveOn")
    until = case.proposed_until if chosen is Outcome.SUSPENSION else None
    if until is not None and until <= effective_on:
        raise InvalidInput(f"The suspension's end date ({until}) must come after its start "
                           f"(the effective date {effective_on}).", field="effectiveOn")
    moved = await _apply_outcome(session, actor, settings, case, chosen, effective_on, until)
    order = FinalOrder(case_id=case.id, outcome=chosen.value, effective_on=effective_on,
                       suspended_until=until, public_text=text, tally=result.snapshot(),
                       recorded_by=actor.label)
    await save(session, order, {"final_orders_case_id_key": Duplicate(
        f"Case {case.number} already has its final order.", field="caseId")})
    for cert_id in moved or [None]:
        session.add(DecertificationAction(
            officer_id=case.officer_id, case_id=case.id, certification_id=cert_id,
            kind=ActionKind.FINAL_ORDER.value, outcome=chosen.value, effective_on=effective_on,
            until_on=until, grounds=list(case.grounds), recorded_by=actor.label))
    await session.flush()
    await _move(session, actor, case, CaseMove.ISSUE_FINAL_ORDER, f"final order: {chosen.value}")
    await audit.record(session, actor=actor, operation="case.final_order", entity_type="case",
                       entity_id=case.id, after={**(snapshot(order) or {}),
                                                 "certifications": [str(c) for c in moved]})
    await notifications.final_order(session=session, actor=actor, settings=settings, case=case,
                                    order=order)
    return order


async def _apply_outcome(session: AsyncSession, actor: Actor, settings: Settings, case: Case,
                         outcome: Outcome, effective_on: date, until: date | None
                         ) -> list[uuid.UUID]:
    """Move the certifications the outcome reaches; their ids. A denial of an officer with no
    certification at all changes none; otherwise at least one must be able to move."""
    move = OUTCOME_MOVE.get(outcome)
    if move is None:
        return []
    certs = await _certifications(session, settings, case.officer_id)
    if not certs and outcome is Outcome.DENIAL:
        return []
    current = {c.id: await certifications.current_status(session, c, effective_on)
               for c in certs}
    movable = [c for c in certs if move in CERT_TRANSITIONS[current[c.id]]]
    if not movable:
        statuses = [f"{c.number} is {current[c.id].value}" for c in certs]
        raise IllegalStatusMove(
            f"No {settings.state} certification of this officer can take '{move.value}' "
            f"({'; '.join(statuses) or 'the officer holds none'}).",
            currentStatuses=[current[c.id].value for c in certs],
            allowedFrom=sorted(s.value for s, moves in CERT_TRANSITIONS.items()
                               if move in moves))
    for c in movable:
        await certifications.move(
            session=session, actor=actor, certification_id=c.id, move=move,
            effective_on=effective_on, reason=f"final order, case {case.number}",
            until_on=until, by_final_order=True, audit_event=False)
    return [c.id for c in movable]


async def file_appeal(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID, filed_on: date,
    court: str | None = None,
) -> Appeal:
    require_role(actor, *STAFF, to="record appeals")
    _not_future(filed_on, "filedOn", "filing date")
    case = await _case(session, case_id)
    if not await repository.final_orders_of(session, [case.id]):
        raise NoFinalOrder(f"Case {case.number} has no final order to appeal "
                           f"(it is {case.status}).", currentStatus=case.status)
    _target(case, CaseMove.APPEAL)
    appeal = Appeal(case_id=case.id, filed_on=filed_on, court=text_field(court, "court", 300),
                    recorded_by=actor.label)
    await save(session, appeal, {})
    await _move(session, actor, case, CaseMove.APPEAL, "appeal filed")
    await audit.record(session, actor=actor, operation="case.appeal", entity_type="appeal",
                       entity_id=appeal.id, after=appeal)
    return appeal


async def decide_appeal(
    *, session: AsyncSession, actor: Actor, settings: Settings, appeal_id: uuid.UUID,
    decision: AppealStatus, decided_on: date, note: str | None = None,
    expected_version: int | None = None,
) -> Appeal:
    """Upheld: the case closes. Overturned: each certification the final order changed gets
    its prior status back (a ``restore`` event), and the case closes."""
    require_role(actor, *STAFF, to="record appeal decisions")
    decision = _enum(AppealStatus, decision, "decision")
    if decision is AppealStatus.PENDING:
        raise InvalidInput("An appeal is decided upheld or overturned.", field="decision")
    _not_future(decided_on, "decidedOn", "decision date")
    appeal = await repository.get_appeal(session, appeal_id)
    if appeal is None:
        raise NotFound(f"No appeal has id {appeal_id}.", field="appealId")
    check_version(appeal.version, expected_version, "appeal", appeal_id)
    if appeal.status != AppealStatus.PENDING.value:
        raise IllegalStatusMove(f"The appeal was already decided ({appeal.status}).",
                                currentStatus=appeal.status, allowedMoves=[])
    if decided_on < appeal.filed_on:
        raise InvalidInput(f"The decision ({decided_on}) cannot come before the appeal was "
                           f"filed ({appeal.filed_on}).", field="decidedOn")
    case = await _case(session, appeal.case_id)
    _target(case, CaseMove.DECIDE_APPEAL)
    ordered = [a for a in await repository.actions_of(session, [case.id])
               if a.kind == ActionKind.FINAL_ORDER.value]
    kind = (ActionKind.APPEAL_UPHELD if decision is AppealStatus.UPHELD
            else ActionKind.APPEAL_OVERTURNED)
    for action in ordered:
        if decision is AppealStatus.OVERTURNED and action.certification_id is not None:
            await certifications.restore(
                session=session, actor=actor, certification_id=action.certification_id,
                undo=OUTCOME_MOVE[Outcome(action.outcome)],
                order_effective_on=action.effective_on, effective_on=decided_on,
                reason=f"final order overturned on appeal, case {case.number}")
        session.add(DecertificationAction(
            officer_id=action.officer_id, case_id=case.id,
            certification_id=action.certification_id, kind=kind.value,
            outcome=action.outcome, effective_on=decided_on,
            until_on=action.until_on if decision is AppealStatus.UPHELD else None,
            grounds=list(action.grounds), recorded_by=actor.label))
    before = appeal.model_copy()
    appeal.status, appeal.decided_on = decision.value, decided_on
    appeal.decision_note = text_field(note, "note", 10_000)
    appeal.recorded_by, appeal.change_reason = actor.label, f"appeal {decision.value}"
    await save(session, appeal, {})
    await _move(session, actor, case, CaseMove.DECIDE_APPEAL, f"appeal {decision.value}")
    await audit.record(session, actor=actor, operation="case.decide_appeal",
                       entity_type="appeal", entity_id=appeal.id, before=before, after=appeal)
    return appeal


async def reinstate(
    *, session: AsyncSession, actor: Actor, certification_id: uuid.UUID, effective_on: date,
    reason: str, expected_version: int | None = None,
) -> Certification:
    """Reinstate a revoked, surrendered or denied certification by the board's order."""
    require_role(actor, *STAFF, to="reinstate certifications")
    cert = await certifications.move(
        session=session, actor=actor, certification_id=certification_id, move=Move.REINSTATE,
        effective_on=effective_on, reason=reason, expected_version=expected_version,
        by_final_order=True)
    earlier = [a for a in await repository.actions_of_certification(session, cert.id)
               if a.case_id is not None]
    session.add(DecertificationAction(
        officer_id=cert.officer_id, case_id=earlier[-1].case_id if earlier else None,
        certification_id=cert.id, kind=ActionKind.REINSTATEMENT.value, outcome=None,
        effective_on=effective_on, grounds=list(earlier[-1].grounds) if earlier else [],
        recorded_by=actor.label))
    await session.flush()
    return cert


# --- reads ----------------------------------------------------------------------------------

def require_reader(actor: Actor) -> None:
    require_role(actor, *READERS, to="read decertification cases")


async def get_case(*, session: AsyncSession, actor: Actor, case_id: uuid.UUID) -> Case | None:
    require_reader(actor)
    return await repository.get(session, case_id)


async def page(*, session: AsyncSession, actor: Actor, limit: int,
               after: tuple[datetime, uuid.UUID] | None, status: str | None,
               officer_id: uuid.UUID | None) -> list[Case]:
    require_reader(actor)
    person = None
    if officer_id is not None:
        officer = await officers.get(session, officer_id)
        person = officer.canonical_id if officer else officer_id
    return await repository.page(session, limit=limit, after=after,
                                 where=repository.CaseFilter(status=status, person_id=person))
