"""Who may do what: every mutation tried with every role's key. A refused write is FORBIDDEN
(HTTP 403) and leaves every table as it was; an accepted one appends exactly one audit event."""

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from registry.actors import Actor
from registry.certifications import service as certifications
from registry.database import session_scope
from registry.employment import service as employment
from registry.keys.models import Role
from registry.officers import service as officers
from tests.conftest import SYSTEM, data, gql, row_counts

STAFF = Actor(name="test staff", role=Role.POST_STAFF)
WHO = ("admin", "staff", "board", "agency_a", "agency_b")
ROLE_OF = {"admin": "ADMIN", "staff": "POST_STAFF", "board": "BOARD_MEMBER",
           "agency_a": "AGENCY", "agency_b": "AGENCY"}


@dataclass
class Targets:
    agency_a: str
    agency_b: str
    officer: str  # certified (cert), employed at agency A (stint), with a source record
    cert: str
    stint: str
    other: str  # not employed anywhere
    duplicate: str  # a second record that could be merged into ``other``
    survivor: str  # ``merged`` was merged into it
    merged: str


@pytest.fixture
async def targets(engine, settings, world) -> Targets:
    def person(first: str, last: str) -> officers.OfficerIn:
        return officers.OfficerIn(first_name=first, last_name=last)

    async with session_scope(engine) as s:
        officer = await officers.register(
            session=s, actor=SYSTEM, officer_in=person("Grace", "Okoro"),
            source=officers.SourceIn("rms", "emp-1", {"badge": "1234"}))
        cert = await certifications.issue(session=s, actor=STAFF, settings=settings,
                                          issue_in=certifications.IssueIn(
                                              officer_id=officer.id, number="VA-9000",
                                              discipline="law_enforcement", level="basic",
                                              issued_on=date(2015, 1, 5),
                                              expires_on=date(2018, 1, 5)))
        stint = await employment.report_hire(session=s, actor=STAFF, hire_in=employment.HireIn(
            officer_id=officer.id, agency_id=world.agency_a.id, started_on=date(2015, 2, 1)))
        other = await officers.register(session=s, actor=SYSTEM, officer_in=person("Ian", "Pratt"))
        duplicate = await officers.register(session=s, actor=SYSTEM,
                                            officer_in=person("Iain", "Pratt"))
        survivor = await officers.register(session=s, actor=SYSTEM,
                                           officer_in=person("Kay", "Voss"))
        merged = await officers.register(session=s, actor=SYSTEM,
                                         officer_in=person("Kaye", "Voss"))
        await officers.merge(session=s, actor=SYSTEM, survivor_id=survivor.id,
                             duplicate_id=merged.id, reason="same person")
    return Targets(str(world.agency_a.id), str(world.agency_b.id), str(officer.id),
                   str(cert.id), str(stint.id), str(other.id), str(duplicate.id),
                   str(survivor.id), str(merged.id))


@dataclass
class Case:
    query: str
    variables: Any  # Targets -> dict
    operation: str  # the audit event's operation
    allowed: frozenset[str]


EDITORS = frozenset({"admin", "staff"})
REGISTRARS = frozenset({"admin", "staff", "agency_a", "agency_b"})
STAFF_ONLY = frozenset({"staff"})
OWN_AGENCY = frozenset({"staff", "agency_a"})  # every target stint/hire is at agency A

CASES: dict[str, Case] = {
    "createAgency": Case(
        """mutation($i: AgencyInput!) { createAgency(input: $i) { id } }""",
        lambda t: {"i": {"state": "VA", "name": "Chesterfield County Police Department",
                         "agencyType": "POLICE", "ori": "VA0200000"}},
        "agency.create", EDITORS),
    "correctAgency": Case(
        """mutation($id: ID!, $i: AgencyInput!) { correctAgency(id: $id, input: $i,
            reason: "official name") { id } }""",
        lambda t: {"id": t.agency_a, "i": {"state": "VA", "name": "Richmond Police Dept.",
                                           "agencyType": "POLICE", "ori": "VA1220000"}},
        "agency.correct", EDITORS),
    "registerOfficer": Case(
        """mutation($i: OfficerInput!) { registerOfficer(input: $i) { id } }""",
        lambda t: {"i": {"firstName": "Nia", "lastName": "Holt", "dateOfBirth": "1990-07"}},
        "officer.register", REGISTRARS),
    "correctOfficer": Case(
        """mutation($id: ID!, $i: OfficerInput!) { correctOfficer(id: $id, input: $i,
            reason: "spelling") { id } }""",
        lambda t: {"id": t.other, "i": {"firstName": "Ian", "lastName": "Pratt-Lowe"}},
        "officer.correct", EDITORS),
    "addOfficerName": Case(
        """mutation($id: ID!) { addOfficerName(officerId: $id, input: {kind: ALIAS,
            lastName: "Pratts"}) { id } }""",
        lambda t: {"id": t.other}, "officer.add_name", EDITORS),
    "mergeOfficers": Case(
        """mutation($s: ID!, $d: ID!) { mergeOfficers(survivorId: $s, duplicateId: $d,
            reason: "same DOB") { id } }""",
        lambda t: {"s": t.other, "d": t.duplicate}, "officer.merge", EDITORS),
    "splitOfficer": Case(
        """mutation($s: ID!, $m: ID!) { splitOfficer(survivorId: $s, mergedId: $m,
            reason: "twins") { id } }""",
        lambda t: {"s": t.survivor, "m": t.merged}, "officer.split", EDITORS),
    "issueCertification": Case(
        """mutation($o: ID!) { issueCertification(input: {officerId: $o, number: "VA-9001",
            discipline: JAIL, level: BASIC, issuedOn: "2019-03-01"}) { id } }""",
        lambda t: {"o": t.other}, "certification.issue", STAFF_ONLY),
    "renewCertification": Case(
        """mutation($id: ID!) { renewCertification(id: $id, expiresOn: "2021-01-05",
            effectiveOn: "2017-12-01") { id } }""",
        lambda t: {"id": t.cert}, "certification.renew", STAFF_ONLY),
    "moveCertificationStatus": Case(
        """mutation($id: ID!) { moveCertificationStatus(id: $id, move: LAPSE,
            effectiveOn: "2018-01-06", reason: "not renewed") { id } }""",
        lambda t: {"id": t.cert}, "certification.lapse", STAFF_ONLY),
    "reportHire": Case(
        """mutation($o: ID!, $a: ID!) { reportHire(input: {officerId: $o, agencyId: $a,
            startedOn: "2020-06-01"}) { id } }""",
        lambda t: {"o": t.other, "a": t.agency_a}, "stint.hire", OWN_AGENCY),
    "reportSeparation": Case(
        """mutation($s: ID!) { reportSeparation(stintId: $s, input: {endedOn: "2019-12-31",
            reason: RESIGNED_IN_LIEU_OF_TERMINATION}) { id } }""",
        lambda t: {"s": t.stint}, "stint.separation", OWN_AGENCY),
    "correctStint": Case(
        """mutation($s: ID!) { correctStint(id: $s, input: {startedOn: "2015-01-20",
            rank: "Sergeant"}, reason: "personnel file") { id } }""",
        lambda t: {"s": t.stint}, "stint.correct", OWN_AGENCY),
}

MATRIX = [(name, who) for name in CASES for who in WHO]


def test_the_matrix_covers_every_mutation():
    """Each domain's role matrix lives in a ``tests/test_roles*.py`` module as ``CASES``;
    together they name every mutation, so a new mutation without its matrix fails here."""
    import importlib

    from registry.api.schema import schema

    covered: set[str] = set()
    for path in sorted(Path(__file__).parent.glob("test_roles*.py")):
        module = importlib.import_module(f"tests.{path.stem}")
        assert not covered & set(module.CASES), path.name
        covered |= set(module.CASES)
    assert covered == set(schema.graphql_schema.mutation_type.fields)


async def audit_count(engine, operation: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM audit_events WHERE operation = :op"), {"op": operation}
        )).scalar_one()


@pytest.mark.parametrize(("mutation", "who"), MATRIX, ids=[f"{m}-{w}" for m, w in MATRIX])
async def test_mutation_by_role(client, engine, world, targets, mutation, who):
    await check_mutation_by_role(client, engine, world, CASES[mutation], mutation, who,
                                 CASES[mutation].variables(targets))


async def check_mutation_by_role(client, engine, world, case: Case, mutation: str, who: str,
                                 variables: dict) -> None:
    """Allowed: succeeds with exactly one audit event of ``case.operation``. Refused: 403
    FORBIDDEN naming the role, and no table changes."""
    counts = await row_counts(engine)
    events = await audit_count(engine, case.operation)
    response = await gql(client, case.query, variables, token=world.tokens[who])
    body = response.json()
    if who in case.allowed:
        assert response.status_code == 200 and "errors" not in body, body
        assert body["data"][mutation]["id"]
        assert await audit_count(engine, case.operation) == events + 1
        after = await row_counts(engine)
        assert after["audit_events"] == counts["audit_events"] + 1
    else:
        assert response.status_code == 403, body
        assert "data" not in body  # refused as a whole (GraphQL-over-HTTP: no data with 4xx)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert error["extensions"]["role"] == ROLE_OF[who].lower()
        assert error["message"]
        assert await row_counts(engine) == counts


READ = """query($officer: ID!, $cert: ID!, $agency: ID!, $merged: ID!) {
  me { name role agency { id } }
  agencies(first: 10) { edges { node { id name } } }
  agency(id: $agency) { id ori }
  officers(first: 10) { edges { node { id } } pageInfo { hasNextPage } }
  officer(id: $officer) { id fullName dateOfBirth recordIds otherNames { lastName }
    identityEvents { kind } versions { version }
    certifications { id status statusOn(date: "2016-01-01") history { action } }
    stints { id agency { id } reportedBy { id } } }
  merged: officer(id: $merged) { id }
  certification(id: $cert) { id number allowedMoves officer { id } }
}"""


@pytest.mark.parametrize("who", WHO)
async def test_every_role_can_read(client, engine, world, targets, who):
    counts = await row_counts(engine)
    got = await data(client, READ, {"officer": targets.officer, "cert": targets.cert,
                                    "agency": targets.agency_a, "merged": targets.merged},
                     token=world.tokens[who])
    assert got["me"]["role"] == ROLE_OF[who]
    own = {"agency_a": targets.agency_a, "agency_b": targets.agency_b}.get(who)
    assert got["me"]["agency"] == ({"id": own} if own else None)
    assert len(got["agencies"]["edges"]) == 2
    assert got["agency"]["ori"] == "VA1220000"
    assert got["officer"]["id"] == targets.officer
    assert got["officer"]["certifications"][0]["statusOn"] == "ACTIVE"
    assert got["officer"]["stints"][0]["id"] == targets.stint
    assert got["merged"]["id"] == targets.survivor
    assert got["certification"]["officer"]["id"] == targets.officer
    assert await row_counts(engine) == counts


SOURCES = """query($id: ID!) { officer(id: $id) { id sourceRecords { source sourceKey } } }"""


@pytest.mark.parametrize("who", WHO)
async def test_source_records_are_for_post_staff_and_admins(client, world, targets, who):
    response = await gql(client, SOURCES, {"id": targets.officer}, token=world.tokens[who])
    body = response.json()
    if who in EDITORS:
        assert "errors" not in body, body
        assert body["data"]["officer"]["sourceRecords"] == [{"source": "rms",
                                                             "sourceKey": "emp-1"}]
    else:
        assert response.status_code == 403 and "data" not in body, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["path"] == ["officer", "sourceRecords"]


# Boundaries the matrix does not reach.

async def test_agency_keys_act_only_for_their_own_agency(client, engine, world, targets):
    """agency_b may hire into its own agency, not agency A's, and not separate A's stint."""
    b = world.tokens["agency_b"]
    counts = await row_counts(engine)
    hire = """mutation($o: ID!, $a: ID!) { reportHire(input: {officerId: $o, agencyId: $a,
        startedOn: "2020-06-01"}) { id reportedBy { id } } }"""
    for agency in (targets.agency_a, str(uuid.uuid4())):
        body = (await gql(client, hire, {"o": targets.other, "a": agency}, token=b)).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await row_counts(engine) == counts
    own = (await data(client, hire, {"o": targets.other, "a": targets.agency_b}, token=b)
           )["reportHire"]
    assert own["reportedBy"] == {"id": targets.agency_b}
    # And agency A cannot touch the stint agency B just reported.
    counts = await row_counts(engine)
    body = (await gql(client, CASES["correctStint"].query, {"s": own["id"]},
                      token=world.tokens["agency_a"])).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await row_counts(engine) == counts


@pytest.mark.parametrize("who", ["board", "admin"])
async def test_role_is_checked_before_the_input(client, engine, world, targets, who):
    """A key that may not write learns so first, whatever it sent."""
    counts = await row_counts(engine)
    attempts = [
        ("""mutation($s: ID!) { correctStint(id: $s, input: {startedOn: "2015-01-20"},
            reason: "  ") { id } }""", {"s": targets.stint}),
        ("""mutation($s: ID!) { reportSeparation(stintId: $s, input: {endedOn: "2999-01-01",
            reason: RESIGNED}) { id } }""", {"s": targets.stint}),
        ("""mutation($s: ID!) { reportSeparation(stintId: $s, input: {endedOn: "2019-01-01",
            reason: RESIGNED}) { id } }""", {"s": str(uuid.uuid4())}),
        ("""mutation($o: ID!) { issueCertification(input: {officerId: $o, number: " ",
            discipline: JAIL, level: BASIC, issuedOn: "2999-03-01"}) { id } }""",
         {"o": targets.other}),
        ("""mutation($id: ID!) { moveCertificationStatus(id: $id, move: REVOKE,
            effectiveOn: "2018-01-06", reason: "") { id } }""", {"id": targets.cert}),
    ]
    if who == "board":
        attempts.append(("""mutation($id: ID!) { correctOfficer(id: $id, input: {firstName: "A",
            lastName: " "}, reason: " ") { id } }""", {"id": targets.other}))
    for query, variables in attempts:
        body = (await gql(client, query, variables, token=world.tokens[who])).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (query, body)
    assert await row_counts(engine) == counts
