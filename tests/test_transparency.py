"""The public side: /public/graphql and the public pages. What they show (the effective
status, decertifications with grounds and public text, public findings, employment where
public), the fuzzy search, limits and cache headers, bad input, and the proof that nothing
private leaks: an officer who has every kind of private data is requested through every
public query and page, and none of the private values appear in any response's bytes."""

import csv
import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx2
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    get_introspection_query,
    get_named_type,
    is_non_null_type,
)
from sqlalchemy import text

from registry.api import cost
from registry.app import create_app
from registry.database import session_scope
from registry.officers import service as officers
from registry.settings import Settings
from registry.transparency import repository
from registry.transparency.schema import public_schema
from tests.case_helpers import ISSUE, ORDER, ORDER_DAY, case_to, seat_board
from tests.conftest import SYSTEM, data, gql

PUBLIC = "/public/graphql"
GRAPHQL_RESPONSE = "application/graphql-response+json"

REGISTER = """mutation($in: OfficerInput!, $src: SourceInput) {
  registerOfficer(input: $in, source: $src) { id publicId } }"""
HIRE = """mutation($o: ID!, $a: ID!, $on: Date!, $r: String) { reportHire(input: {officerId: $o,
  agencyId: $a, startedOn: $on, rank: $r}) { id } }"""
SEPARATE = """mutation($s: ID!, $on: Date!, $why: SeparationReason!, $note: String) {
  reportSeparation(stintId: $s, input: {endedOn: $on, reason: $why, note: $note}) { id } }"""
FINDING = """mutation($i: FindingInput!) { reportFinding(input: $i) { id } }"""
CONVICTION = """mutation($i: ConvictionInput!) { reportConviction(input: $i) { id } }"""
CHECK = """query($c: CandidateInput!) { backgroundCheck(candidate: $c, purpose: HIRING) {
  checkId matches { officer { id } } } }"""
OPEN = """mutation($o: ID!, $g: [String!], $s: String) { openCase(officerId: $o, grounds: $g,
  summary: $s) { id number } }"""
CASE_NUMBER = """query($id: ID!) { case(id: $id) { number } }"""

# Private values of the officer below: none may appear in any public response.
DOB = "1984-06-12"
POST_ID = "VA-P-20871"
CERT_NUMBER = "VA-CERT-55501"
ALIAS = "Quillfeather"
PENDING_TEXT = "Pending allegation Marmalade-7731"
SEALED_TEXT = "Sustained but sealed Persimmon-4410"
RELEASED_SUMMARY = "Released finding summary Cardamom-1187"
NOT_SUSTAINED_TEXT = "Not sustained Tamarillo-5012"
SEPARATION_NOTE = "Separation note Tamarind-2290"
SOURCE_KEY = "RMS-E-88121"
OFFENSE = "Obstruction Kumquat-5531"
OPEN_CASE_SUMMARY = "Open case Saffron-6620"
RACE = "Race-Lilac-88"
REQUEST_ID = "audit-req-Walnut-1"
RANK = "Rank-Sergeant-Obsidian"


@dataclass
class Rich:
    """An officer with every kind of private data, and the values that must stay private."""

    id: str
    public_id: str
    private: list[str]


async def _finding(client, staff: str, officer: str, agency: str, on: str, category: str,
                   disposition: str, summary: str, **more: Any) -> str:
    made = await data(client, FINDING, {"i": {
        "officerId": officer, "agencyId": agency, "incidentOn": on, "reportedOn": on,
        "category": category, "recommendedDisposition": disposition,
        "finalDisposition": disposition, "summary": summary, **more}}, token=staff)
    return made["reportFinding"]["id"]


@pytest.fixture
async def rich(client, engine, world) -> Rich:
    """Dana Marie Whitfield, maiden name Kessler (public), alias Quillfeather (never public),
    born 1984-06-12, POST id, certificate number, a source record; Henrico 2008-2014
    (terminated, with a note), Richmond 2015-2023; a sustained public dishonesty finding, a
    sustained finding not releasable, a pending one, one not sustained; a conviction; a
    revocation by final order (public text, vote tally) and an open case; a background
    check; audit events with a known request id."""
    staff = world.tokens["staff"]
    a, b = str(world.agency_a.id), str(world.agency_b.id)
    board = await seat_board(engine, world)
    response = await client.post("/graphql", json={"query": REGISTER, "variables": {
        "in": {"firstName": "Dana", "middleName": "Marie", "lastName": "Whitfield",
               "dateOfBirth": DOB, "postId": POST_ID, "sex": "female", "race": RACE,
               "otherNames": [{"kind": "MAIDEN", "lastName": "Kessler"},
                              {"kind": "ALIAS", "firstName": "Dee", "lastName": ALIAS}]},
        "src": {"system": "RMS", "recordId": SOURCE_KEY}}},
        headers={**world.headers("staff"), "X-Request-ID": REQUEST_ID})
    made = response.json()["data"]["registerOfficer"]
    officer = made["id"]
    cert = (await data(client, ISSUE, {"o": officer, "n": CERT_NUMBER}, token=staff)
            )["issueCertification"]["id"]
    first = (await data(client, HIRE, {"o": officer, "a": b, "on": "2008-07-01", "r": RANK},
                        token=staff))["reportHire"]["id"]
    await data(client, SEPARATE, {"s": first, "on": "2014-09-30", "why": "TERMINATED",
                                  "note": SEPARATION_NOTE}, token=staff)
    second = (await data(client, HIRE, {"o": officer, "a": a, "on": "2015-02-01"},
                         token=staff))["reportHire"]["id"]
    findings = [
        await _finding(client, staff, officer, b, "2014-05-10", "DISHONESTY", "SUSTAINED",
                       RELEASED_SUMMARY, discipline="TERMINATION", publicReleasable=True),
        await _finding(client, staff, officer, a, "2022-08-14", "FORCE", "SUSTAINED",
                       SEALED_TEXT, discipline="SUSPENSION", suspensionDays=10),
        await _finding(client, staff, officer, a, "2023-10-01", "ABUSE_OF_POWER", "PENDING",
                       PENDING_TEXT, publicReleasable=True),
        await _finding(client, staff, officer, b, "2012-03-02", "OTHER", "NOT_SUSTAINED",
                       NOT_SUSTAINED_TEXT, publicReleasable=True),
    ]
    await data(client, CONVICTION, {"i": {"officerId": officer, "offense": OFFENSE,
                                          "level": "MISDEMEANOR", "convictedOn": "2015-01-10",
                                          "court": "Court Wisteria-4471"}}, token=staff)
    case = await case_to(client, world, board, officer, "final_order")
    number = (await data(client, CASE_NUMBER, {"id": case}, token=staff))["case"]["number"]
    await data(client, SEPARATE, {"s": second, "on": "2024-03-20", "why": "TERMINATED"},
               token=staff)
    opened = (await data(client, OPEN, {"o": officer, "g": ["pattern_of_misconduct"],
                                        "s": OPEN_CASE_SUMMARY}, token=staff))["openCase"]
    check = (await data(client, CHECK, {"c": {"firstName": "Dana", "lastName": "Whitfield",
                                              "dateOfBirth": DOB}},
                        token=world.tokens["agency_a"]))["backgroundCheck"]
    assert check["matches"][0]["officer"]["id"] == officer
    private = [DOB, "06/12/1984", "1984", POST_ID, CERT_NUMBER, ALIAS, PENDING_TEXT,
               SEALED_TEXT, RELEASED_SUMMARY, NOT_SUSTAINED_TEXT, SEPARATION_NOTE, SOURCE_KEY,
               OFFENSE, "Wisteria-4471", OPEN_CASE_SUMMARY, RACE, REQUEST_ID, RANK, officer,
               cert, case, number, opened["id"], opened["number"], check["checkId"], first,
               second, *findings, "Law1", "Law2", "female", "ABUSE_OF_POWER", "NOT_SUSTAINED"]
    return Rich(officer, made["publicId"], private)


def assert_private_absent(body: bytes, private: list[str], where: str) -> None:
    lowered = body.lower()
    for value in private:
        assert value.lower().encode() not in lowered, f"{value!r} leaked in {where}"


# --- every public query, with every field ----------------------------------------------------

def full_selection(type_: Any, depth: int, seen: frozenset[str]) -> str:
    """Every field of ``type_`` (recursively, each type once per path, to ``depth``)."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        return ""
    parts = []
    for name, field in named.fields.items():
        if any(is_non_null_type(arg.type) for arg in field.args.values()):
            continue
        inner = get_named_type(field.type)
        if isinstance(inner, GraphQLObjectType):
            if inner.name in seen or depth <= 1:
                continue
            sub = full_selection(inner, depth - 1, seen | {inner.name})
            if sub:
                parts.append(f"{name} {{ {sub} }}")
        else:
            parts.append(name)
    return " ".join(parts)


def every_query(public_id: str) -> dict[str, str]:
    query = public_schema.graphql_schema.query_type
    assert query is not None
    args = {"registry": "", "searchOfficers": '(name: "Dana Whitfield", first: 5)',
            "officer": f'(publicId: "{public_id}")', "officers": "(first: 5)",
            "agencies": "(first: 5)", "decertifications": "(first: 5)",
            "decertificationsByYear": "", "decertificationsByAgency": "(first: 5)"}
    assert set(args) == set(query.fields), "a new root field: add it to the leak test"
    out = {}
    for name, field in query.fields.items():
        selection = full_selection(field.type, 7, frozenset({"Query"}))
        out[name] = f"{{ {name}{args[name]} {{ {selection} }} }}"
    officer = full_selection(query.fields["officer"].type, 6, frozenset({"Officer"}))
    out["search by maiden name"] = ('{ searchOfficers(name: "Dana Kessler", first: 5) { '
                                    f"edges {{ node {{ {officer} }} }} }} }}")
    return out


def public_pages(public_id: str) -> list[str]:
    return ["/", "/?name=Dana+Whitfield", "/?name=Kessler", "/?name=Whitfield&status=revoked",
            f"/?name=Dana+Whitfield&agency={'Richmond'}", f"/officers/{public_id}",
            "/decertifications", "/decertifications?year=2024",
            "/decertifications?outcome=revocation&ground=misconduct",
            "/decertifications?agency=Richmond", "/decertifications.csv",
            "/statistics", "/statistics?outcome=revocation"]


async def test_no_private_value_reaches_any_public_response(client, world, rich):
    seen_public = b""
    for name, query in every_query(rich.public_id).items():
        for response in (await client.post(PUBLIC, json={"query": query}),
                         await client.get(PUBLIC, params={"query": query})):
            assert response.status_code == 200, (name, response.text)
            body = response.json()
            assert "errors" not in body, (name, body)
            assert_private_absent(response.content, rich.private, f"query {name}")
            seen_public += response.content
    for path in public_pages(rich.public_id):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert_private_absent(response.content, rich.private, f"page {path}")
        for header, value in response.headers.items():
            assert_private_absent(f"{header}: {value}".encode(), rich.private,
                                  f"headers of {path}")
        seen_public += response.content
    # The test is not vacuous: the public parts of the record are there.
    for shown in (b"Dana Marie Whitfield", b"Kessler", b"The board so orders.",
                  b"Richmond Police Department", b"DISHONESTY", rich.public_id.encode()):
        assert shown in seen_public, shown


async def test_the_alias_does_not_find_the_officer(client, rich):
    for name in (f"Dee {ALIAS}", ALIAS):
        found = await data(client, "query($n: String!) { searchOfficers(name: $n) { edges { "
                                   "node { publicId } } } }", {"n": name}, path=PUBLIC)
        assert found["searchOfficers"]["edges"] == [], name
        page = await client.get("/", params={"name": name})
        assert page.status_code == 200 and rich.public_id not in page.text
    roster = await data(client, "query($n: String) { officers(name: $n) { edges { node { "
                                "publicId } } } }", {"n": ALIAS}, path=PUBLIC)
    assert roster["officers"]["edges"] == []


PRIVATE_WORDS = re.compile(
    r"birth|dob|post_?id|postid|certificate_?number|\bnumber\b|audit|check|pending|source|"
    r"alias|race|\bsex\b|gender|ssn|social security|address|phone|email|recorded_?by|"
    r"request_?id|summary|hearing|referral|vote\b|member|recus.*member|internal|uuid|"
    r"case_?number|note\b|rank", re.IGNORECASE)


def test_the_public_schema_names_nothing_private():
    """Every type, field, argument and enum value of the public schema, with descriptions:
    none names private data. (VoteTally's counts are the one public trace of the board's
    deliberation; "recused" is a count there, not a member.)"""
    schema = public_schema.graphql_schema
    found = []
    for type_name, type_ in schema.type_map.items():
        if type_name.startswith("__"):
            continue
        texts = [type_name, type_.description or ""]
        if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
            for name, field in type_.fields.items():
                texts += [name, field.description or ""]
                for arg_name, arg in getattr(field, "args", {}).items():
                    texts += [arg_name, arg.description or ""]
        if isinstance(type_, GraphQLEnumType):
            texts += [f"{type_name}.{v}" for v in type_.values]
        for text_ in texts:
            if PRIVATE_WORDS.search(text_) and text_ not in ("VoteTally",):
                found.append(text_)
    assert found == [], found
    assert schema.mutation_type is None and schema.subscription_type is None
    officer = schema.get_type("Officer")
    assert isinstance(officer, GraphQLObjectType)
    assert "id" not in officer.fields and "publicId" in officer.fields


async def test_the_introspected_schema_matches_and_holds_no_private_type(client):
    response = await client.post(PUBLIC, json={"query": get_introspection_query(
        descriptions=True)})
    assert response.status_code == 200
    types = {t["name"] for t in response.json()["data"]["__schema"]["types"]}
    for private in ("BackgroundCheck", "AuditEvent", "SourceRecord", "Case", "Referral",
                    "Vote", "BoardMember", "Finding", "Conviction", "Stint", "ApiKey",
                    "Notification", "Hearing", "Mutation", "PartialDate"):
        assert private not in types, private
    words = set(re.findall(rb"[a-z]+", response.content.lower()))
    for private in (b"dateofbirth", b"postid", b"birth", b"sourcerecord", b"audit", b"pending",
                    b"alias", b"aliases", b"race", b"sex"):
        assert private not in words, private


PRIVATE_QUERIES = {
    "date of birth": "{ officers { edges { node { dateOfBirth } } } }",
    "birth year on a search": '{ searchOfficers(name: "Dana Whitfield") { edges { node { '
                              "birthYear } } } }",
    "post id": '{ officer(publicId: "0123456789abcdef") { postId } }',
    "internal id": '{ officer(publicId: "0123456789abcdef") { id } }',
    "certificate number": '{ officer(publicId: "0123456789abcdef") { certifications { '
                          "number } } }",
    "status event reason": '{ officer(publicId: "0123456789abcdef") { certifications { '
                           "history { reason recordedBy } } } }",
    "finding summary": '{ officer(publicId: "0123456789abcdef") { findings { summary '
                       "finalDisposition } } }",
    "source records": '{ officer(publicId: "0123456789abcdef") { sourceRecords { source } } }',
    "aliases": '{ officer(publicId: "0123456789abcdef") { otherNames { usedUntil } } }',
    "stint separation": '{ officer(publicId: "0123456789abcdef") { employment { '
                        "separationReason rank } } }",
    "cases": '{ officer(publicId: "0123456789abcdef") { cases { number } } }',
    "votes by member": "{ decertifications { edges { node { votes { member { name } } } } } }",
    "case number": "{ decertifications { edges { node { caseNumber } } } }",
    "background checks": "{ backgroundChecks { edges { node { checkId } } } }",
    "background check": 'query { backgroundCheck(purpose: HIRING, candidate: {firstName: "A", '
                        'lastName: "B"}) { checkId } }',
    "the key": "{ me { name role } }",
    "referrals": "{ referrals { edges { node { id } } } }",
    "audit": "{ auditEvents { id } }",
    "notifications": "{ notifications { edges { node { id } } } }",
    "a mutation": 'mutation { registerOfficer(input: {firstName: "A", lastName: "B"}) { id } }',
    "another mutation": 'mutation { issueFinalOrder(caseId: "x", effectiveOn: "2024-01-01", '
                        'publicText: "x") { id } }',
}


async def test_private_fields_and_authenticated_operations_fail_validation(client, engine,
                                                                           world, rich):
    before = await _count_rows(engine)
    for label, query in PRIVATE_QUERIES.items():
        for token in (None, world.tokens["admin"]):  # a key changes nothing there
            response = await gql(client, query, token=token, path=PUBLIC)
            assert response.status_code == 422, (label, response.text)
            body = response.json()
            assert "data" not in body, label
            assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", label
            assert_private_absent(response.content, rich.private, label)
    assert await _count_rows(engine) == before


async def _count_rows(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        counts = {}
        for table in ("officers", "audit_events", "background_checks", "findings", "cases"):
            counts[table] = (await conn.execute(text(f"SELECT count(*) FROM {table}"))
                             ).scalar_one()
        return counts


# --- what the record shows --------------------------------------------------------------------

RECORD = """query($p: ID!) { officer(publicId: $p) {
  publicId fullName status otherNames { kind fullName }
  certifications { state discipline level issuedOn status statusSince suspendedUntil
                   history { change status previousStatus effectiveOn until } }
  employment { agency { name ori } fromYear toYear }
  findings { category year discipline suspensionDays }
  decertifications { effectiveOn outcome groundCategories grounds { category title statute }
                     finalOrderText voteTally { yes no abstain recused } appealOutcome
                     reinstatedOn agency { name } officer { publicId } } } }"""


async def test_the_public_record(client, rich):
    got = (await data(client, RECORD, {"p": rich.public_id}, path=PUBLIC))["officer"]
    assert got["fullName"] == "Dana Marie Whitfield" and got["status"] == "REVOKED"
    assert got["otherNames"] == [{"kind": "MAIDEN", "fullName": "Dana Marie Kessler"}]
    (cert,) = got["certifications"]
    assert cert["status"] == "REVOKED" and cert["statusSince"] == ORDER_DAY
    assert [h["change"] for h in cert["history"]] == ["ISSUED", "REVOKED"]
    assert got["employment"] == [
        {"agency": {"name": "Henrico County Police Division", "ori": "VA0430100"},
         "fromYear": 2008, "toYear": 2014},
        {"agency": {"name": "Richmond Police Department", "ori": "VA1220000"},
         "fromYear": 2015, "toYear": 2024}]
    # Sustained and releasable only: not the sealed, pending or not-sustained ones.
    assert got["findings"] == [{"category": "DISHONESTY", "year": 2014,
                                "discipline": "TERMINATION", "suspensionDays": None}]
    (action,) = got["decertifications"]
    assert action["effectiveOn"] == ORDER_DAY and action["outcome"] == "REVOCATION"
    assert action["groundCategories"] == ["MISCONDUCT"]
    assert action["grounds"][0]["title"].startswith("Terminated for conduct")
    assert action["finalOrderText"] == "The board so orders."
    assert action["voteTally"] == {"yes": 2, "no": 1, "abstain": 0, "recused": 0}
    assert action["agency"] == {"name": "Richmond Police Department"}
    assert action["officer"] == {"publicId": rich.public_id}


async def test_an_unknown_public_id_is_404_and_a_malformed_one_422(client):
    missing = await gql(client, '{ officer(publicId: "0123456789abcdef") { fullName } }',
                        path=PUBLIC)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    for bad in ("../../etc/passwd", "..%2F..%2Fetc", "x" * 5000, "", "0123456789ABCDEG",
                "'; DROP TABLE officers; --", "\u00e9" * 16):
        response = await gql(client, "query($p: ID!) { officer(publicId: $p) { fullName } }",
                             {"p": bad}, path=PUBLIC)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_effective_status_after_a_suspension_ended(client, engine, world):
    """Stored as suspended until 2024-09-01; shown today as the status it interrupted, in the
    record, the search and the status filter."""
    staff = world.tokens["staff"]
    board = await seat_board(engine, world)
    made = await data(client, REGISTER, {"in": {"firstName": "Avery", "lastName": "Quinlan"}},
                      token=staff)
    officer = made["registerOfficer"]["id"]
    await data(client, ISSUE, {"o": officer, "n": "VA-Q-1"}, token=staff)
    case = await case_to(client, world, board, officer, "voted", outcome="SUSPENSION",
                         until="2024-09-01")
    await data(client, ORDER, {"id": case, "on": ORDER_DAY}, token=staff)
    async with engine.connect() as conn:
        stored = (await conn.execute(text(
            "SELECT status FROM certifications WHERE number = 'VA-Q-1'"))).scalar_one()
    assert stored == "suspended"
    got = (await data(client, RECORD, {"p": made["registerOfficer"]["publicId"]},
                      path=PUBLIC))["officer"]
    assert got["status"] == "ACTIVE"
    (cert,) = got["certifications"]
    assert cert["status"] == "ACTIVE" and cert["statusSince"] == "2024-09-01"
    assert cert["suspendedUntil"] is None
    assert [h["change"] for h in cert["history"]] == ["ISSUED", "SUSPENDED",
                                                      "SUSPENSION_ENDED"]
    assert cert["history"][1]["until"] == "2024-09-01"
    (action,) = got["decertifications"]
    assert action["outcome"] == "SUSPENSION"
    search = """query($s: CertificationStatus) { searchOfficers(name: "Avery Quinlan",
      status: $s) { edges { node { status } } } }"""
    active = await data(client, search, {"s": "ACTIVE"}, path=PUBLIC)
    assert [e["node"]["status"] for e in active["searchOfficers"]["edges"]] == ["ACTIVE"]
    suspended = await data(client, search, {"s": "SUSPENDED"}, path=PUBLIC)
    assert suspended["searchOfficers"]["edges"] == []
    page = await client.get("/", params={"name": "Avery Quinlan"})
    assert 'class="badge good">Active<' in page.text
    assert 'class="badge warn">Suspended<' not in page.text


# --- the search ----------------------------------------------------------------------------------

PEOPLE = [
    ("William", "J", "Hartley", None), ("Bill", None, "Hartley", None),
    ("Wilhelmina", None, "Hartley", None), ("William", None, "Hartly", None),
    ("José", None, "García-López", None), ("Jose", None, "Garcia", None),
    ("Jon", None, "Smith", "Jr."), ("John", None, "Smyth", None), ("Jane", None, "Smith", None),
    ("Thomas", None, "Hartley", None), ("Xavier", None, "Ngo", None),
]
SEARCH = """query($n: String!, $first: Int, $after: String) { searchOfficers(name: $n,
  first: $first, after: $after) { edges { cursor score matchedName node { publicId fullName } }
  pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture
async def people(engine) -> dict[str, str]:
    """Namesakes for the search: full name -> public id."""
    out = {}
    async with session_scope(engine) as s:
        for first, middle, last, suffix in PEOPLE:
            o = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
                first_name=first, middle_name=middle, last_name=last, suffix=suffix))
            out[" ".join(p for p in (first, middle, last, suffix) if p)] = o.public_id
    return out


async def _names(client, name: str, **more: Any) -> list[str]:
    got = await data(client, SEARCH, {"n": name, **more}, path=PUBLIC)
    return [e["node"]["fullName"] for e in got["searchOfficers"]["edges"]]


async def test_search_uses_the_background_checks_name_forms(client, people):
    names = await _names(client, "Bill Hartley")
    assert names[0] == "Bill Hartley"
    assert {"William J Hartley", "William Hartly"} <= set(names)  # nickname, phonetic
    assert "Thomas Hartley" not in names  # same surname, unrelated first name
    assert (await _names(client, "Jose Garcia Lopez"))[0] == "José García-López"
    assert set(await _names(client, "jose garcia")) >= {"Jose Garcia", "José García-López"}
    assert set(await _names(client, "Hartley Bill")) >= {"Bill Hartley"}  # swapped
    assert "Jon Smith Jr." in await _names(client, "John Smith")
    assert set(await _names(client, "J Smith")) >= {"Jon Smith Jr.", "Jane Smith"}  # initial
    surname = await _names(client, "hartley")
    assert {"William J Hartley", "Bill Hartley", "Thomas Hartley"} <= set(surname)
    assert await _names(client, "Zyxwvut Qqqq") == []


async def test_search_scores_and_pages_by_keyset(client, people):
    got = await data(client, SEARCH, {"n": "William Hartley", "first": 2}, path=PUBLIC)
    first = got["searchOfficers"]
    assert first["edges"][0]["node"]["fullName"] == "William J Hartley"
    assert first["edges"][0]["score"] == 1.0 and first["edges"][0]["matchedName"] == "CURRENT"
    seen = [e["node"]["publicId"] for e in first["edges"]]
    after = first["pageInfo"]["endCursor"]
    while first["pageInfo"]["hasNextPage"]:
        first = (await data(client, SEARCH, {"n": "William Hartley", "first": 2,
                                             "after": after}, path=PUBLIC))["searchOfficers"]
        seen += [e["node"]["publicId"] for e in first["edges"]]
        after = first["pageInfo"]["endCursor"]
    everything = await data(client, SEARCH, {"n": "William Hartley", "first": 100},
                            path=PUBLIC)
    assert seen == [e["node"]["publicId"] for e in everything["searchOfficers"]["edges"]]
    assert len(seen) == len(set(seen)) >= 3
    scores = [e["score"] for e in everything["searchOfficers"]["edges"]]
    assert scores == sorted(scores, reverse=True)
    # Cursors carry no internal id.
    for e in everything["searchOfficers"]["edges"]:
        assert all(len(v) != 36 for v in json.loads(_b64(e["cursor"])))


def _b64(cursor: str) -> str:
    import base64

    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


async def test_search_finds_maiden_names_and_says_so(client, rich):
    got = await data(client, SEARCH, {"n": "Dana Kessler"}, path=PUBLIC)
    (edge,) = got["searchOfficers"]["edges"]
    assert edge["node"]["publicId"] == rich.public_id and edge["matchedName"] == "MAIDEN"
    assert edge["score"] < 1.0


async def test_search_filters_by_status_and_agency(client, rich, people):
    query = """query($n: String!, $s: CertificationStatus, $a: String) { searchOfficers(
      name: $n, status: $s, agency: $a) { edges { node { publicId status } } } }"""
    revoked = await data(client, query, {"n": "Whitfield", "s": "REVOKED"}, path=PUBLIC)
    assert [e["node"] for e in revoked["searchOfficers"]["edges"]] == [
        {"publicId": rich.public_id, "status": "REVOKED"}]
    active = await data(client, query, {"n": "Whitfield", "s": "ACTIVE"}, path=PUBLIC)
    assert active["searchOfficers"]["edges"] == []
    for agency in ("Henrico", "VA0430100", "henrico county police"):
        got = await data(client, query, {"n": "Dana Whitfield", "a": agency}, path=PUBLIC)
        assert len(got["searchOfficers"]["edges"]) == 1, agency
    other = await data(client, query, {"n": "Hartley", "a": "Henrico"}, path=PUBLIC)
    assert other["searchOfficers"]["edges"] == []


async def test_people_known_only_from_another_states_ndi_record_are_not_public(client, engine,
                                                                             people):
    """A person the NDI import created (known only from another state's record) is shared
    with agencies, not the public."""
    public_id = people["Xavier Ngo"]
    async with engine.begin() as conn:
        await conn.execute(text("""
            INSERT INTO external_actions (contributing_state, record_id, record_type,
              officer_id, attached_by, first_name, last_name, action_type, action_date,
              recorded_by)
            SELECT 'FL', 'FL-1', 'new', id, 'new_person', first_name, last_name,
                   'revocation', '2020-01-01', 'tests' FROM officers WHERE public_id = :p"""),
                           {"p": public_id})
    assert await _names(client, "Xavier Ngo") == []
    response = await gql(client, "query($p: ID!) { officer(publicId: $p) { fullName } }",
                         {"p": public_id}, path=PUBLIC)
    assert response.status_code == 404
    assert (await client.get(f"/officers/{public_id}")).status_code == 404


async def test_a_merged_records_public_id_leads_to_the_person(client, world, people):
    staff = world.tokens["staff"]
    ids = {}
    for name in ("William J Hartley", "Bill Hartley"):
        got = await data(client, "query($n: String) { officers(name: $n) { edges { node { "
                                 "id publicId } } } }", {"n": name.split()[-1]}, token=staff)
        ids.update({e["node"]["publicId"]: e["node"]["id"] for e in got["officers"]["edges"]})
    survivor, duplicate = people["William J Hartley"], people["Bill Hartley"]
    await data(client, """mutation($s: ID!, $d: ID!) { mergeOfficers(survivorId: $s,
        duplicateId: $d, reason: "same person") { id } }""",
               {"s": ids[survivor], "d": ids[duplicate]}, token=staff)
    page = await client.get(f"/officers/{duplicate}", follow_redirects=False)
    assert page.status_code == 301 and page.headers["location"] == f"/officers/{survivor}"
    got = await data(client, "query($p: ID!) { officer(publicId: $p) { publicId } }",
                     {"p": duplicate}, path=PUBLIC)
    assert got["officer"]["publicId"] == survivor
    # The search lists the person once.
    names = [e["node"]["publicId"] for e in (await data(
        client, SEARCH, {"n": "Bill Hartley"}, path=PUBLIC))["searchOfficers"]["edges"]]
    assert survivor in names and duplicate not in names


# --- bad input: clear 4xx, never a 500 -----------------------------------------------------------

def _cursor(*values: Any) -> str:
    import base64

    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_SEARCHES = {
    "cursor with NUL": {"n": "Smith", "after": _cursor(9000, "a\u0000", "", "",
                                                      "0123456789abcdef")},
    "cursor with a surrogate": {"n": "Smith", "after": _cursor(9000, "\ud800", "", "",
                                                              "0123456789abcdef")},
    "cursor too long": {"n": "Smith", "after": _cursor(9000, "a" * 5000, "", "",
                                                      "0123456789abcdef")},
    "empty name": {"n": ""},
    "blank name": {"n": "   "},
    "punctuation only": {"n": "-- ''"},
    "10,000 characters": {"n": "a" * 10_000},
    "too many words": {"n": " ".join(["ab"] * 30)},
    "negative page": {"n": "Smith", "first": -1},
    "zero page": {"n": "Smith", "first": 0},
    "huge page": {"n": "Smith", "first": 10_000_000},
    "page over 100": {"n": "Smith", "first": 101},
    "forged cursor": {"n": "Smith", "after": "not-a-cursor"},
    "forged base64 cursor": {"n": "Smith", "after": "WyJ4Il0"},
    "cursor with bad public id": {
        "n": "Smith", "after": "WzEwMDAwLCJzbWl0aCIsIiIsIiIsIi4uLy4uL2V0Yy9wYXNzd2QiXQ"},
    "cursor with score out of range": {
        "n": "Smith", "after": "Wzk5OTk5OTk5LCJzbWl0aCIsIiIsIiIsIjAxMjM0NTY3ODlhYmNkZWYiXQ"},
    "agency blank": {"n": "Smith", "agency": "  "},
    "agency 10,000 characters": {"n": "Smith", "agency": "x" * 10_000},
}


async def test_bad_search_input_is_a_clear_4xx(client, people):
    query = """query($n: String!, $first: Int, $after: String, $agency: String) {
      searchOfficers(name: $n, first: $first, after: $after, agency: $agency) {
        edges { node { publicId } } } }"""
    for label, variables in BAD_SEARCHES.items():
        response = await gql(client, query, variables, path=PUBLIC)
        assert response.status_code == 422, (label, response.status_code, response.text)
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (label, error)
        assert error["message"] and "Internal" not in error["message"], label
    for label, query_ in {
        "unknown status": '{ searchOfficers(name: "Smith", status: FIRED) { edges { cursor } } }',
        "status as a string": '{ searchOfficers(name: "Smith", status: "revoked") { edges { '
                              "cursor } } }",
        "no name": "{ searchOfficers { edges { cursor } } }",
        "null name": "{ searchOfficers(name: null) { edges { cursor } } }",
        "name not a string": "{ searchOfficers(name: 42) { edges { cursor } } }",
        "page not an int": '{ searchOfficers(name: "Smith", first: "ten") { edges { cursor } } }',
        "page over 32 bits": '{ searchOfficers(name: "Smith", first: 99999999999) { edges { '
                             "cursor } } }",
        "NUL in the name": '{ searchOfficers(name: "Sm\\u0000ith") { edges { cursor } } }',
    }.items():
        response = await gql(client, query_, path=PUBLIC)
        assert response.status_code in (400, 422), (label, response.text)
    variables = await gql(client, "query($s: CertificationStatus) { searchOfficers("
                                  'name: "Smith", status: $s) { edges { cursor } } }',
                          {"s": "FIRED"}, path=PUBLIC)
    assert variables.status_code == 422


async def test_bad_list_and_aggregate_input_is_a_clear_4xx(client):
    for query in ('{ decertifications(year: -5) { edges { cursor } } }',
                  '{ decertifications(year: 99999) { edges { cursor } } }',
                  '{ decertifications(first: 0) { edges { cursor } } }',
                  '{ decertifications(after: "garbage") { edges { cursor } } }',
                  '{ decertifications(after: "WyIyMDI0LTEzLTQwIiwieCJd") { edges { cursor } } }',
                  '{ decertificationsByAgency(first: 100000) { count } }',
                  '{ officers(first: -3) { edges { cursor } } }',
                  '{ officers(after: "WyJhIiwiLi4vZXRjIl0") { edges { cursor } } }',
                  '{ agencies(state: "ZZ") { edges { cursor } } }',
                  '{ decertifications(after: "CURSOR1") { edges { cursor } } }',
                  '{ officers(after: "CURSOR2") { edges { cursor } } }',
                  '{ agencies(after: "CURSOR3") { edges { cursor } } }'):
        query = (query.replace("CURSOR1", _cursor("2024-01-01", "not-a-key"))
                 .replace("CURSOR2", _cursor("a\u0000", "x"))
                 .replace("CURSOR3", _cursor("VA", "\u0000")))
        response = await gql(client, query, path=PUBLIC)
        assert response.status_code == 422, (query, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", query


BAD_PAGES = {
    "/officers/..%2F..%2Fetc%2Fpasswd": 400,
    "/officers/%2e%2e%2f%2e%2e%2fetc%2fpasswd": 400,
    "/officers/..%5C..%5Cwindows": 400,
    "/officers/" + "a" * 5000: 400,
    "/officers/%00": 400,
    "/officers/0123456789abcdef": 404,
    "/officers/<script>alert(1)</script>": 400,
    "/?name=" + "a" * 10_000: 400,  # the form again, saying what is wrong
    "/?name=%00": 400,
    "/?name=%20%20&status=revoked": 400,
    "/?name=Smi%00th": 400,
    "/?name=Smith&agency=Rich%00mond": 400,
    "/decertifications?agency=%00": 400,
    "/?name=%ED%A0%80": 400,
    "/?name=Smith&status=fired": 400,
    "/?name=Smith&after=forged": 400,
    "/?name=Smith&agency=%20": 200,
    "/decertifications?year=abc": 400,
    "/decertifications?year=-1": 400,
    "/decertifications?outcome=execution": 400,
    "/decertifications?ground=../../x": 400,
    "/decertifications?after=forged": 400,
    "/decertifications.csv?year=abc": 400,
    "/decertifications.csv?outcome=nope": 400,
    "/statistics?outcome=nope": 400,
}


async def test_bad_page_input_is_a_clear_4xx_page(client, people):
    for path, status in BAD_PAGES.items():
        response = await client.get(path)
        assert response.status_code == status, (path[:80], response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        assert "<script>" not in response.text
        if status >= 400:
            assert response.headers["cache-control"] == "no-store"
            assert ('data-testid="error-message"' in response.text
                    or 'id="name-error" role="alert"' in response.text), path[:80]
    long_name = await client.get("/", params={"name": "a" * 10_000})
    assert "enter at most 200" in long_name.text


# --- limits and caching ---------------------------------------------------------------------------


@pytest.fixture
async def limited_client(database_url):
    app = create_app(Settings(database_url=database_url, public_rate_limit="3/minute"))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://registry.test") as c:
        yield c
    await app.state.engine.dispose()


async def test_rate_limit_per_address_with_retry_after(limited_client):
    query = {"query": "{ registry { state } }"}
    for _ in range(3):
        assert (await limited_client.post(PUBLIC, json=query)).status_code == 200
    refused = await limited_client.post(PUBLIC, json=query)
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    error = refused.json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": wait}
    page = await limited_client.get("/statistics")
    assert page.status_code == 429 and int(page.headers["retry-after"]) >= 1
    assert "Too many requests" in page.text
    csv_ = await limited_client.get("/decertifications.csv")
    assert csv_.status_code == 429
    # Another address has its own allowance.
    app = limited_client._transport.app
    other = httpx2.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx2.AsyncClient(transport=other, base_url="http://registry.test") as c:
        assert (await c.post(PUBLIC, json=query)).status_code == 200


async def test_cache_headers(client, people):
    query = '{ searchOfficers(name: "Bill Hartley") { edges { node { fullName } } } }'
    got = await client.get(PUBLIC, params={"query": query})
    assert got.status_code == 200
    assert got.headers["cache-control"] == "public, max-age=60"
    assert "Accept" in got.headers["vary"]
    etag = got.headers["etag"]
    again = await client.get(PUBLIC, params={"query": query}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    posted = await client.post(PUBLIC, json={"query": query})
    assert posted.headers["cache-control"] == "no-store"
    failed = await client.get(PUBLIC, params={"query": '{ searchOfficers(name: "") { edges { '
                                                        "cursor } } }"})
    assert failed.headers["cache-control"] == "no-store"
    page = await client.get("/?name=Bill+Hartley")
    assert page.headers["cache-control"] == "public, max-age=60"
    assert (await client.get("/?name=Bill+Hartley", headers={
        "If-None-Match": page.headers["etag"]})).status_code == 304
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]


async def test_cost_and_depth_limits(client):
    costly = ("{ a: searchOfficers(name: \"Smith\", first: 100) { edges { node { "
              "certifications { history { status } } decertifications { grounds { title } "
              "officer { certifications { history { status } } } } } } } }")
    response = await gql(client, costly, path=PUBLIC)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", error
    assert error["extensions"]["cost"] > error["extensions"]["maxCost"]
    small = costly.replace("first: 100", "first: 5")
    assert (await gql(client, small, path=PUBLIC)).status_code == 200
    deep = ("{ decertifications(first: 1) { edges { node { " + "officer { decertifications { "
            * 5 + "outcome" + " } }" * 5 + " } } } }")
    response = await gql(client, deep, path=PUBLIC)
    assert response.status_code == 422
    assert "QUERY_TOO_DEEP" in {e["extensions"]["code"] for e in response.json()["errors"]}


def test_cost_counts_pages_lists_and_variables():
    from graphql import parse

    schema = public_schema.graphql_schema

    def cost_of(query: str) -> int:
        document = parse(query)
        (op,) = document.definitions
        model = cost.CostModel(max_cost=0, max_page=100)
        return cost.operation_cost(schema, op, {}, model)  # type: ignore[arg-type]

    one = cost_of('{ searchOfficers(name: "a", first: 10) { edges { node { fullName } } } }')
    variable = cost_of("query($f: Int) { searchOfficers(name: \"a\", first: $f) { edges { "
                       "node { fullName } } } }")
    assert variable == 10 * one - 9 * 1 or variable > one * 5
    nested = cost_of('{ searchOfficers(name: "a", first: 10) { edges { node { certifications '
                     "{ status } } } } }")
    assert nested > one
    assert cost_of("{ __schema { types { name fields { name } } } }") == 0


# --- the lists, the CSV, the statistics -----------------------------------------------------------


async def test_decertification_list_csv_and_statistics(client, rich):
    got = await data(client, """{ decertifications { edges { node { effectiveOn outcome
        groundCategories officer { publicId fullName } agency { name } } } }
        decertificationsByYear { year total byGround { category count } }
        decertificationsByAgency { agency { name } count }
        registry { state boardName employmentPublic dataAsOf grounds { category } } }""",
                     path=PUBLIC)
    (edge,) = got["decertifications"]["edges"]
    assert edge["node"] == {"effectiveOn": ORDER_DAY, "outcome": "REVOCATION",
                            "groundCategories": ["MISCONDUCT"],
                            "officer": {"publicId": rich.public_id,
                                        "fullName": "Dana Marie Whitfield"},
                            "agency": {"name": "Richmond Police Department"}}
    assert got["decertificationsByYear"] == [
        {"year": 2024, "total": 1, "byGround": [{"category": "MISCONDUCT", "count": 1}]}]
    assert got["decertificationsByAgency"] == [
        {"agency": {"name": "Richmond Police Department"}, "count": 1}]
    assert got["registry"]["state"] == "VA" and got["registry"]["employmentPublic"] is True
    assert got["registry"]["dataAsOf"]
    response = await client.get("/decertifications.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    assert rows[0]["public_id"] == rich.public_id and rows[0]["action"] == "revocation"
    assert rows[0]["final_order_text"] == "The board so orders."
    assert rows[0]["vote_yes"] == "2" and rows[0]["agency_ori"] == "VA1220000"
    assert rows[0]["record_url"].endswith(f"/officers/{rich.public_id}")
    empty = await client.get("/decertifications.csv?year=2019")
    assert list(csv.reader(io.StringIO(empty.text)))[1:] == []
    page = await client.get("/statistics")
    assert page.status_code == 200 and 'data-testid="year-chart"' in page.text
    assert page.text.count('data-testid="bar"') == 1


async def test_board_moves_without_a_final_order_are_listed_as_ground_not_recorded(
        client, engine, world):
    """Revocations a state's earlier records hold (status events, no case) are public too."""
    staff = world.tokens["staff"]
    made = await data(client, REGISTER, {"in": {"firstName": "Morgan", "lastName": "Ashby"}},
                      token=staff)
    officer = made["registerOfficer"]["id"]
    cert = (await data(client, ISSUE, {"o": officer, "n": "VA-OLD-9"}, token=staff)
            )["issueCertification"]["id"]
    async with engine.begin() as conn:
        await conn.execute(text("""
            INSERT INTO certification_status_events (certification_id, action, from_status,
              to_status, effective_on, reason, recorded_by)
            VALUES (:c, 'revoke', 'active', 'revoked', '2019-05-02', 'legacy list', 'loader')
            """), {"c": cert})
        await conn.execute(text("UPDATE certifications SET status = 'revoked', "
                                "status_since = '2019-05-02' WHERE id = :c"), {"c": cert})
    got = await data(client, """{ decertifications(groundCategory: NOT_RECORDED) { edges {
        node { effectiveOn outcome groundCategories grounds { title } finalOrderText
               officer { publicId } } } } }""", path=PUBLIC)
    (edge,) = got["decertifications"]["edges"]
    assert edge["node"] == {"effectiveOn": "2019-05-02", "outcome": "REVOCATION",
                            "groundCategories": ["NOT_RECORDED"], "grounds": [],
                            "finalOrderText": None,
                            "officer": {"publicId": made["registerOfficer"]["publicId"]}}
    years = await data(client, "{ decertificationsByYear { year total byGround { category } } }",
                       path=PUBLIC)
    assert years["decertificationsByYear"] == [
        {"year": 2019, "total": 1, "byGround": [{"category": "NOT_RECORDED"}]}]
    assert "legacy list" not in (await client.get(
        f"/officers/{made['registerOfficer']['publicId']}")).text


async def test_where_employment_is_not_public(database_url, rich):
    app = create_app(Settings(database_url=database_url, public_employment=False))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://registry.test") as c:
        got = await data(c, RECORD, {"p": rich.public_id}, path=PUBLIC)
        assert got["officer"]["employment"] == []
        assert got["officer"]["decertifications"][0]["agency"] is None
        by_agency = await data(c, "{ decertificationsByAgency { count } }", path=PUBLIC)
        assert by_agency["decertificationsByAgency"] == []
        refused = await gql(c, '{ searchOfficers(name: "Dana", agency: "Richmond") { edges { '
                               "cursor } } }", path=PUBLIC)
        assert refused.status_code == 422 and "employment public" in refused.text
        for path in (f"/officers/{rich.public_id}", "/?name=Dana+Whitfield",
                     "/decertifications", "/statistics", "/decertifications.csv"):
            response = await c.get(path)
            assert response.status_code == 200, path
            for agency in ("Richmond Police", "Henrico", "VA1220000"):
                assert agency not in response.text, (path, agency)
    await app.state.engine.dispose()


async def test_the_public_side_reads_through_a_read_only_pool(app, client):
    assert (await client.get("/statistics")).status_code == 200
    pool = await app.state.public.database.pool()
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.exceptions.ReadOnlySQLTransactionError):
            await conn.execute("CREATE TABLE should_fail (x int)")


def test_search_sql_is_one_statement_per_filter_combination():
    from registry.transparency.search import parse_name

    for name in ("Smith", "J Smith", "John Smith", "Maria Garcia Lopez"):
        for where in (repository.SearchFilter(), repository.SearchFilter(status="revoked"),
                      repository.SearchFilter(agency_ids=(uuid.uuid4(),))):
            for after in (False, True):
                sql = repository.search_sql(parse_name(name), where, after)
                assert sql.count("$1") >= 1 and ";" not in sql


async def test_a_misspelling_that_changes_the_sound_falls_back_to_trigrams(client, people):
    """"Hartlye" sounds unlike Hartley (double metaphone HRTL), but is spelt like it."""
    got = await data(client, SEARCH, {"n": "William Hratley"}, path=PUBLIC)
    names = [e["node"]["fullName"] for e in got["searchOfficers"]["edges"]]
    assert "William J Hartley" in names or "William Hartly" in names, names
    assert got["searchOfficers"]["pageInfo"]["hasNextPage"] is False
    page = await client.get("/", params={"name": "William Hratley"})
    assert "spelt like it" in page.text and "Hartl" in page.text
    assert await _names(client, "Qqqqq Zzzzz") == []


# --- the lean execution gives what graphql-core gives ------------------------------------------

LEAN_QUERIES = [
    *every_query("PUBLICID").values(),
    """query($skip: Boolean!) { searchOfficers(name: "Dana Whitfield") {
        edges { ... on OfficerSearchEdge { n: node { __typename id2: publicId
          full: fullName status @skip(if: $skip) otherNames { kind fullName } } }
          matchedName score cursor }
        pageInfo { ...P } } }
       fragment P on PageInfo { hasNextPage endCursor __typename }""",
    """{ officer(publicId: "PUBLICID") { fullName decertifications { outcome
        officer { fullName status certifications { status history { change } } } } } }""",
]


async def test_the_lean_execution_matches_graphql_core(app, rich):
    from graphql import ExecutionContext, ExecutionResult, execute, parse

    from registry.transparency.context import PublicContext
    from registry.transparency.execution import LeanExecutionContext

    schema = public_schema.graphql_schema
    for text_ in LEAN_QUERIES:
        document = parse(text_.replace("PUBLICID", rich.public_id))
        results = []
        for context_class in (ExecutionContext, LeanExecutionContext):
            context = PublicContext(app.state.engine, app.state.public.settings, None, "t",
                                    database=app.state.public.database)
            try:
                result = execute(schema, document, variable_values={"skip": False},
                                 context_value=context, execution_context_class=context_class)
                if not isinstance(result, ExecutionResult):
                    result = await result
            finally:
                await context.close()
            results.append((result.data, [e.formatted for e in result.errors or []]))
        assert results[0] == results[1], text_[:80]
        assert results[0][1] == [], results[0][1]


def test_the_lean_execution_reports_errors_as_graphql_core_does():
    """A non-null field that comes back null, and an enum value that does not serialize:
    the compiled completion gives up and graphql-core reports them, located."""
    import asyncio

    from graphql import ExecutionContext, execute, parse

    from registry.transparency.execution import LeanExecutionContext

    schema = public_schema.graphql_schema
    field = schema.query_type.fields["searchOfficers"]  # type: ignore[union-attr]
    original = field.resolve
    rows = [{"public_id": "0123456789abcdef", "full_name": None, "first_name": "A",
             "last_name": "B", "status": "active", "other_names": []},
            {"public_id": "fedcba9876543210", "full_name": "C D", "first_name": "C",
             "last_name": "D", "status": "not-a-status", "other_names": []}]

    async def resolve(_root: Any, _info: Any, **_args: Any) -> Any:
        return {"edges": [{"node": dict(r), "score": 1.0, "matched_name": "current",
                           "row": {}} for r in rows],
                "page_info": {"has_next_page": False, "has_previous_page": False,
                              "start_cursor": None, "end_cursor": None}}

    field.resolve = resolve
    try:
        document = parse('{ searchOfficers(name: "x") { edges { node { publicId fullName '
                         "status } } pageInfo { hasNextPage } } }")
        out = []
        for context_class in (ExecutionContext, LeanExecutionContext):
            result = asyncio.run(execute(schema, document, context_value=None,  # type: ignore
                                         execution_context_class=context_class))
            out.append((result.data, sorted(str(e.formatted) for e in result.errors or [])))
    finally:
        field.resolve = original
    assert out[0] == out[1]
    assert out[0][0] is None and len(out[0][1]) >= 1


async def test_pages_and_csv_when_the_database_is_unreachable():
    app = create_app(Settings(database_url="postgresql://postgres@127.0.0.1:1/registry"))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as c:
        for path in ("/", "/?name=Smith", "/officers/0123456789abcdef", "/decertifications",
                     "/decertifications.csv", "/statistics"):
            response = await c.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] and "not answering" in response.text
        api = await gql(c, '{ searchOfficers(name: "Smith") { edges { cursor } } }',
                        path=PUBLIC)
        assert api.status_code == 503
        assert api.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    await app.state.engine.dispose()


async def test_the_search_reads_only_what_is_asked_and_loads_the_rest(client, rich):
    """The statement carries the status and other names only when the query asks for them;
    asked through a fragment, or not at all, the fields still resolve."""
    from graphql import parse

    from registry.transparency.schema import node_fields

    class Info:
        def __init__(self, text_: str) -> None:
            document = parse(text_)
            self.field_nodes = [document.definitions[0].selection_set.selections[0]]
            self.fragments = {d.name.value: d for d in document.definitions[1:]}

    assert node_fields(Info('{ searchOfficers(name: "x") { edges { node { fullName } } } }')
                       ) == {"fullName"}
    assert node_fields(Info('{ searchOfficers(name: "x") { edges { ... on OfficerSearchEdge { '
                            "node { ...F } } } } } fragment F on Officer { status }")
                       ) == {"status"}
    for query in ("{ searchOfficers(name: \"Dana Whitfield\") { edges { node { publicId "
                  "...F } } } } fragment F on Officer { status otherNames { fullName } }",
                  "{ searchOfficers(name: \"Dana Whitfield\") { edges { node { publicId } } } }"
                  ):
        got = await data(client, query, path=PUBLIC)
        (edge,) = got["searchOfficers"]["edges"]
        assert edge["node"]["publicId"] == rich.public_id
        if "status" in query:
            assert edge["node"]["status"] == "REVOKED"
            assert edge["node"]["otherNames"] == [{"fullName": "Dana Marie Kessler"}]
