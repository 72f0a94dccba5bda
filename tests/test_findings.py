"""Misconduct findings and convictions: who may report them, retries, amendments, who sees
them, and bad input refused with nothing written."""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from registry.database import session_scope
from registry.employment import service as employment
from registry.employment.models import SeparationReason
from registry.officers import service as officers
from tests.conftest import SYSTEM, data, error_code, gql, row_counts
from tests.test_roles import STAFF


@dataclass
class People:
    officer: str  # employed at agency A since 2010, still there
    former: str  # employed at A 2005-2012, then at B
    stranger: str  # never employed anywhere
    survivor: str  # at A; ``merged`` (also at A) was merged into it
    merged: str


@pytest.fixture
async def people(engine, settings, world) -> People:
    async def person(s, first: str, last: str) -> str:
        o = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name=first, last_name=last))
        return o.id

    async def hire(s, officer, agency, started: date):
        return await employment.report_hire(session=s, actor=STAFF, hire_in=employment.HireIn(
            officer_id=officer, agency_id=agency, started_on=started))

    async with session_scope(engine) as s:
        officer = await person(s, "Dana", "Reyes")
        await hire(s, officer, world.agency_a.id, date(2010, 3, 1))
        former = await person(s, "Lee", "Marsh")
        stint = await hire(s, former, world.agency_a.id, date(2005, 1, 1))
        await employment.report_separation(
            session=s, actor=STAFF, settings=settings, stint_id=stint.id,
            separation_in=employment.SeparationIn(date(2012, 6, 30), SeparationReason.RESIGNED))
        await hire(s, former, world.agency_b.id, date(2012, 8, 1))
        stranger = await person(s, "Sam", "Ngata")
        survivor = await person(s, "Kim", "Oduya")
        merged = await person(s, "Kimberly", "Oduya")
        await hire(s, survivor, world.agency_a.id, date(2011, 1, 1))
        await officers.merge(session=s, actor=SYSTEM, survivor_id=survivor, duplicate_id=merged,
                             reason="same person")
    return People(str(officer), str(former), str(stranger), str(survivor), str(merged))


REPORT = """mutation($i: FindingInput!, $k: String) { reportFinding(input: $i, idempotencyKey: $k) {
  id version category finalDisposition discipline suspensionDays completedAfterSeparation
  publicReleasable agency { id } officer { id } } }"""
AMEND = """mutation($id: ID!, $i: FindingInput!, $r: String!, $v: Int) {
  amendFinding(id: $id, input: $i, reason: $r, expectedVersion: $v) {
  id version finalDisposition discipline changeReason } }"""
CONVICT = """mutation($i: ConvictionInput!, $k: String) {
  reportConviction(input: $i, idempotencyKey: $k) {
  id offense level domesticViolence convictedOn court reportedBy { id } officer { id } } }"""
OFFICER = """query($id: ID!) { officer(id: $id) { id findings { id agency { id } }
  convictions { id } } }"""


def finding(officer: str, **over) -> dict:
    base = {"officerId": officer, "incidentOn": "2019-04-02", "reportedOn": "2019-09-15",
            "category": "FORCE", "recommendedDisposition": "SUSTAINED",
            "finalDisposition": "SUSTAINED", "discipline": "SUSPENSION", "suspensionDays": 10,
            "publicReleasable": True}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


async def audit_events(engine, operation: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM audit_events WHERE operation = :op"), {"op": operation}
        )).scalar_one()


async def test_agency_reports_a_finding_for_its_officer(client, engine, world, people):
    got = (await data(client, REPORT, {"i": finding(people.officer)},
                      token=world.tokens["agency_a"]))["reportFinding"]
    assert got["version"] == 1 and got["category"] == "FORCE"
    assert got["finalDisposition"] == "SUSTAINED" and got["discipline"] == "SUSPENSION"
    assert got["suspensionDays"] == 10 and got["completedAfterSeparation"] is False
    assert got["agency"]["id"] == str(world.agency_a.id)
    assert got["officer"]["id"] == people.officer
    assert await audit_events(engine, "finding.report") == 1
    one = """query($id: ID!) { finding(id: $id) { id reportedOn } }"""
    assert (await data(client, one, {"id": got["id"]}, token=world.tokens["board"])
            )["finding"]["reportedOn"] == "2019-09-15"
    # Another agency's key does not see it: filtered out, not an error.
    assert (await data(client, one, {"id": got["id"]}, token=world.tokens["agency_b"])
            )["finding"] is None


async def test_a_former_employer_reports_and_staff_report_on_behalf(client, world, people):
    got = await data(client, REPORT, {"i": finding(people.former, incidentOn="2011-01-01",
                                                   reportedOn="2013-01-01",
                                                   completedAfterSeparation=True)},
                     token=world.tokens["agency_a"])
    assert got["reportFinding"]["completedAfterSeparation"] is True
    staff = await data(client, REPORT, {"i": finding(people.former,
                                                     agencyId=str(world.agency_b.id))},
                       token=world.tokens["staff"])
    assert staff["reportFinding"]["agency"]["id"] == str(world.agency_b.id)


@pytest.mark.parametrize("who", ["admin", "staff", "board", "agency_a", "agency_b"])
async def test_who_sees_which_findings(client, world, people, who):
    """POST staff, board members and admins see every finding and conviction; an agency key
    sees those its own agency reported."""
    a = (await data(client, REPORT, {"i": finding(people.former, incidentOn="2011-02-02")},
                    token=world.tokens["agency_a"]))["reportFinding"]["id"]
    b = (await data(client, REPORT, {"i": finding(people.former, category="BIAS")},
                    token=world.tokens["agency_b"]))["reportFinding"]["id"]
    conviction = {"officerId": people.former, "offense": "DUI", "level": "MISDEMEANOR",
                  "convictedOn": "2020-01-01"}
    c = (await data(client, CONVICT, {"i": conviction}, token=world.tokens["agency_b"])
         )["reportConviction"]["id"]
    got = (await data(client, OFFICER, {"id": people.former}, token=world.tokens[who])
           )["officer"]
    expected = {"agency_a": [a], "agency_b": [b]}.get(who, [a, b])
    assert [f["id"] for f in got["findings"]] == expected  # by incident date
    assert [x["id"] for x in got["convictions"]] == ([] if who == "agency_a" else [c])


async def test_findings_of_merged_records_show_on_the_person(client, world, people):
    f1 = (await data(client, REPORT, {"i": finding(people.merged, incidentOn="2015-01-01")},
                     token=world.tokens["agency_a"]))["reportFinding"]
    f2 = (await data(client, REPORT, {"i": finding(people.survivor)},
                     token=world.tokens["agency_a"]))["reportFinding"]
    assert f1["officer"]["id"] == people.survivor
    got = (await data(client, OFFICER, {"id": people.merged}, token=world.tokens["staff"])
           )["officer"]
    assert [f["id"] for f in got["findings"]] == [f1["id"], f2["id"]]


async def test_a_retried_report_creates_nothing_new(client, engine, world, people):
    variables = {"i": finding(people.officer), "k": "rms-4411"}
    first = (await data(client, REPORT, variables, token=world.tokens["agency_a"])
             )["reportFinding"]
    counts = await row_counts(engine)
    again = (await data(client, REPORT, variables, token=world.tokens["agency_a"])
             )["reportFinding"]
    assert again == first
    assert await row_counts(engine) == counts  # no row, no audit event
    # The same key with different content is refused with its own code.
    changed = {"i": finding(people.officer, suspensionDays=12), "k": "rms-4411"}
    body = (await gql(client, REPORT, changed, token=world.tokens["agency_a"])).json()
    assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert body["errors"][0]["extensions"]["existingId"] == first["id"]
    assert await row_counts(engine) == counts
    # Keys are per agency: POST staff on behalf of agency B may reuse it (former officer).
    other = {"i": finding(people.former, agencyId=str(world.agency_b.id)), "k": "rms-4411"}
    assert (await data(client, REPORT, other, token=world.tokens["staff"]))["reportFinding"]
    # A retry after an amendment still returns the finding (compared with the first version).
    await data(client, AMEND, {"id": first["id"], "i": finding(people.officer, suspensionDays=5),
                               "r": "arbitration"}, token=world.tokens["agency_a"])
    counts = await row_counts(engine)
    again = (await data(client, REPORT, variables, token=world.tokens["agency_a"])
             )["reportFinding"]
    assert again["id"] == first["id"] and again["version"] == 2
    assert await row_counts(engine) == counts


async def test_amendments_are_versions_with_history(client, engine, world, people):
    pending = finding(people.officer, finalDisposition="PENDING", discipline=None,
                      suspensionDays=None)
    f = (await data(client, REPORT, {"i": pending}, token=world.tokens["agency_a"])
         )["reportFinding"]
    sustained = finding(people.officer, discipline="TERMINATION", suspensionDays=None)
    got = (await data(client, AMEND, {"id": f["id"], "i": sustained, "r": "board decided",
                                      "v": 1}, token=world.tokens["agency_a"]))["amendFinding"]
    assert got == {"id": f["id"], "version": 2, "finalDisposition": "SUSTAINED",
                   "discipline": "TERMINATION", "changeReason": "board decided"}
    reversed_ = finding(people.officer, discipline="SUSPENSION", suspensionDays=20)
    await data(client, AMEND, {"id": f["id"], "i": reversed_, "r": "arbitration award",
                               "v": 2}, token=world.tokens["staff"])
    counts = await row_counts(engine)
    stale = await error_code(client, AMEND, {"id": f["id"], "i": sustained, "r": "again",
                                             "v": 2}, token=world.tokens["agency_a"])
    assert stale == "CONFLICT"
    assert await error_code(client, AMEND, {"id": f["id"], "i": sustained, "r": "mine"},
                            token=world.tokens["agency_b"]) == "FORBIDDEN"
    assert await error_code(client, AMEND, {"id": f["id"], "i": sustained, "r": "  "},
                            token=world.tokens["agency_a"]) == "BAD_USER_INPUT"
    moved = finding(people.former)
    assert await error_code(client, AMEND, {"id": f["id"], "i": moved, "r": "x"},
                            token=world.tokens["agency_a"]) == "BAD_USER_INPUT"
    assert await row_counts(engine) == counts
    history = """query($id: ID!) { finding(id: $id) { version versions { version
        finalDisposition discipline suspensionDays changeReason supersededAt } } }"""
    got = (await data(client, history, {"id": f["id"]}, token=world.tokens["staff"])
           )["finding"]
    assert got["version"] == 3
    assert [(v["version"], v["finalDisposition"], v["discipline"], v["suspensionDays"],
             v["changeReason"]) for v in got["versions"]] == [
        (1, "PENDING", None, None, None), (2, "SUSTAINED", "TERMINATION", None, "board decided"),
        (3, "SUSTAINED", "SUSPENSION", 20, "arbitration award")]
    assert got["versions"][0]["supersededAt"] and got["versions"][2]["supersededAt"] is None
    assert await audit_events(engine, "finding.amend") == 2
    # The history is for POST staff: an agency key is refused on that field.
    body = (await gql(client, history, {"id": f["id"]}, token=world.tokens["agency_a"])).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


FUTURE = (date.today() + timedelta(days=3)).isoformat()
BAD_FINDINGS = {
    "never employed": (lambda p: finding(p.stranger), "NOT_EMPLOYED_BY_AGENCY"),
    "employed elsewhere": (lambda p: finding(p.officer, agencyId="B"), "NOT_EMPLOYED_BY_AGENCY"),
    "no such officer": (lambda p: finding("00000000-0000-4000-8000-000000000000"), "NOT_FOUND"),
    "not an id": (lambda p: finding("officer-7"), "BAD_USER_INPUT"),
    "report before incident": (lambda p: finding(p.officer, reportedOn="2019-01-01"),
                               "BAD_USER_INPUT"),
    "suspension without days": (lambda p: finding(p.officer, suspensionDays=None),
                                "BAD_USER_INPUT"),
    "days without suspension": (lambda p: finding(p.officer, discipline="DEMOTION"),
                                "BAD_USER_INPUT"),
    "days out of range": (lambda p: finding(p.officer, suspensionDays=0), "BAD_USER_INPUT"),
    "future incident": (lambda p: finding(p.officer, incidentOn=FUTURE, reportedOn=FUTURE),
                        "BAD_USER_INPUT"),
    "future report": (lambda p: finding(p.officer, reportedOn=FUTURE), "BAD_USER_INPUT"),
    "pending with discipline": (lambda p: finding(p.officer, finalDisposition="PENDING"),
                                "BAD_USER_INPUT"),
    "completed after a separation that did not happen": (
        lambda p: finding(p.officer, completedAfterSeparation=True), "BAD_USER_INPUT"),
    "summary too long": (lambda p: finding(p.officer, summary="x" * 10_001), "BAD_USER_INPUT"),
}


@pytest.mark.parametrize("case", BAD_FINDINGS)
async def test_bad_findings_are_refused_and_write_nothing(client, engine, world, people, case):
    make, code = BAD_FINDINGS[case]
    variables = make(people)
    token = world.tokens["agency_a"]
    if variables.get("agencyId") == "B":
        variables["agencyId"], token = str(world.agency_b.id), world.tokens["agency_b"]
    counts = await row_counts(engine)
    body = (await gql(client, REPORT, {"i": variables}, token=token)).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, body
    assert error["message"]
    assert await row_counts(engine) == counts


async def test_input_the_schema_refuses(client, engine, world, people):
    """Unknown enum values and missing fields fail GraphQL validation (422)."""
    counts = await row_counts(engine)
    for bad in (finding(people.officer, category="RUDENESS"),
                finding(people.officer, discipline="FINE"),
                {k: v for k, v in finding(people.officer).items() if k != "incidentOn"}):
        response = await gql(client, REPORT, {"i": bad}, token=world.tokens["agency_a"])
        assert response.status_code == 422, response.text
    # POST staff must say for which agency; a long idempotency key is refused.
    body = (await gql(client, REPORT, {"i": finding(people.officer)},
                      token=world.tokens["staff"])).json()
    assert body["errors"][0]["extensions"]["field"] == "agencyId"
    body = (await gql(client, REPORT, {"i": finding(people.officer), "k": "k" * 201},
                      token=world.tokens["agency_a"])).json()
    assert body["errors"][0]["extensions"]["field"] == "idempotencyKey"
    assert await row_counts(engine) == counts


async def test_convictions(client, engine, world, people):
    conviction = {"officerId": people.former, "offense": "Assault and battery (family member)",
                  "level": "MISDEMEANOR", "domesticViolence": True,
                  "convictedOn": "2021-05-04", "court": "Henrico General District Court"}
    got = (await data(client, CONVICT, {"i": conviction, "k": "court-1"},
                      token=world.tokens["agency_a"]))["reportConviction"]
    assert got["level"] == "MISDEMEANOR" and got["domesticViolence"] is True
    assert got["reportedBy"] == {"id": str(world.agency_a.id)}
    counts = await row_counts(engine)
    again = (await data(client, CONVICT, {"i": conviction, "k": "court-1"},
                        token=world.tokens["agency_a"]))["reportConviction"]
    assert again == got and await row_counts(engine) == counts
    changed = {**conviction, "level": "FELONY"}
    assert await error_code(client, CONVICT, {"i": changed, "k": "court-1"},
                            token=world.tokens["agency_a"]) == "IDEMPOTENCY_KEY_REUSED"
    # POST staff enter a conviction without naming an agency, for anyone.
    staff = (await data(client, CONVICT, {"i": {**conviction, "officerId": people.stranger}},
                        token=world.tokens["staff"]))["reportConviction"]
    assert staff["reportedBy"] is None
    for bad, code in (({**conviction, "officerId": people.stranger}, "NOT_EMPLOYED_BY_AGENCY"),
                      ({**conviction, "offense": "  "}, "BAD_USER_INPUT"),
                      ({**conviction, "convictedOn": FUTURE}, "BAD_USER_INPUT"),
                      ({**conviction, "court": "c" * 301}, "BAD_USER_INPUT")):
        assert await error_code(client, CONVICT, {"i": bad},
                                token=world.tokens["agency_a"]) == code
    assert await row_counts(engine) == {**counts, "convictions": counts["convictions"] + 1,
                                        "referrals": counts["referrals"] + 1,
                                        "audit_events": counts["audit_events"] + 1}
    assert await audit_events(engine, "conviction.report") == 2
