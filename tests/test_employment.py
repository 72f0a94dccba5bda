"""Employment stints: departments report their own hires and separations."""

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from registry.employment.models import SeparationReason
from tests.conftest import data, gql, row_counts

STINT = """id rank startedOn endedOn separationReason separationNote version changeReason
    reportedAt recordedAt officer { id } agency { id } reportedBy { id }"""
HIRE = f"""mutation($i: ReportHireInput!) {{ reportHire(input: $i) {{ {STINT} }} }}"""
SEPARATE = f"""mutation($s: ID!, $i: ReportSeparationInput!, $v: Int) {{
    reportSeparation(stintId: $s, input: $i, expectedVersion: $v) {{ {STINT} }} }}"""
CORRECT = f"""mutation($id: ID!, $i: StintCorrectionInput!, $r: String!, $v: Int) {{
    correctStint(id: $id, input: $i, reason: $r, expectedVersion: $v) {{ {STINT} }} }}"""
STINTS = f"""query($id: ID!, $at: DateTime) {{ officer(id: $id, asOf: $at) {{ asOf
    stints {{ {STINT} }} }} }}"""


async def audit_count(engine, operation: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM audit_events WHERE operation = :op"), {"op": operation}
        )).scalar_one()


async def failure(client, query: str, variables: dict, token: str) -> dict[str, Any]:
    body = (await gql(client, query, variables, token=token)).json()
    assert body.get("errors") and len(body["errors"]) == 1, body
    assert all(v is None for v in (body.get("data") or {}).values()), body
    return body["errors"][0]


async def refused(client, engine, query: str, variables: dict, token: str, code: str
                  ) -> dict[str, Any]:
    """Run an operation that must fail with ``code`` and leave every table as it was."""
    counts = await row_counts(engine)
    error = await failure(client, query, variables, token)
    assert error["extensions"]["code"] == code, error
    assert error["message"]
    assert await row_counts(engine) == counts
    return error


@pytest.fixture
async def officer(client, world) -> str:
    return (await data(client, """mutation { registerOfficer(input: {firstName: "Marcus",
        lastName: "Bell", dateOfBirth: "1979"}) { id } }""",
                       token=world.tokens["staff"]))["registerOfficer"]["id"]


def hire(officer: str, agency: Any, started_on: str = "2010-02-01", **extra: Any) -> dict:
    return {"i": {"officerId": officer, "agencyId": str(agency), "startedOn": started_on,
                  **extra}}


def separation(stint: str, ended_on: str, reason: str = "RESIGNED", **extra: Any) -> dict:
    return {"s": stint, "i": {"endedOn": ended_on, "reason": reason, **extra}}


async def test_agency_reports_hire_and_separation_for_its_own_agency(client, engine, world,
                                                                     officer):
    token = world.tokens["agency_a"]
    a = str(world.agency_a.id)
    stint = (await data(client, HIRE, hire(officer, a, rank="  Patrol   Officer "), token=token)
             )["reportHire"]
    assert stint["officer"]["id"] == officer
    assert stint["agency"]["id"] == a
    assert stint["reportedBy"] == {"id": a}
    assert stint["rank"] == "Patrol Officer"
    assert stint["startedOn"] == "2010-02-01" and stint["endedOn"] is None
    assert stint["version"] == 1 and stint["reportedAt"]
    assert await audit_count(engine, "stint.hire") == 1

    ended = (await data(client, SEPARATE, separation(stint["id"], "2014-07-31", "TERMINATED",
                                                      note="sustained dishonesty finding"),
                        token=token))["reportSeparation"]
    assert ended["endedOn"] == "2014-07-31"
    assert ended["separationReason"] == "TERMINATED"
    assert ended["separationNote"] == "sustained dishonesty finding"
    assert ended["reportedBy"] == {"id": a}
    assert ended["version"] == 2
    assert await audit_count(engine, "stint.separation") == 1

    shown = (await data(client, STINTS, {"id": officer}, token=world.tokens["agency_b"])
             )["officer"]["stints"]
    assert [(s["id"], s["endedOn"]) for s in shown] == [(stint["id"], "2014-07-31")]


async def test_another_agency_cannot_hire_into_or_separate_from_agency_a(client, engine, world,
                                                                         officer):
    a = str(world.agency_a.id)
    b_token = world.tokens["agency_b"]
    error = await refused(client, engine, HIRE, hire(officer, a), b_token, "FORBIDDEN")
    assert "own agency" in error["message"]
    stint = (await data(client, HIRE, hire(officer, a), token=world.tokens["agency_a"])
             )["reportHire"]
    await refused(client, engine, SEPARATE, separation(stint["id"], "2012-01-01"), b_token,
                  "FORBIDDEN")
    await refused(client, engine, CORRECT, {"id": stint["id"], "i": {"startedOn": "2010-01-01"},
                                            "r": "typo"}, b_token, "FORBIDDEN")
    # An agency key cannot learn whether an agency id exists: someone else's is refused first.
    await refused(client, engine, HIRE, hire(officer, uuid.uuid4()), b_token, "FORBIDDEN")
    response = await gql(client, HIRE, hire(officer, a), token=b_token)
    assert response.status_code == 403


async def test_post_staff_report_for_any_agency(client, engine, world, officer):
    staff = world.tokens["staff"]
    at_a = (await data(client, HIRE, hire(officer, world.agency_a.id, "2005-03-01"),
                       token=staff))["reportHire"]
    at_b = (await data(client, HIRE, hire(officer, world.agency_b.id, "2009-09-01"),
                       token=staff))["reportHire"]
    assert at_a["reportedBy"] is None and at_b["reportedBy"] is None
    assert at_b["agency"]["id"] == str(world.agency_b.id)
    ended = (await data(client, SEPARATE, separation(at_a["id"], "2009-08-31", "TRANSFERRED"),
                        token=staff))["reportSeparation"]
    assert ended["separationReason"] == "TRANSFERRED"
    # A stint agency A reported may be separated by POST staff as well.
    own = (await data(client, HIRE, hire(officer, world.agency_a.id, "2012-01-01"),
                      token=world.tokens["agency_a"]))["reportHire"]
    (await data(client, SEPARATE, separation(own["id"], "2013-01-01", "RETIRED"), token=staff))
    stints = (await data(client, STINTS, {"id": officer}, token=staff))["officer"]["stints"]
    assert [s["startedOn"] for s in stints] == ["2005-03-01", "2009-09-01", "2012-01-01"]


async def test_overlapping_stints_at_one_agency_are_refused(client, engine, world, officer):
    token = world.tokens["agency_a"]
    a = world.agency_a.id
    first = (await data(client, HIRE, hire(officer, a, "2010-01-01"), token=token))["reportHire"]
    error = await refused(client, engine, HIRE, hire(officer, a, "2012-01-01"), token,
                          "OVERLAPPING_STINT")
    assert "overlaps" in error["message"]
    # Before the open stint started does not overlap... unless it is open too.
    await refused(client, engine, HIRE, hire(officer, a, "2008-01-01"), token,
                  "OVERLAPPING_STINT")
    # At another agency the same dates are fine (a part-time second job).
    other = (await data(client, HIRE, hire(officer, world.agency_b.id, "2012-01-01"),
                        token=world.tokens["agency_b"]))["reportHire"]
    assert other["agency"]["id"] == str(world.agency_b.id)

    await data(client, SEPARATE, separation(first["id"], "2011-06-30"), token=token)
    # End and start dates are both days worked: starting on the last day overlaps.
    await refused(client, engine, HIRE, hire(officer, a, "2011-06-30"), token,
                  "OVERLAPPING_STINT")
    rehire = (await data(client, HIRE, hire(officer, a, "2011-07-01"), token=token)
              )["reportHire"]
    # A correction that would make the two stints overlap is refused too.
    await refused(client, engine, CORRECT, {
        "id": first["id"], "i": {"startedOn": "2010-01-01", "endedOn": "2011-08-01",
                                 "separationReason": "RESIGNED"}, "r": "wrong end date"},
        token, "OVERLAPPING_STINT")
    assert rehire["startedOn"] == "2011-07-01"


async def test_end_before_start_is_refused(client, engine, world, officer):
    token = world.tokens["agency_a"]
    stint = (await data(client, HIRE, hire(officer, world.agency_a.id, "2010-02-01"),
                        token=token))["reportHire"]
    error = await refused(client, engine, SEPARATE, separation(stint["id"], "2010-01-31"),
                          token, "BAD_USER_INPUT")
    assert error["extensions"]["field"] == "endedOn"
    await refused(client, engine, CORRECT, {
        "id": stint["id"], "i": {"startedOn": "2010-02-01", "endedOn": "2009-01-01",
                                 "separationReason": "RESIGNED"}, "r": "typo"},
        token, "BAD_USER_INPUT")
    # Dates in the future, and an end date without its reason, are refused too.
    await refused(client, engine, SEPARATE, separation(stint["id"], "2999-01-01"), token,
                  "BAD_USER_INPUT")
    await refused(client, engine, HIRE, hire(officer, world.agency_b.id, "2999-01-01"),
                  world.tokens["staff"], "BAD_USER_INPUT")
    await refused(client, engine, CORRECT, {
        "id": stint["id"], "i": {"startedOn": "2010-02-01", "endedOn": "2011-01-01"},
        "r": "typo"}, token, "BAD_USER_INPUT")
    # The same day is a one-day stint.
    one_day = (await data(client, SEPARATE, separation(stint["id"], "2010-02-01"), token=token)
               )["reportSeparation"]
    assert one_day["endedOn"] == "2010-02-01"


async def test_separating_an_ended_stint_is_a_conflict(client, engine, world, officer):
    token = world.tokens["agency_a"]
    stint = (await data(client, HIRE, hire(officer, world.agency_a.id), token=token)
             )["reportHire"]
    await data(client, SEPARATE, separation(stint["id"], "2012-05-01"), token=token)
    error = await refused(client, engine, SEPARATE, separation(stint["id"], "2013-01-01",
                                                               "TERMINATED"),
                          token, "CONFLICT")
    assert "2012-05-01" in error["message"] and "correctStint" in error["message"]
    # A stale expectedVersion is a conflict as well.
    await refused(client, engine, CORRECT, {"id": stint["id"], "i": {"startedOn": "2010-02-01"},
                                            "r": "typo", "v": 1}, token, "CONFLICT")


async def test_every_separation_reason_is_accepted(client, engine, world, officer):
    token = world.tokens["agency_a"]
    reasons = [r.name for r in SeparationReason]
    schema_reasons = (await data(client, '{ __type(name: "SeparationReason") '
                                         '{ enumValues { name } } }', token=token)
                      )["__type"]["enumValues"]
    assert [v["name"] for v in schema_reasons] == reasons
    for i, reason in enumerate(reasons):
        year = 1990 + 2 * i
        stint = (await data(client, HIRE, hire(officer, world.agency_a.id, f"{year}-01-01"),
                            token=token))["reportHire"]
        ended = (await data(client, SEPARATE, separation(stint["id"], f"{year}-12-31", reason),
                            token=token))["reportSeparation"]
        assert ended["separationReason"] == reason
    stints = (await data(client, STINTS, {"id": officer}, token=token))["officer"]["stints"]
    assert [s["separationReason"] for s in stints] == reasons
    await refused(client, engine, SEPARATE, separation(str(uuid.uuid4()), "2020-01-01",
                                                       "FIRED"), token, "BAD_USER_INPUT")


async def test_correct_stint_makes_a_new_version_and_as_of_shows_the_old(client, engine, world,
                                                                         officer):
    token = world.tokens["agency_a"]
    stint = (await data(client, HIRE, hire(officer, world.agency_a.id, "2010-02-01",
                                           rank="Officer"), token=token))["reportHire"]
    corrected = (await data(client, CORRECT, {
        "id": stint["id"], "r": "academy start date was the hire date", "v": 1,
        "i": {"startedOn": "2010-01-15", "rank": "Corporal"}}, token=token))["correctStint"]
    assert corrected["version"] == 2
    assert corrected["changeReason"] == "academy start date was the hire date"
    assert (corrected["startedOn"], corrected["rank"]) == ("2010-01-15", "Corporal")
    assert corrected["reportedAt"] == stint["reportedAt"]
    assert corrected["reportedBy"] == {"id": str(world.agency_a.id)}
    assert await audit_count(engine, "stint.correct") == 1

    now = (await data(client, STINTS, {"id": officer}, token=token))["officer"]
    assert now["asOf"] is None
    assert [(s["version"], s["startedOn"], s["rank"]) for s in now["stints"]] == [
        (2, "2010-01-15", "Corporal")]
    then = (await data(client, STINTS, {"id": officer, "at": stint["recordedAt"]}, token=token)
            )["officer"]
    assert then["asOf"] is not None
    assert [(s["version"], s["startedOn"], s["rank"]) for s in then["stints"]] == [
        (1, "2010-02-01", "Officer")]

    # A reported separation corrected: the reason changes, the earlier one stays readable.
    ended = (await data(client, SEPARATE, separation(stint["id"], "2015-03-31", "RESIGNED"),
                        token=token))["reportSeparation"]
    fixed = (await data(client, CORRECT, {
        "id": stint["id"], "r": "IA file shows an open investigation", "v": 3,
        "i": {"startedOn": "2010-01-15", "rank": "Corporal", "endedOn": "2015-03-31",
              "separationReason": "RESIGNED_UNDER_INVESTIGATION",
              "separationNote": "resigned during IA case 15-22"}}, token=token))["correctStint"]
    assert fixed["version"] == 4
    assert fixed["separationReason"] == "RESIGNED_UNDER_INVESTIGATION"
    at_separation = (await data(client, STINTS, {"id": officer, "at": ended["recordedAt"]},
                                token=token))["officer"]["stints"]
    assert [(s["version"], s["endedOn"], s["separationReason"]) for s in at_separation] == [
        (3, "2015-03-31", "RESIGNED")]

    # Reopening a stint by correction (end date and reason both dropped) is allowed.
    reopened = (await data(client, CORRECT, {"id": stint["id"], "r": "reported by mistake",
                                             "i": {"startedOn": "2010-01-15"}}, token=token)
                )["correctStint"]
    assert reopened["endedOn"] is None and reopened["separationReason"] is None
    assert reopened["version"] == 5


async def test_unknown_ids_are_not_found(client, engine, world, officer):
    staff = world.tokens["staff"]
    error = await refused(client, engine, HIRE, hire(str(uuid.uuid4()), world.agency_a.id),
                          staff, "NOT_FOUND")
    assert error["extensions"]["field"] == "officerId"
    error = await refused(client, engine, HIRE, hire(officer, uuid.uuid4()), staff, "NOT_FOUND")
    assert error["extensions"]["field"] == "agencyId"
    # An agency key hiring into its own agency an officer nobody registered.
    await refused(client, engine, HIRE, hire(str(uuid.uuid4()), world.agency_a.id),
                  world.tokens["agency_a"], "NOT_FOUND")
    await refused(client, engine, SEPARATE, separation(str(uuid.uuid4()), "2012-01-01"), staff,
                  "NOT_FOUND")
    await refused(client, engine, CORRECT, {"id": str(uuid.uuid4()),
                                            "i": {"startedOn": "2010-01-01"}, "r": "x"},
                  staff, "NOT_FOUND")


@pytest.mark.parametrize(("query", "variables", "field"), [
    (HIRE, {"i": {"officerId": "banana", "agencyId": "00000000-0000-0000-0000-000000000000",
                  "startedOn": "2010-01-01"}}, "officerId"),
    (HIRE, {"i": {"officerId": "00000000-0000-0000-0000-000000000000", "agencyId": "VA1220000",
                  "startedOn": "2010-01-01"}}, "agencyId"),
    (SEPARATE, {"s": "12", "i": {"endedOn": "2012-01-01", "reason": "RESIGNED"}}, "stintId"),
    (CORRECT, {"id": "not-a-uuid", "i": {"startedOn": "2010-01-01"}, "r": "x"}, "id"),
])
async def test_a_non_uuid_id_is_bad_input(client, engine, world, query, variables, field):
    error = await refused(client, engine, query, variables, world.tokens["staff"],
                          "BAD_USER_INPUT")
    assert error["extensions"]["field"] == field
