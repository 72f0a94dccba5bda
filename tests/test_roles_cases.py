"""Who may run decertification cases, vote and seat the board: every mutation of the cases
domain with every role's key."""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from registry.cases import service as cases
from registry.certifications import service as certifications
from registry.certifications.status import Move
from registry.database import session_scope
from registry.officers import service as officers
from tests.case_helpers import GROUND, key_id
from tests.conftest import SYSTEM
from tests.test_roles import (
    STAFF,
    WHO,
    Case,
    Targets,
    check_mutation_by_role,
    targets,  # noqa: F401  (the fixture)
)


@dataclass
class More:
    base: Targets
    open: str  # an open case
    reviewing: str  # under review, motion revocation
    hearing: str  # hearing scheduled: the linked member has not voted
    voted: str  # the motion passed
    ordered: str  # has a final order (no action)
    appeal: str  # a pending appeal
    revoked: str  # a revoked certification
    member: str  # a board member not linked to a key, seated after the fixture's votes


async def _walk(s, officer: uuid.UUID, settings, upto: str, outcome: str = "revocation"
                ) -> uuid.UUID:
    steps = ["open", "under_review", "hearing"]
    case = await cases.open_case(session=s, actor=STAFF, settings=settings,
                                 officer_id=officer, grounds=[GROUND])
    n = steps.index(upto)
    if n >= 1:
        await cases.move_case(session=s, actor=STAFF, case_id=case.id, move="review",
                              reason="complete")
        await cases.propose_outcome(session=s, actor=STAFF, case_id=case.id, outcome=outcome)
    if n >= 2:
        await cases.schedule_hearing(
            session=s, actor=STAFF, case_id=case.id,
            scheduled_for=datetime(2024, 2, 20, 10, tzinfo=UTC),
            notice_sent_on=date(2024, 1, 15))
    return case.id


@pytest.fixture
async def more(engine, settings, world, targets) -> More:  # noqa: F811
    from registry.actors import Actor
    from registry.keys.models import Role

    linked = await key_id(engine, "test board")
    voter = Actor(name="test board", role=Role.BOARD_MEMBER, key_id=linked)
    async with session_scope(engine) as s:
        await cases.add_board_member(session=s, actor=SYSTEM, name="Civ", seat="civilian",
                                     term_start=date(2020, 1, 1), api_key_id=linked)
        member = await cases.add_board_member(session=s, actor=SYSTEM, name="Law",
                                              seat="law_enforcement",
                                              term_start=date(2025, 1, 1))
        officer = uuid.UUID(targets.officer)
        other = uuid.UUID(targets.other)
        opened = await _walk(s, other, settings, "open")
        reviewing = await _walk(s, other, settings, "under_review")
        hearing = await _walk(s, other, settings, "hearing")
        voted = await _walk(s, officer, settings, "hearing")
        await cases.cast_vote(session=s, actor=voter, case_id=voted, vote="yes",
                              cast_on=date(2024, 3, 1))
        ordered = await _walk(s, other, settings, "hearing", "no_action")
        await cases.cast_vote(session=s, actor=voter, case_id=ordered, vote="yes",
                              cast_on=date(2024, 3, 1))
        await cases.issue_final_order(session=s, actor=STAFF, settings=settings,
                                      case_id=ordered, effective_on=date(2024, 3, 15),
                                      public_text="No action.")
        appealed = await _walk(s, other, settings, "hearing", "no_action")
        await cases.cast_vote(session=s, actor=voter, case_id=appealed, vote="yes",
                              cast_on=date(2024, 3, 1))
        await cases.issue_final_order(session=s, actor=STAFF, settings=settings,
                                      case_id=appealed, effective_on=date(2024, 3, 15),
                                      public_text="No action.")
        appeal = await cases.file_appeal(session=s, actor=STAFF, case_id=appealed,
                                         filed_on=date(2024, 4, 1))
        third = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Rae", last_name="Dunn"))
        cert = await certifications.issue(
            session=s, actor=STAFF, settings=settings, issue_in=certifications.IssueIn(
                officer_id=third.id, number="VA-7000", discipline="law_enforcement",
                level="basic", issued_on=date(2015, 1, 5)))
        await certifications.move(session=s, actor=STAFF, certification_id=cert.id,
                                  move=Move.REVOKE, effective_on=date(2020, 1, 1),
                                  reason="final order", by_final_order=True)
    return More(targets, str(opened), str(reviewing), str(hearing), str(voted), str(ordered),
                str(appeal.id), str(cert.id), str(member.id))


STAFF_ONLY = frozenset({"staff"})

CASES: dict[str, Case] = {
    "openCase": Case(
        """mutation($o: ID!) { openCase(officerId: $o, grounds: ["pattern_of_misconduct"],
            summary: "three findings") { id } }""",
        lambda m: {"o": m.base.other}, "case.open", STAFF_ONLY),
    "moveCase": Case(
        """mutation($id: ID!) { moveCase(id: $id, move: REVIEW, reason: "complete") { id } }""",
        lambda m: {"id": m.open}, "case.move", STAFF_ONLY),
    "proposeOutcome": Case(
        """mutation($id: ID!) { proposeOutcome(caseId: $id, outcome: SUSPENSION,
            suspendedUntil: "2026-01-01") { id } }""",
        lambda m: {"id": m.reviewing}, "case.propose_outcome", STAFF_ONLY),
    "scheduleHearing": Case(
        """mutation($id: ID!) { scheduleHearing(caseId: $id,
            scheduledFor: "2024-05-01T09:30:00-04:00", noticeSentOn: "2024-04-01") { id } }""",
        lambda m: {"id": m.reviewing}, "case.schedule_hearing", STAFF_ONLY),
    "addBoardMember": Case(
        """mutation { addBoardMember(name: "Ana Ruiz", seat: CIVILIAN,
            termStart: "2024-07-01", termEnd: "2028-06-30") { id } }""",
        lambda m: {}, "board_member.add", frozenset({"admin"})),
    "endBoardMemberTerm": Case(
        """mutation($id: ID!) { endBoardMemberTerm(memberId: $id, termEnd: "2025-06-30",
            reason: "resigned") { id } }""",
        lambda m: {"id": m.member}, "board_member.end_term", frozenset({"admin"})),
    "castVote": Case(
        """mutation($id: ID!) { castVote(caseId: $id, vote: YES, castOn: "2024-05-02") { id } }""",
        lambda m: {"id": m.hearing}, "case.vote", frozenset({"board"})),
    "issueFinalOrder": Case(
        """mutation($id: ID!) { issueFinalOrder(caseId: $id, effectiveOn: "2024-03-15",
            publicText: "Certification revoked.") { id } }""",
        lambda m: {"id": m.voted}, "case.final_order", STAFF_ONLY),
    "fileAppeal": Case(
        """mutation($id: ID!) { fileAppeal(caseId: $id, filedOn: "2024-04-01") { id } }""",
        lambda m: {"id": m.ordered}, "case.appeal", STAFF_ONLY),
    "decideAppeal": Case(
        """mutation($id: ID!) { decideAppeal(id: $id, decision: UPHELD,
            decidedOn: "2024-06-01") { id } }""",
        lambda m: {"id": m.appeal}, "case.decide_appeal", STAFF_ONLY),
    "reinstateCertification": Case(
        """mutation($id: ID!) { reinstateCertification(certificationId: $id,
            effectiveOn: "2023-01-01", reason: "petition granted") { id } }""",
        lambda m: {"id": m.revoked}, "certification.reinstate", STAFF_ONLY),
}

MATRIX = [(name, who) for name in CASES for who in WHO]


@pytest.mark.parametrize(("mutation", "who"), MATRIX, ids=[f"{m}-{w}" for m, w in MATRIX])
async def test_mutation_by_role(client, engine, world, more, mutation, who):
    await check_mutation_by_role(client, engine, world, CASES[mutation], mutation, who,
                                 CASES[mutation].variables(more))


@pytest.mark.parametrize("who", ["agency_a", "staff", "admin", "board"])
async def test_reading_cases_and_the_board(client, world, more, who):
    from tests.conftest import gql

    body = (await gql(client, """query($id: ID!) { case(id: $id) { number }
        boardMembers { name seat hasApiKey } }""", {"id": more.open},
                      token=world.tokens[who])).json()
    if who == "agency_a":
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    else:
        assert "errors" not in body, body
        assert body["data"]["case"]["number"]
        assert body["data"]["boardMembers"] == [
            {"name": "Civ", "seat": "CIVILIAN", "hasApiKey": True},
            {"name": "Law", "seat": "LAW_ENFORCEMENT", "hasApiKey": False}]
