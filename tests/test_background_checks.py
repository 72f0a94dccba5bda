"""The hiring background check: who may run it, what it finds across name variants, what it
shows, the trail it leaves, its allowance, and bad input refused with nothing written."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import text

from registry.background_checks.candidate import parse_candidate
from registry.background_checks.matching import find_matches
from registry.certifications import service as certifications
from registry.certifications.models import Discipline, Level
from registry.database import observe_statements, session_scope
from registry.dates import PartialDate
from registry.employment import service as employment
from registry.employment.models import SeparationReason
from registry.findings import service as findings
from registry.officers import service as officers
from registry.officers.models import NameKind
from tests.conftest import SYSTEM, data, gql, row_counts
from tests.test_report_page import checked  # noqa: F401  (a fixture)
from tests.test_roles import STAFF

CHECK = """query($c: CandidateInput!, $p: CheckPurpose!) {
  backgroundCheck(candidate: $c, purpose: $p) {
    checkId purpose threshold reportUrl
    matches { rank score reasons { evidence method detail }
      officer { id fullName dateOfBirth
        certifications { number state status }
        stints { agency { name } separationReason }
        findings { category finalDisposition agency { name } }
        cases { number status }
        flags { decertifiedAnywhere terminated resignedUnderInvestigation openCase
                sustainedFinding } } } } }"""


@dataclass
class Registry:
    william: str  # William "Bill" Hartley-Moore, born 1984-03-07, cert VA 2004-1187
    namesake: str  # William Hartley-Moore, born 1961-11-30 (a different man)
    maiden: str  # Jessica Okafor, formerly Jessica Brandt (maiden), born 1990-06-15


@pytest.fixture
async def registry(engine, settings, world) -> Registry:
    async with session_scope(engine) as s:
        william = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="William", middle_name="James", last_name="Hartley-Moore",
            birth_date=PartialDate(1984, 3, 7)))
        await certifications.issue(session=s, actor=STAFF, settings=settings,
                                   issue_in=certifications.IssueIn(
                                       officer_id=william.id, number="2004-1187",
                                       discipline=Discipline.LAW_ENFORCEMENT, level=Level.BASIC,
                                       issued_on=date(2004, 6, 1)))
        stint = await employment.report_hire(session=s, actor=STAFF, hire_in=employment.HireIn(
            officer_id=william.id, agency_id=world.agency_b.id, started_on=date(2004, 7, 1)))
        await findings.report_finding(
            session=s, actor=STAFF, settings=settings, finding_in=findings.FindingIn(
                officer_id=william.id, agency_id=world.agency_b.id,
                incident_on=date(2019, 2, 1), reported_on=date(2019, 5, 1),
                category="dishonesty", recommended_disposition="sustained",
                final_disposition="sustained", discipline="termination"))
        await findings.report_finding(
            session=s, actor=STAFF, settings=settings, finding_in=findings.FindingIn(
                officer_id=william.id, agency_id=world.agency_b.id,
                incident_on=date(2018, 2, 1), reported_on=date(2018, 5, 1),
                category="force", recommended_disposition="exonerated",
                final_disposition="exonerated"))
        await employment.report_separation(
            session=s, actor=STAFF, settings=settings, stint_id=stint.id,
            separation_in=employment.SeparationIn(date(2019, 6, 30),
                                                  SeparationReason.TERMINATED))
        namesake = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="William", last_name="Hartley-Moore", birth_date=PartialDate(1961, 11, 30)))
        maiden = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Jessica", last_name="Okafor", birth_date=PartialDate(1990, 6, 15),
            other_names=[officers.NameIn(last_name="Brandt", kind=NameKind.MAIDEN)]))
    return Registry(str(william.id), str(namesake.id), str(maiden.id))


def candidate(**over) -> dict:
    base = {"firstName": "William", "lastName": "Hartley-Moore", "dateOfBirth": "1984-03-07"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


async def check(client, world, who: str = "agency_a", purpose: str = "HIRING", **over) -> dict:
    return (await data(client, CHECK, {"c": candidate(**over), "p": purpose},
                       token=world.tokens[who]))["backgroundCheck"]


def methods(match: dict) -> set[tuple[str, str]]:
    return {(r["evidence"], r["method"]) for r in match["reasons"]}


async def test_exact_candidate_ranks_the_person_first_with_the_full_report(
        client, world, registry):
    result = await check(client, world)
    first = result["matches"][0]
    assert first["officer"]["id"] == registry.william
    assert first["rank"] == 1 and first["score"] == 1.0
    assert {("FIRST_NAME", "EXACT"), ("LAST_NAME", "EXACT"),
            ("DATE_OF_BIRTH", "EXACT")} <= methods(first)
    officer = first["officer"]
    assert officer["certifications"] == [{"number": "2004-1187", "state": "VA",
                                          "status": "ACTIVE"}]
    assert officer["stints"][0]["separationReason"] == "TERMINATED"
    # Agency A did not report the finding, yet sees the sustained one (not the exonerated).
    assert [f["finalDisposition"] for f in officer["findings"]] == ["SUSTAINED"]
    assert officer["flags"] == {"decertifiedAnywhere": False, "terminated": True,
                                "resignedUnderInvestigation": False, "openCase": False,
                                "sustainedFinding": True}
    assert result["reportUrl"] == f"/reports/background-checks/{result['checkId']}"
    # The namesake born 23 years earlier is not reported, or ranks far below.
    others = [m for m in result["matches"] if m["officer"]["id"] == registry.namesake]
    assert not others or others[0]["score"] < first["score"] - 0.3


@pytest.mark.parametrize("over,expected", [
    ({"firstName": "Bill"}, ("FIRST_NAME", "NICKNAME")),
    ({"firstName": "Hartley-Moore", "lastName": "William"}, ("NAME", "SWAPPED_NAME_PARTS")),
    ({"lastName": "Moore"}, ("LAST_NAME", "COMPOUND_SURNAME")),
    ({"lastName": "Hartley Moore"}, ("LAST_NAME", "EXACT")),
    ({"lastName": "Hartly-Moore"}, ("LAST_NAME", "COMPOUND_SURNAME")),
    ({"firstName": "W."}, ("FIRST_NAME", "INITIAL")),
    ({"firstName": "Willian"}, ("FIRST_NAME", "TRIGRAM")),
    ({"dateOfBirth": "1984-07-03"}, ("DATE_OF_BIRTH", "TRANSPOSED")),
    ({"dateOfBirth": "1984"}, ("DATE_OF_BIRTH", "PARTIAL")),
    ({"firstName": "Wílliam", "lastName": "HARTLEY—MOORE"}, ("LAST_NAME", "EXACT")),
])
async def test_variants_of_the_name_find_the_person_first(client, world, registry, over,
                                                          expected):
    result = await check(client, world, **over)
    first = result["matches"][0]
    assert first["officer"]["id"] == registry.william, result["matches"]
    assert expected in methods(first), first["reasons"]


async def test_maiden_name_on_record_and_prior_name_entered(client, world, registry):
    by_maiden = await check(client, world, firstName="Jessica", lastName="Brandt",
                            dateOfBirth="1990-06-15")
    assert by_maiden["matches"][0]["officer"]["id"] == registry.maiden
    assert ("NAME", "PRIOR_NAME") in methods(by_maiden["matches"][0])
    entered_prior = await check(client, world, firstName="Jessica", lastName="Nwosu",
                                priorNames=["Jessica Okafor"], dateOfBirth="1990-06-15")
    assert entered_prior["matches"][0]["officer"]["id"] == registry.maiden


async def test_certificate_number_dominates_a_wrong_name(client, world, registry):
    result = await check(client, world, firstName="Bill", lastName="Moore", dateOfBirth=None,
                         certificateNumbers=[{"state": "va", "number": " 2004-1187 "}])
    first = result["matches"][0]
    assert first["officer"]["id"] == registry.william
    assert ("CERTIFICATE_NUMBER", "EXACT") in methods(first)
    assert first["score"] >= 0.9


async def test_a_name_alone_never_reaches_the_top_score(client, world, registry):
    result = await check(client, world, dateOfBirth=None)
    assert result["matches"], "a name-only candidate still finds people"
    assert max(m["score"] for m in result["matches"]) <= 0.7


async def test_date_of_birth_separates_namesakes(client, world, registry):
    result = await check(client, world, dateOfBirth="1961-11-30", middleName=None)
    assert result["matches"][0]["officer"]["id"] == registry.namesake
    later = [m for m in result["matches"] if m["officer"]["id"] == registry.william]
    assert not later or later[0]["score"] < result["matches"][0]["score"]


async def test_nobody_matches_an_unknown_candidate(client, world, registry):
    result = await check(client, world, firstName="Zebulon", lastName="Quackenbush",
                         dateOfBirth="1970-01-01")
    assert result["matches"] == []


async def test_a_merged_record_is_found_as_its_person(engine, settings, world, registry):
    async with session_scope(engine) as s:
        dup = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Billy", last_name="Hartley", birth_date=PartialDate(1984, 3, 7)))
        await officers.merge(session=s, actor=SYSTEM, survivor_id=uuid.UUID(registry.william),
                             duplicate_id=dup.id, reason="same person")
        matches = await find_matches(s, parse_candidate(first_name="Billy", last_name="Hartley",
                                                        date_of_birth="1984-03-07"),
                                     threshold=0.5, trigram_floor=0.3, limit=10)
    assert [str(m.officer_id) for m in matches][:1] == [registry.william]
    assert len({m.officer_id for m in matches}) == len(matches)


async def test_post_staff_see_every_finding_agency_keys_only_sustained_and_pending(
        client, world, registry):
    staff = await check(client, world, who="staff", purpose="AUDIT")
    assert sorted(f["finalDisposition"] for f in staff["matches"][0]["officer"]["findings"]) \
        == ["EXONERATED", "SUSTAINED"]


@pytest.mark.parametrize("who", ["board", "admin"])
async def test_only_agency_and_post_staff_keys_run_checks(client, world, registry, engine, who):
    before = await row_counts(engine)
    body = (await gql(client, CHECK, {"c": candidate(), "p": "HIRING"},
                      token=world.tokens[who])).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await row_counts(engine) == before


async def test_anonymous_callers_get_401(client, registry):
    response = await gql(client, CHECK, {"c": candidate(), "p": "HIRING"})
    assert response.status_code == 401


async def test_every_check_leaves_an_audit_event_and_a_hit_per_person(
        client, world, registry, engine):
    result = await check(client, world, purpose="PROMOTION")
    async with engine.connect() as conn:
        event = (await conn.execute(text(
            "SELECT actor, role, agency_id, after FROM audit_events "
            "WHERE operation = 'backgroundCheck' AND entity_id = :id"),
            {"id": result["checkId"]})).one()
        hits = (await conn.execute(text(
            "SELECT officer_id::text, agency_id, rank FROM background_check_hits "
            "WHERE check_id = :id ORDER BY rank"), {"id": result["checkId"]})).all()
    assert event.actor == "test agency_a" and event.role == "agency"
    assert event.agency_id == world.agency_a.id
    assert event.after["purpose"] == "promotion"
    assert len(event.after["input_hash"]) == 64
    assert event.after["officer_ids"] == [m["officer"]["id"] for m in result["matches"]]
    assert [h.officer_id for h in hits] == [m["officer"]["id"] for m in result["matches"]]
    assert all(h.agency_id == world.agency_a.id for h in hits)


LIST = """query($a: ID, $o: ID) { backgroundChecks(agencyId: $a, officerId: $o, first: 10) {
  edges { node { id purpose actor agency { name } inputHash candidate { firstName lastName
  dateOfBirth } matches { rank score officer { id } } } } } }"""


async def test_post_staff_list_checks_by_officer_and_by_agency(client, world, registry):
    a = await check(client, world, who="agency_a")
    b = await check(client, world, who="agency_b", firstName="Jessica", lastName="Okafor",
                    dateOfBirth="1990-06-15")
    on_william = await data(client, LIST, {"o": registry.william}, token=world.tokens["staff"])
    assert [e["node"]["id"] for e in on_william["backgroundChecks"]["edges"]] == [a["checkId"]]
    node = on_william["backgroundChecks"]["edges"][0]["node"]
    assert node["candidate"] == {"firstName": "William", "lastName": "Hartley-Moore",
                                 "dateOfBirth": "1984-03-07"}
    by_b = await data(client, LIST, {"a": str(world.agency_b.id)}, token=world.tokens["staff"])
    assert [e["node"]["id"] for e in by_b["backgroundChecks"]["edges"]] == [b["checkId"]]
    # An agency lists its own checks only.
    own = await data(client, LIST, {}, token=world.tokens["agency_a"])
    assert [e["node"]["id"] for e in own["backgroundChecks"]["edges"]] == [a["checkId"]]
    body = (await gql(client, LIST, {"a": str(world.agency_b.id)},
                      token=world.tokens["agency_a"])).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_key_over_its_hourly_allowance_is_refused_with_retry_after(
        client, world, registry, settings, engine):
    settings.checks_per_hour = 2
    await check(client, world)
    await check(client, world)
    before = await row_counts(engine)
    body = (await gql(client, CHECK, {"c": candidate(), "p": "HIRING"},
                      token=world.tokens["agency_a"])).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfter"] <= 3601
    assert await row_counts(engine) == before
    # The allowance is per key: another agency's key is not affected.
    await check(client, world, who="agency_b")


async def test_concurrent_checks_of_one_key_never_run_past_its_allowance(
        client, world, registry, settings, engine):
    # The matching runs unlocked; the count under the key's lock just before the trail is what
    # keeps eight checks at once from all taking the last three.
    settings.checks_per_hour = 3
    bodies = await asyncio.gather(*(
        gql(client, CHECK, {"c": candidate(), "p": "HIRING"}, token=world.tokens["agency_a"])
        for _ in range(8)))
    answers = [b.json() for b in bodies]
    assert sum("errors" not in a for a in answers) == 3, answers
    assert {a["errors"][0]["extensions"]["code"] for a in answers if "errors" in a} \
        == {"RATE_LIMITED"}
    async with engine.connect() as conn:
        stored = (await conn.execute(text(
            "SELECT count(*) FROM background_checks WHERE agency_id = :a"),
            {"a": world.agency_a.id})).scalar_one()
    assert stored == 3


@pytest.mark.parametrize("over,field", [
    ({"firstName": "  "}, "firstName"),
    ({"lastName": "--"}, "lastName"),
    ({"dateOfBirth": "2999-01-01"}, "dateOfBirth"),
    ({"dateOfBirth": "1984-02-30"}, "dateOfBirth"),
    ({"dateOfBirth": "03/07/1984"}, "dateOfBirth"),
    ({"certificateNumbers": [{"state": "XX", "number": "1"}]}, "certificateNumbers[0].state"),
    ({"certificateNumbers": [{"state": "VA", "number": " "}]}, "certificateNumbers[0].number"),
    ({"priorNames": [f"Name {i}" for i in range(1000)]}, "priorNames"),
    ({"priorNames": ["  "]}, "priorNames[0]"),
    ({"firstName": "x" * 101}, "firstName"),
])
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
        client, world, registry, engine, over, field):
    before = await row_counts(engine)
    body = (await gql(client, CHECK, {"c": candidate(**over), "p": "HIRING"},
                      token=world.tokens["agency_a"])).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert error["extensions"]["field"] == field
    assert await row_counts(engine) == before


async def test_unknown_purpose_and_missing_names_fail_validation(client, world, registry,
                                                                 engine):
    before = await row_counts(engine)
    for variables in ({"c": candidate(), "p": "CURIOSITY"},
                      {"c": {"lastName": "Moore"}, "p": "HIRING"}):
        response = await gql(client, CHECK, variables, token=world.tokens["agency_a"])
        # The document fails validation: refused before anything runs (GraphQL-over-HTTP).
        assert response.status_code == 422
        assert "CheckPurpose" in str(response.json()) or "firstName" in str(response.json())
    assert await row_counts(engine) == before


# Every relation of the report, with fields read through other loaders (agency, reportedBy,
# the certification's officer, the action's case number).
RECORD = """id fullName dateOfBirth recordIds otherNames { kind firstName lastName recordedAt }
  certifications { id number state status statusSince suspendedUntil allowedMoves
    history { action fromStatus toStatus effectiveOn untilOn reason recordedAt } officer { id } }
  stints { id rank startedOn endedOn separationReason separationNote agency { name ori }
    reportedBy { name } }
  findings { id incidentOn category finalDisposition discipline agency { name } }
  convictions { offense level convictedOn }
  cases { number status grounds finalOrder { outcome effectiveOn } }
  decertificationActions { kind outcome effectiveOn grounds caseNumber }"""


async def test_the_report_shows_the_record_as_the_officer_query_does_in_one_statement(
        app, client, engine, world, checked):  # noqa: F811
    """The check reads everything it reports about a person (merged records included) in one
    statement; what it shows POST staff is what the officer query shows them."""
    async with session_scope(engine) as s:
        dup = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Dana", last_name="Kessler", birth_date=PartialDate(1984, 6, 12)))
        await employment.report_hire(session=s, actor=STAFF, hire_in=employment.HireIn(
            officer_id=dup.id, agency_id=world.agency_a.id, started_on=date(2005, 1, 3)))
        await officers.merge(session=s, actor=SYSTEM, survivor_id=uuid.UUID(checked.officer),
                             duplicate_id=dup.id, reason="same person")
    statements: list[str] = []
    query = ("query($c: CandidateInput!) { backgroundCheck(candidate: $c, purpose: AUDIT) { "
             "matches { officer { " + RECORD + " } } } }")
    with observe_statements(app.state.engine, lambda sql, _args: statements.append(sql)):
        found = await data(client, query, {"c": {"firstName": "Dana", "lastName": "Whitfield",
                                                 "dateOfBirth": "1984-06-12"}},
                           token=world.tokens["staff"])
        reporting = len(statements)
        # The report is read in the check's transaction before its audit event, which holds
        # the audit chain's lock until the commit: nothing is sent after it.
        report = next(i for i, sql in enumerate(statements) if "AS status_events" in sql)
        audit = next(i for i, sql in enumerate(statements) if "INSERT INTO audit_events" in sql)
        assert report < audit == len(statements) - 1
        statements.clear()
        await data(client, query, {"c": candidate(firstName="Zebulon", lastName="Quackenbush")},
                   token=world.tokens["staff"])
    # reportedBy is not part of the report: POST staff entered these stints, so it is null
    # and no agency is loaded for it.
    assert reporting == len(statements) + 1
    reported = found["backgroundCheck"]["matches"][0]["officer"]
    assert len(reported["recordIds"]) == 2 and len(reported["stints"]) == 3
    assert reported["cases"] and reported["decertificationActions"][0]["caseNumber"]
    record = await data(client, f"query($id: ID!) {{ officer(id: $id) {{ {RECORD} }} }}",
                        {"id": checked.officer}, token=world.tokens["staff"])
    assert reported == record["officer"]
