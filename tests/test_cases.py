"""Decertification cases through GraphQL: open, review, hearing, votes, final order, appeal,
reinstatement; and every bad input refused with a stable code, nothing half-written."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from registry.database import session_scope
from registry.employment import service as employment
from registry.findings import service as findings
from tests.case_helpers import (
    APPEAL,
    CASE,
    CERT,
    DECIDE,
    GROUND,
    HEARING,
    MOVE,
    OPEN,
    ORDER,
    ORDER_DAY,
    PROPOSE,
    REINSTATE,
    STAFF,
    VOTE,
    VOTE_DAY,
    case_to,
    officer_with_cert,
    seat_board,
)
from tests.conftest import data, error_code, gql, row_counts


@pytest.fixture
async def board(engine, world):
    return await seat_board(engine, world)


async def audit_ops(engine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT operation FROM audit_events ORDER BY id"))).scalars())


async def test_full_lifecycle_revocation_overturned_on_appeal(client, engine, world, board):
    staff = world.tokens["staff"]
    officer, cert = await officer_with_cert(client, world)

    opened = (await data(client, OPEN, {"o": officer, "g": [GROUND], "s": "Fired for lying"},
                         token=staff))["openCase"]
    case = opened["id"]
    assert re.fullmatch(rf"{date.today().year}-\d{{4}}", opened["number"])
    assert opened["status"] == "OPEN" and opened["grounds"] == [GROUND]
    assert opened["history"] == [{"fromStatus": None, "toStatus": "OPEN", "reason": "opened"}]
    assert set(opened["allowedMoves"]) == {"REVIEW", "PROPOSE_OUTCOME", "CLOSE"}
    assert opened["officer"] == {"id": officer}

    assert (await data(client, MOVE, {"id": case, "m": "REVIEW", "r": "file complete"},
                       token=staff))["moveCase"]["status"] == "UNDER_REVIEW"
    motion = (await data(client, PROPOSE, {"id": case, "o": "REVOCATION"}, token=staff)
              )["proposeOutcome"]
    assert motion == {"id": case, "proposedOutcome": "REVOCATION", "proposedUntil": None,
                      "status": "UNDER_REVIEW"}
    hearing = (await data(client, HEARING, {"id": case, "at": "2024-02-20T10:00:00-05:00",
                                            "n": "2024-01-15"}, token=staff))["scheduleHearing"]
    assert hearing["case"] == {"status": "HEARING_SCHEDULED"}

    for name, vote in (("Civ", "YES"), ("Law1", "YES"), ("Law2", "NO")):
        cast = (await data(client, VOTE, {"id": case, "v": vote, "on": VOTE_DAY},
                           token=board.tokens[name]))["castVote"]
        assert cast["member"] == {"name": name} and cast["case"] == {"status": "VOTED"}

    got = (await data(client, CASE, {"id": case}, token=world.tokens["board"]))["case"]
    assert got["voteResult"] == {
        "motion": "REVOCATION", "voteDate": VOTE_DAY,
        "tally": {"yes": 2, "no": 1, "abstain": 0, "recused": 0}, "seated": 3, "present": 3,
        "quorumNeeded": 2, "quorumMet": True, "civiliansPresent": 1, "civilianPresent": True,
        "majorityBasis": "present", "yesNeeded": 2, "passed": True,
        "reason": "The motion (revocation) passed: 2 yes of 3 present; 2 needed."}
    assert [h["location"] for h in got["hearings"]] == ["Board room"]
    assert [v["member"]["seat"] for v in got["votes"]] == ["CIVILIAN", "LAW_ENFORCEMENT",
                                                          "LAW_ENFORCEMENT"]

    order = (await data(client, ORDER, {"id": case, "on": ORDER_DAY}, token=staff)
             )["issueFinalOrder"]
    assert order["outcome"] == "REVOCATION" and order["case"] == {"status": "FINAL_ORDER"}
    assert '"passed": true' in order["tally"]
    assert order["actions"] == [{"kind": "FINAL_ORDER", "outcome": "REVOCATION",
                                 "effectiveOn": ORDER_DAY, "untilOn": None,
                                 "certification": {"id": cert, "status": "REVOKED"}}]
    revoked = (await data(client, CERT, {"id": cert}, token=staff))["certification"]
    assert revoked["status"] == "REVOKED" and revoked["statusSince"] == ORDER_DAY
    assert revoked["history"][-1]["action"] == "revoke"
    assert revoked["allowedMoves"] == ["REINSTATE"]

    appeal = (await data(client, APPEAL, {"id": case, "on": "2024-04-01"}, token=staff)
              )["fileAppeal"]
    assert appeal["status"] == "PENDING" and appeal["case"] == {"status": "APPEALED"}
    decided = (await data(client, DECIDE, {"id": appeal["id"], "d": "OVERTURNED",
                                           "on": "2024-09-01"}, token=staff))["decideAppeal"]
    assert decided["status"] == "OVERTURNED" and decided["case"] == {"status": "CLOSED"}

    restored = (await data(client, CERT, {"id": cert}, token=staff))["certification"]
    assert restored["status"] == "ACTIVE" and restored["statusSince"] == "2024-09-01"
    assert [e["action"] for e in restored["history"]] == ["issue", "revoke", "restore"]
    assert restored["history"][-1]["fromStatus"] == "REVOKED"
    assert restored["history"][-1]["toStatus"] == "ACTIVE"

    final = (await data(client, CASE, {"id": case}, token=staff))["case"]
    assert [(h["fromStatus"], h["toStatus"]) for h in final["history"]] == [
        (None, "OPEN"), ("OPEN", "UNDER_REVIEW"), ("UNDER_REVIEW", "HEARING_SCHEDULED"),
        ("HEARING_SCHEDULED", "VOTED"), ("VOTED", "FINAL_ORDER"), ("FINAL_ORDER", "APPEALED"),
        ("APPEALED", "CLOSED")]
    assert final["allowedMoves"] == []
    assert [(a["kind"], a["effectiveOn"], a["certification"]) for a in final["actions"]] == [
        ("FINAL_ORDER", ORDER_DAY, {"id": cert}),
        ("APPEAL_OVERTURNED", "2024-09-01", {"id": cert})]
    assert all(a["grounds"] == [GROUND] and a["caseNumber"] == final["number"]
               for a in final["actions"])

    # One audit event per mutation, none from the certification moves inside them.
    ops = await audit_ops(engine)
    assert [o for o in ops if o.startswith(("case.", "certification.revoke"))] == [
        "case.open", "case.move", "case.propose_outcome", "case.schedule_hearing",
        "case.vote", "case.vote", "case.vote", "case.final_order", "case.appeal",
        "case.decide_appeal"]


OFFICER = """query($id: ID!) { officer(id: $id) { cases { number status }
    decertificationActions { kind outcome certification { id } } } }"""


async def test_officer_record_shows_cases_to_board_roles_and_actions_to_all(
        client, engine, world, board):
    officer, cert = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "final_order")
    number = (await data(client, CASE, {"id": case}, token=world.tokens["staff"])
              )["case"]["number"]
    for who in ("staff", "admin", "board", "agency_a"):
        got = (await data(client, OFFICER, {"id": officer}, token=world.tokens[who]))["officer"]
        assert got["decertificationActions"] == [{"kind": "FINAL_ORDER", "outcome": "REVOCATION",
                                                  "certification": {"id": cert}}]
        assert got["cases"] == ([] if who == "agency_a" else
                                [{"number": number, "status": "FINAL_ORDER"}])
    body = (await gql(client, CASE, {"id": case}, token=world.tokens["agency_a"])).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_suspension_ends_by_itself(client, engine, world, board):
    staff = world.tokens["staff"]
    officer, cert = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", outcome="SUSPENSION",
                         until="2024-06-01")
    order = (await data(client, ORDER, {"id": case, "on": ORDER_DAY}, token=staff)
             )["issueFinalOrder"]
    assert order["suspendedUntil"] == "2024-06-01"
    assert order["actions"][0]["untilOn"] == "2024-06-01"
    query = """query($id: ID!) { certification(id: $id) { status suspendedUntil allowedMoves
        during: statusOn(date: "2024-05-31") after: statusOn(date: "2024-06-01")
        history { action untilOn } } }"""
    got = (await data(client, query, {"id": cert}, token=staff))["certification"]
    # Recorded as suspended until 2024-06-01; shown as active today, as the state machine
    # treats it.
    assert got["suspendedUntil"] == "2024-06-01"
    assert got["during"] == "SUSPENDED" and got["after"] == "ACTIVE"
    assert got["status"] == "ACTIVE"
    assert "LAPSE" in got["allowedMoves"]
    assert got["history"][-1] == {"action": "suspend", "untilOn": "2024-06-01"}
    # An administrative move after the suspension ended works from the active status.
    lapse = """mutation($id: ID!) { moveCertificationStatus(id: $id, move: LAPSE,
        effectiveOn: "2024-07-01", reason: "not renewed") { status history { fromStatus } } }"""
    moved = (await data(client, lapse, {"id": cert}, token=staff))["moveCertificationStatus"]
    assert moved["status"] == "LAPSED" and moved["history"][-1]["fromStatus"] == "ACTIVE"


async def test_suspension_still_running_shows_suspended(client, engine, world, board):
    officer, cert = await officer_with_cert(client, world)
    until = (date.today() + timedelta(days=365)).isoformat()
    await case_to(client, world, board, officer, "final_order", outcome="SUSPENSION",
                  until=until)
    got = (await data(client, CERT, {"id": cert}, token=world.tokens["staff"]))["certification"]
    assert got["status"] == "SUSPENDED" and got["suspendedUntil"] == until
    assert set(got["allowedMoves"]) == {"REVOKE", "SURRENDER"}


async def test_upheld_appeal_then_reinstatement(client, engine, world, board):
    staff = world.tokens["staff"]
    officer, cert = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "appealed", outcome="SURRENDER")
    appeal = (await data(client, CASE, {"id": case}, token=staff))["case"]["appeals"][0]["id"]
    decided = (await data(client, DECIDE, {"id": appeal, "d": "UPHELD", "on": "2024-05-01"},
                          token=staff))["decideAppeal"]
    assert decided["case"] == {"status": "CLOSED"}
    assert (await data(client, CERT, {"id": cert}, token=staff))["certification"]["status"] \
        == "SURRENDERED"
    reinstated = (await data(client, REINSTATE, {"id": cert, "on": "2025-01-02"}, token=staff)
                  )["reinstateCertification"]
    assert reinstated["status"] == "REINSTATED"
    got = (await data(client, CERT, {"id": cert}, token=staff))["certification"]
    assert got["history"][-1]["action"] == "reinstate"
    actions = (await data(client, OFFICER, {"id": officer}, token=staff)
               )["officer"]["decertificationActions"]
    assert [(a["kind"], a["outcome"]) for a in actions] == [
        ("FINAL_ORDER", "SURRENDER"), ("APPEAL_UPHELD", "SURRENDER"), ("REINSTATEMENT", None)]
    assert "certification.reinstate" in await audit_ops(engine)


async def test_open_case_from_referrals(client, engine, settings, world, board):
    officer, _ = await officer_with_cert(client, world)
    async with session_scope(engine) as s:
        await employment.report_hire(session=s, actor=STAFF, hire_in=employment.HireIn(
            officer_id=officer, agency_id=world.agency_a.id, started_on=date(2015, 2, 1)))
        finding = await findings.report_finding(
            session=s, actor=STAFF, settings=settings, finding_in=findings.FindingIn(
                officer_id=officer, agency_id=world.agency_a.id, incident_on=date(2018, 1, 1),
                reported_on=date(2018, 3, 1), category="dishonesty",
                recommended_disposition="sustained", final_disposition="sustained",
                discipline="termination"))
    async with engine.connect() as conn:
        referral = str((await conn.execute(text("SELECT id FROM referrals"))).scalar_one())
    opened = (await data(client, OPEN, {"o": officer, "r": [referral]},
                         token=world.tokens["staff"]))["openCase"]
    assert opened["grounds"] == [GROUND]
    assert {"kind": "finding", "id": str(finding.id)} in opened["evidence"]
    async with engine.connect() as conn:
        status, case_id = (await conn.execute(text(
            "SELECT status, case_id FROM referrals"))).one()
    assert status == "case_opened" and str(case_id) == opened["id"]
    # The referral is taken: a second case from it is refused, nothing written.
    counts = await row_counts(engine)
    assert await error_code(client, OPEN, {"o": officer, "r": [referral]},
                            token=world.tokens["staff"]) == "REFERRAL_NOT_OPEN"
    assert await row_counts(engine) == counts


async def test_denial_of_a_lapsed_certification_and_of_an_uncertified_officer(
        client, engine, world, board):
    staff = world.tokens["staff"]
    officer, cert = await officer_with_cert(client, world)
    lapse = """mutation($id: ID!) { moveCertificationStatus(id: $id, move: LAPSE,
        effectiveOn: "2018-01-06", reason: "not renewed") { status } }"""
    await data(client, lapse, {"id": cert}, token=staff)
    await case_to(client, world, board, officer, "final_order", outcome="DENIAL")
    got = (await data(client, CERT, {"id": cert}, token=staff))["certification"]
    assert got["status"] == "DENIED" and got["history"][-1]["fromStatus"] == "LAPSED"

    nobody, _ = await officer_with_cert(client, world, "Applicant", number=None)
    case = await case_to(client, world, board, nobody, "final_order", outcome="DENIAL")
    actions = (await data(client, CASE, {"id": case}, token=staff))["case"]["actions"]
    assert [(a["kind"], a["outcome"], a["certification"]) for a in actions] == [
        ("FINAL_ORDER", "DENIAL", None)]


async def test_denial_of_an_active_certification_names_the_statuses(client, engine, world,
                                                                     board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", outcome="DENIAL")
    counts = await row_counts(engine)
    body = (await gql(client, ORDER, {"id": case, "on": ORDER_DAY},
                      token=world.tokens["staff"])).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "ILLEGAL_STATUS_MOVE"
    assert "VA-0001 is active" in error["message"]
    assert error["extensions"]["currentStatuses"] == ["active"]
    assert await row_counts(engine) == counts


async def test_failed_motion_with_quorum_allows_only_no_action(client, engine, world, board):
    officer, cert = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", votes=("YES", "NO", "NO"))
    counts = await row_counts(engine)
    body = (await gql(client, ORDER, {"id": case, "on": ORDER_DAY, "o": "REVOCATION"},
                      token=world.tokens["staff"])).json()
    assert body["errors"][0]["extensions"]["code"] == "MOTION_FAILED"
    assert await row_counts(engine) == counts
    order = (await data(client, ORDER, {"id": case, "on": ORDER_DAY},
                        token=world.tokens["staff"]))["issueFinalOrder"]
    assert order["outcome"] == "NO_ACTION"
    assert order["actions"] == [{"kind": "FINAL_ORDER", "outcome": "NO_ACTION",
                                 "effectiveOn": ORDER_DAY, "untilOn": None,
                                 "certification": None}]
    assert (await data(client, CERT, {"id": cert}, token=world.tokens["staff"])
            )["certification"]["status"] == "ACTIVE"


async def test_cases_connection_pages_and_filters(client, engine, world, board):
    staff = world.tokens["staff"]
    officer, _ = await officer_with_cert(client, world)
    other, _ = await officer_with_cert(client, world, "Other", "VA-0002")
    ids = [await case_to(client, world, board, o, "open") for o in (officer, other, officer)]
    await data(client, MOVE, {"id": ids[2], "m": "CLOSE", "r": "withdrawn"}, token=staff)
    query = """query($first: Int, $after: String, $s: CaseStatus, $o: ID) {
        cases(first: $first, after: $after, status: $s, officerId: $o) {
        edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    first = (await data(client, query, {"first": 2}, token=staff))["cases"]
    assert [e["node"]["id"] for e in first["edges"]] == ids[:2]
    assert first["pageInfo"]["hasNextPage"]
    rest = (await data(client, query, {"first": 2, "after": first["pageInfo"]["endCursor"]},
                       token=world.tokens["board"]))["cases"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[2:]
    assert not rest["pageInfo"]["hasNextPage"]
    mine = (await data(client, query, {"o": officer, "s": "OPEN"}, token=staff))["cases"]
    assert [e["node"]["id"] for e in mine["edges"]] == ids[:1]
    assert await error_code(client, query, {"after": "forged"}, token=staff) == "BAD_USER_INPUT"
    assert await error_code(client, query, {}, token=world.tokens["agency_a"]) == "FORBIDDEN"


# Bad input: each refused with a stable code, and no table changes.

async def refused(client, engine, query: str, variables: dict, token: str) -> dict:
    counts = await row_counts(engine)
    body = (await gql(client, query, variables, token=token)).json()
    assert body.get("errors") and len(body["errors"]) == 1, body
    assert await row_counts(engine) == counts
    return body["errors"][0]


async def test_vote_by_a_key_with_no_member(client, engine, world, board, settings):
    from registry.keys import service as keys
    from registry.keys.models import Role
    from tests.conftest import SYSTEM

    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "hearing")
    async with session_scope(engine) as s:
        _, token = await keys.create(session=s, actor=SYSTEM, role=Role.BOARD_MEMBER,
                                     name="unlinked")
    error = await refused(client, engine, VOTE, {"id": case, "v": "YES", "on": VOTE_DAY}, token)
    assert error["extensions"]["code"] == "NOT_A_BOARD_MEMBER"


async def test_vote_outside_the_members_term(client, engine, world):
    board = await seat_board(engine, world, (("Old", "civilian", date(2015, 1, 1),
                                              date(2019, 12, 31)),))
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "hearing")
    error = await refused(client, engine, VOTE, {"id": case, "v": "YES", "on": VOTE_DAY},
                          board.tokens["Old"])
    assert error["extensions"]["code"] == "TERM_NOT_CURRENT"
    assert "2019-12-31" in error["message"]


async def test_duplicate_vote(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", votes=("YES",))
    error = await refused(client, engine, VOTE, {"id": case, "v": "NO", "on": VOTE_DAY},
                          board.tokens["Civ"])
    assert error["extensions"]["code"] == "DUPLICATE"


async def test_final_order_without_quorum(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", votes=("YES",))
    error = await refused(client, engine, ORDER, {"id": case, "on": ORDER_DAY},
                          world.tokens["staff"])
    assert error["extensions"]["code"] == "NO_QUORUM"
    assert "1 of 3 seated members present" in error["message"]


async def test_final_order_without_a_civilian_present(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", votes=("RECUSED", "YES", "YES"))
    error = await refused(client, engine, ORDER, {"id": case, "on": ORDER_DAY},
                          world.tokens["staff"])
    assert error["extensions"]["code"] == "NO_QUORUM"
    assert "civilian" in error["message"]


async def test_suspension_ending_before_it_starts(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", outcome="SUSPENSION",
                         until="2024-03-10")
    error = await refused(client, engine, ORDER, {"id": case, "on": ORDER_DAY},
                          world.tokens["staff"])
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "2024-03-10" in error["message"]
    error = await refused(client, engine, PROPOSE, {"id": case, "o": "SUSPENSION"},
                          world.tokens["staff"])
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_motion_cannot_change_after_voting_starts(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", votes=("YES",))
    error = await refused(client, engine, PROPOSE, {"id": case, "o": "NO_ACTION"},
                          world.tokens["staff"])
    assert error["extensions"]["code"] == "VOTING_STARTED"


async def test_vote_without_a_motion(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "under_review")
    error = await refused(client, engine, VOTE, {"id": case, "v": "YES", "on": VOTE_DAY},
                          board.tokens["Civ"])
    assert error["extensions"]["code"] == "NO_MOTION"


async def test_appeal_without_a_final_order(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted")
    error = await refused(client, engine, APPEAL, {"id": case, "on": "2024-04-01"},
                          world.tokens["staff"])
    assert error["extensions"]["code"] == "NO_FINAL_ORDER"


async def test_illegal_case_moves(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "open")
    staff = world.tokens["staff"]
    error = await refused(client, engine, HEARING, {"id": case, "at": "2024-02-20T10:00:00Z",
                                                    "n": "2024-01-15"}, staff)
    assert error["extensions"]["code"] == "ILLEGAL_STATUS_MOVE"
    assert error["extensions"]["currentStatus"] == "open"
    assert error["extensions"]["allowedMoves"] == ["review", "propose_outcome", "close"]
    assert "open" in error["message"] and "schedule_hearing" in error["message"]
    await data(client, MOVE, {"id": case, "m": "CLOSE", "r": "withdrawn"}, token=staff)
    error = await refused(client, engine, MOVE, {"id": case, "m": "REVIEW", "r": "again"}, staff)
    assert error["extensions"] == {"code": "ILLEGAL_STATUS_MOVE", "currentStatus": "closed",
                                   "allowedMoves": []}
    error = await refused(client, engine, MOVE, {"id": case, "m": "VOTE", "r": "x"}, staff)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_hearing_notice_after_the_hearing(client, engine, world, board):
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "under_review")
    error = await refused(client, engine, HEARING, {"id": case, "at": "2024-02-20T10:00:00Z",
                                                    "n": "2024-02-21"}, world.tokens["staff"])
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "noticeSentOn"


async def test_open_case_bad_input(client, engine, world):
    officer, _ = await officer_with_cert(client, world)
    staff = world.tokens["staff"]
    for variables, code in (({"o": officer, "g": []}, "BAD_USER_INPUT"),
                            ({"o": officer, "g": ["no_such_ground"]}, "BAD_USER_INPUT"),
                            ({"o": "6d1f7e0c-0000-4000-8000-000000000000", "g": [GROUND]},
                             "NOT_FOUND")):
        error = await refused(client, engine, OPEN, variables, staff)
        assert error["extensions"]["code"] == code, variables
