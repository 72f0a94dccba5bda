"""Certifications: issue, renew, the status state machine and status as of a date."""

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from registry.actors import Actor
from registry.certifications import service
from registry.certifications.models import CertificationStatus as S
from registry.certifications.status import ADMINISTRATIVE, BY_FINAL_ORDER, TRANSITIONS, Move
from registry.database import session_scope
from registry.errors import IllegalStatusMove
from registry.keys.models import Role
from registry.officers import service as officers
from tests.conftest import data, gql, row_counts

STAFF = Actor(name="test staff", role=Role.POST_STAFF)

ISSUED_ON = "2015-01-05"
CERT_FIELDS = """id number state status statusSince expiresOn suspendedUntil version allowedMoves
    history { action fromStatus toStatus effectiveOn untilOn expiresOn reason recordedBy }"""
ISSUE = f"""mutation($i: IssueCertificationInput!) {{ issueCertification(input: $i) {{
    {CERT_FIELDS} }} }}"""
RENEW = f"""mutation($id: ID!, $exp: Date!, $on: Date, $v: Int) {{
    renewCertification(id: $id, expiresOn: $exp, effectiveOn: $on, expectedVersion: $v) {{
    {CERT_FIELDS} }} }}"""
MOVE = f"""mutation($id: ID!, $m: CertificationMove!, $on: Date!, $r: String!, $v: Int) {{
    moveCertificationStatus(id: $id, move: $m, effectiveOn: $on, reason: $r,
                            expectedVersion: $v) {{ {CERT_FIELDS} }} }}"""
CERT = f"query($id: ID!) {{ certification(id: $id) {{ {CERT_FIELDS} }} }}"

# How to bring a freshly issued (active) certification into each status by legal moves:
# (move, effective date, suspension end). A denial refuses an inactive or lapsed officer's
# application to return.
PATHS: dict[S, list[tuple[Move, date, date | None]]] = {
    S.ACTIVE: [],
    S.INACTIVE: [(Move.INACTIVATE, date(2016, 1, 4), None)],
    S.LAPSED: [(Move.LAPSE, date(2016, 1, 4), None)],
    S.SUSPENDED: [(Move.SUSPEND, date(2016, 1, 4), date(2030, 1, 1))],
    S.REVOKED: [(Move.REVOKE, date(2016, 1, 4), None)],
    S.SURRENDERED: [(Move.SURRENDER, date(2016, 1, 4), None)],
    S.REINSTATED: [(Move.REVOKE, date(2016, 1, 4), None),
                   (Move.REINSTATE, date(2016, 6, 1), None)],
    S.DENIED: [(Move.LAPSE, date(2016, 1, 4), None), (Move.DENY, date(2016, 6, 1), None)],
}


def _gql_move(move: Move) -> str:
    return move.value.upper()


def _gql_status(status: S) -> str:
    return status.value.upper()


async def audit_count(engine, operation: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM audit_events WHERE operation = :op"), {"op": operation}
        )).scalar_one()


async def failure(client, query: str, variables: dict, token: str) -> dict[str, Any]:
    """The one error of a refused operation."""
    body = (await gql(client, query, variables, token=token)).json()
    assert body.get("errors") and len(body["errors"]) == 1, body
    assert all(v is None for v in (body.get("data") or {}).values()), body
    return body["errors"][0]


@pytest.fixture
async def officer(client, world) -> str:
    return (await data(client, """mutation { registerOfficer(input: {firstName: "Dana",
        lastName: "Whitfield", dateOfBirth: "1984-03"}) { id } }""",
                       token=world.tokens["staff"]))["registerOfficer"]["id"]


def _issue_input(officer_id: str, number: str = "VA-0001", **extra: Any) -> dict[str, Any]:
    return {"officerId": officer_id, "number": number, "discipline": "LAW_ENFORCEMENT",
            "level": "BASIC", "issuedOn": ISSUED_ON, "expiresOn": "2018-01-05", **extra}


@pytest.fixture
async def cert(client, world, officer) -> dict[str, Any]:
    return (await data(client, ISSUE, {"i": _issue_input(officer)},
                       token=world.tokens["staff"]))["issueCertification"]


async def force(engine, cert_id: str, status: S) -> None:
    """Bring an active certification into ``status`` along PATHS (board moves included, as a
    decertification case's final order would make them)."""
    for move, on, until in PATHS[status]:
        async with session_scope(engine) as session:
            await service.move(session=session, actor=STAFF, certification_id=uuid.UUID(cert_id),
                               move=move, effective_on=on, reason=f"test {move.value}",
                               until_on=until, by_final_order=True)


async def test_issue_makes_an_active_certification_with_an_issue_event(
        client, engine, world, officer, settings):
    before = await audit_count(engine, "certification.issue")
    c = (await data(client, ISSUE, {"i": _issue_input(officer, " VA-77 ")},
                    token=world.tokens["staff"]))["issueCertification"]
    assert c["number"] == "VA-77"
    assert c["state"] == settings.state
    assert c["status"] == "ACTIVE" and c["statusSince"] == ISSUED_ON
    assert c["version"] == 1
    assert c["history"] == [{"action": "issue", "fromStatus": None, "toStatus": "ACTIVE",
                             "effectiveOn": ISSUED_ON, "untilOn": None,
                             "expiresOn": "2018-01-05", "reason": None,
                             "recordedBy": c["history"][0]["recordedBy"]}]
    assert set(c["allowedMoves"]) == {_gql_move(m) for m in TRANSITIONS[S.ACTIVE]}
    assert await audit_count(engine, "certification.issue") == before + 1
    # The officer shows it.
    shown = (await data(client, "query($id: ID!) { officer(id: $id) { certifications { id } } }",
                        {"id": officer}, token=world.tokens["board"]))["officer"]
    assert shown["certifications"] == [{"id": c["id"]}]


async def test_renew_extends_expiry_and_keeps_the_status(client, engine, world, cert):
    staff = world.tokens["staff"]
    renewed = (await data(client, RENEW, {"id": cert["id"], "exp": "2021-01-05",
                                          "on": "2017-12-01", "v": 1}, token=staff)
               )["renewCertification"]
    assert renewed["expiresOn"] == "2021-01-05"
    assert renewed["status"] == "ACTIVE" and renewed["statusSince"] == ISSUED_ON
    assert renewed["version"] == 2
    assert [e["action"] for e in renewed["history"]] == ["issue", "renew"]
    event = renewed["history"][1]
    assert (event["fromStatus"], event["toStatus"], event["effectiveOn"], event["expiresOn"]) == (
        "ACTIVE", "ACTIVE", "2017-12-01", "2021-01-05")
    assert await audit_count(engine, "certification.renew") == 1

    # A lapsed certification can be renewed too; its status stays lapsed.
    await data(client, MOVE, {"id": cert["id"], "m": "LAPSE", "on": "2021-01-06",
                              "r": "not renewed in time"}, token=staff)
    again = (await data(client, RENEW, {"id": cert["id"], "exp": "2024-01-05",
                                        "on": "2021-02-01"}, token=staff))["renewCertification"]
    assert again["status"] == "LAPSED" and again["expiresOn"] == "2024-01-05"

    # An expiry that does not move forward is refused and changes nothing.
    counts = await row_counts(engine)
    error = await failure(client, RENEW, {"id": cert["id"], "exp": "2023-01-01",
                                          "on": "2021-03-01"}, staff)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await row_counts(engine) == counts


async def test_renewing_a_revoked_certification_is_an_illegal_move(client, engine, world, cert):
    await force(engine, cert["id"], S.REVOKED)
    counts = await row_counts(engine)
    error = await failure(client, RENEW, {"id": cert["id"], "exp": "2030-01-01",
                                          "on": "2017-01-01"}, world.tokens["staff"])
    assert error["extensions"]["code"] == "ILLEGAL_STATUS_MOVE"
    assert "revoked" in error["message"]
    assert error["extensions"]["allowedMoves"] == ["reinstate"]
    assert await row_counts(engine) == counts


ADMIN_MOVES = [(status, move) for status, moves in TRANSITIONS.items() for move in moves
               if move in ADMINISTRATIVE and status in PATHS]


@pytest.mark.parametrize(("status", "move"), ADMIN_MOVES,
                         ids=[f"{s.value}-{m.value}" for s, m in ADMIN_MOVES])
async def test_every_administrative_move_works_and_is_recorded(
        client, engine, world, cert, status, move):
    await force(engine, cert["id"], status)
    before = await audit_count(engine, f"certification.{move.value}")
    version = (await data(client, CERT, {"id": cert["id"]}, token=world.tokens["staff"])
               )["certification"]["version"]
    moved = (await data(client, MOVE, {"id": cert["id"], "m": _gql_move(move), "on": "2019-05-02",
                                       "r": "  annual   review ", "v": version},
                        token=world.tokens["staff"]))["moveCertificationStatus"]
    target = TRANSITIONS[status][move]
    assert moved["status"] == _gql_status(target)
    assert moved["statusSince"] == "2019-05-02"
    assert moved["version"] == version + 1
    assert set(moved["allowedMoves"]) == {_gql_move(m) for m in TRANSITIONS[target]}
    event = moved["history"][-1]
    assert event["action"] == move.value
    assert event["fromStatus"] == _gql_status(status)
    assert event["toStatus"] == _gql_status(target)
    assert event["effectiveOn"] == "2019-05-02"
    assert event["reason"] == "annual review"
    assert event["untilOn"] is None
    assert len(moved["history"]) == 1 + len(PATHS[status]) + 1
    assert await audit_count(engine, f"certification.{move.value}") == before + 1


async def test_reactivating_an_active_certification_is_refused_with_the_allowed_moves(
        client, engine, world, cert):
    counts = await row_counts(engine)
    error = await failure(client, MOVE, {"id": cert["id"], "m": "REACTIVATE", "on": "2016-01-01",
                                         "r": "back at work"}, world.tokens["staff"])
    assert error["extensions"]["code"] == "ILLEGAL_STATUS_MOVE"
    assert "active" in error["message"] and "reactivate" in error["message"]
    assert error["extensions"]["currentStatus"] == "active"
    assert error["extensions"]["allowedMoves"] == [m.value for m in TRANSITIONS[S.ACTIVE]]
    assert await row_counts(engine) == counts


async def test_lapsing_a_revoked_certification_is_refused(client, engine, world, cert):
    await force(engine, cert["id"], S.REVOKED)
    counts = await row_counts(engine)
    error = await failure(client, MOVE, {"id": cert["id"], "m": "LAPSE", "on": "2017-01-01",
                                         "r": "expired"}, world.tokens["staff"])
    assert error["extensions"]["code"] == "ILLEGAL_STATUS_MOVE"
    assert "revoked" in error["message"]
    assert error["extensions"]["currentStatus"] == "revoked"
    assert error["extensions"]["allowedMoves"] == ["reinstate"]
    assert await row_counts(engine) == counts


@pytest.mark.parametrize("move", sorted(BY_FINAL_ORDER))
async def test_board_moves_are_refused_through_the_status_mutation(
        client, engine, world, cert, move):
    counts = await row_counts(engine)
    response = await gql(client, MOVE, {"id": cert["id"], "m": _gql_move(move),
                                        "on": "2016-01-01", "r": "misconduct"},
                         token=world.tokens["staff"])
    body = response.json()
    assert response.status_code == 403, body
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "final order" in body["errors"][0]["message"]
    assert await row_counts(engine) == counts


async def test_status_on_a_date(client, engine, world, cert):
    staff = world.tokens["staff"]
    await data(client, MOVE, {"id": cert["id"], "m": "INACTIVATE", "on": "2015-06-01",
                              "r": "left the force"}, token=staff)
    async with session_scope(engine) as session:
        suspended = await service.move(
            session=session, actor=STAFF, certification_id=uuid.UUID(cert["id"]),
            move=Move.SUSPEND, effective_on=date(2016, 3, 1), until_on=date(2016, 9, 1),
            reason="final order 2016-12", by_final_order=True)
    assert suspended.status == S.SUSPENDED.value
    assert suspended.suspended_until == date(2016, 9, 1)
    days = {"beforeIssue": "2015-01-04", "issued": ISSUED_ON, "active": "2015-05-31",
            "inactive": "2015-06-01", "dayBefore": "2016-02-29", "suspended": "2016-03-01",
            "lastDay": "2016-08-31", "ended": "2016-09-01", "later": "2020-01-01",
            "today": date.today().isoformat()}
    query = "query($id: ID!) { certification(id: $id) { suspendedUntil " + " ".join(
        f'{alias}: statusOn(date: "{day}")' for alias, day in days.items()) + " } }"
    got = (await data(client, query, {"id": cert["id"]}, token=world.tokens["board"])
           )["certification"]
    assert got == {"suspendedUntil": "2016-09-01", "beforeIssue": None, "issued": "ACTIVE",
                   "active": "ACTIVE", "inactive": "INACTIVE", "dayBefore": "INACTIVE",
                   "suspended": "SUSPENDED", "lastDay": "SUSPENDED", "ended": "INACTIVE",
                   "later": "INACTIVE", "today": "INACTIVE"}


async def test_duplicate_certificate_number_in_the_same_state(client, engine, world, officer):
    staff = world.tokens["staff"]
    await data(client, ISSUE, {"i": _issue_input(officer, "VA-0042")}, token=staff)
    counts = await row_counts(engine)
    error = await failure(client, ISSUE, {"i": _issue_input(officer, "VA-0042")}, staff)
    assert error["extensions"]["code"] == "DUPLICATE"
    assert "VA-0042" in error["message"]
    assert await row_counts(engine) == counts
    # The same number in another state's registry is another certificate.
    other = (await data(client, ISSUE, {"i": _issue_input(officer, "VA-0042", state="MD")},
                        token=staff))["issueCertification"]
    assert other["state"] == "MD"


@pytest.mark.parametrize(("expires_on", "field"), [("2015-01-04", "expiresOn"),
                                                   ("2015-01-05", "expiresOn")])
async def test_expiry_not_after_issue_is_refused(client, engine, world, officer, expires_on,
                                                 field):
    counts = await row_counts(engine)
    error = await failure(client, ISSUE, {"i": _issue_input(officer, expiresOn=expires_on)},
                          world.tokens["staff"])
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert await row_counts(engine) == counts


async def test_issue_in_the_future_or_for_nobody_is_refused(client, engine, world, officer):
    counts = await row_counts(engine)
    staff = world.tokens["staff"]
    error = await failure(client, ISSUE, {"i": _issue_input(officer, issuedOn="2999-01-01",
                                                            expiresOn="2999-06-01")}, staff)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await failure(client, ISSUE, {"i": _issue_input(str(uuid.uuid4()))}, staff)
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await failure(client, ISSUE, {"i": _issue_input(officer, "   ")}, staff)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await row_counts(engine) == counts


async def test_effective_date_before_the_current_status_began(client, engine, world, cert):
    staff = world.tokens["staff"]
    await data(client, MOVE, {"id": cert["id"], "m": "LAPSE", "on": "2018-01-06",
                              "r": "not renewed"}, token=staff)
    counts = await row_counts(engine)
    error = await failure(client, MOVE, {"id": cert["id"], "m": "REACTIVATE", "on": "2017-12-31",
                                         "r": "renewed late"}, staff)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "effectiveOn"
    assert "2018-01-06" in error["message"]
    # In the future is refused too.
    error = await failure(client, MOVE, {"id": cert["id"], "m": "REACTIVATE", "on": "2999-01-01",
                                         "r": "renewed late"}, staff)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    # So is a move without a reason.
    error = await failure(client, MOVE, {"id": cert["id"], "m": "REACTIVATE", "on": "2018-02-01",
                                         "r": "  "}, staff)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await row_counts(engine) == counts
    # The same day the status began is fine.
    moved = (await data(client, MOVE, {"id": cert["id"], "m": "REACTIVATE", "on": "2018-01-06",
                                       "r": "renewed late"}, token=staff)
             )["moveCertificationStatus"]
    assert moved["status"] == "ACTIVE"


async def test_stale_expected_version_is_a_conflict(client, engine, world, cert):
    staff = world.tokens["staff"]
    await data(client, MOVE, {"id": cert["id"], "m": "INACTIVATE", "on": "2016-01-01",
                              "r": "left", "v": 1}, token=staff)
    counts = await row_counts(engine)
    error = await failure(client, MOVE, {"id": cert["id"], "m": "LAPSE", "on": "2016-02-01",
                                         "r": "expired", "v": 1}, staff)
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["current_version"] == 2
    error = await failure(client, RENEW, {"id": cert["id"], "exp": "2020-01-01",
                                          "on": "2016-02-01", "v": 1}, staff)
    assert error["extensions"]["code"] == "CONFLICT"
    assert await row_counts(engine) == counts


async def test_unknown_or_malformed_certification_ids(client, engine, world):
    staff = world.tokens["staff"]
    counts = await row_counts(engine)
    error = await failure(client, MOVE, {"id": str(uuid.uuid4()), "m": "LAPSE",
                                         "on": "2016-01-01", "r": "x"}, staff)
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await failure(client, MOVE, {"id": "VA-0001", "m": "LAPSE", "on": "2016-01-01",
                                         "r": "x"}, staff)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await row_counts(engine) == counts
    assert (await data(client, CERT, {"id": str(uuid.uuid4())}, token=staff)
            )["certification"] is None


# The state machine itself: every (status, move) pair, through the service.

PAIRS = [(status, move) for status in S for move in Move]


@pytest.mark.parametrize(("status", "move"), PAIRS,
                         ids=[f"{s.value}-{m.value}" for s, m in PAIRS])
async def test_state_machine_allows_exactly_its_table(engine, settings, status, move):
    async with session_scope(engine) as session:
        person = await officers.register(
            session=session, actor=Actor.system("tests"),
            officer_in=officers.OfficerIn(first_name="Lee", last_name="Moss"))
        cert = await service.issue(session=session, actor=STAFF, settings=settings,
                                   issue_in=service.IssueIn(
                                       officer_id=person.id, number="SM-1",
                                       discipline="law_enforcement", level="basic",
                                       issued_on=date(2015, 1, 5)))
    await force(engine, str(cert.id), status)
    until = date(2031, 1, 1) if move is Move.SUSPEND else None
    target = TRANSITIONS[status].get(move)
    async with session_scope(engine) as session:
        if target is None:
            with pytest.raises(IllegalStatusMove) as refused:
                await service.move(session=session, actor=STAFF, certification_id=cert.id,
                                   move=move, effective_on=date(2017, 1, 1), reason="table",
                                   until_on=until, by_final_order=True)
            assert refused.value.details == {
                "currentStatus": status.value,
                "allowedMoves": [m.value for m in TRANSITIONS[status]]}
            assert status.value in refused.value.message
        else:
            moved = await service.move(session=session, actor=STAFF, certification_id=cert.id,
                                       move=move, effective_on=date(2017, 1, 1), reason="table",
                                       until_on=until, by_final_order=True)
            assert moved.status == target.value
            assert moved.suspended_until == until
