"""Officers as people: names and partial birth dates, corrections as versions, merge and split,
and the roster connection with keyset cursors and filters."""

import base64
import json
import unicodedata
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from registry.actors import Actor
from registry.certifications import service as certifications
from registry.certifications.status import Move
from registry.database import run_sql, session_scope
from registry.employment import service as employment
from registry.keys.models import Role
from registry.officers import service as officers
from tests.conftest import SYSTEM, data, gql, row_counts

STAFF = Actor(name="test staff", role=Role.POST_STAFF)

REGISTER = """mutation($i: OfficerInput!) { registerOfficer(input: $i) { id firstName middleName
    lastName suffix fullName dateOfBirth postId version
    otherNames { kind firstName lastName usedUntil } } }"""
CORRECT = """mutation($id: ID!, $i: OfficerInput!, $r: String!, $v: Int) {
    correctOfficer(id: $id, input: $i, reason: $r, expectedVersion: $v) {
    id firstName lastName dateOfBirth version changeReason } }"""
MERGE = """mutation($s: ID!, $d: ID!, $r: String!) { mergeOfficers(survivorId: $s, duplicateId: $d,
    reason: $r) { id recordIds } }"""
SPLIT = """mutation($s: ID!, $m: ID!, $r: String!) { splitOfficer(survivorId: $s, mergedId: $m,
    reason: $r) { id recordIds } }"""
PERSON = """query($id: ID!, $at: DateTime) { officer(id: $id, asOf: $at) { id firstName lastName
    fullName dateOfBirth version recordedAt asOf recordIds otherNames { kind lastName }
    certifications { number } stints { agency { id } startedOn }
    identityEvents { kind survivorId mergedId reason }
    versions { version firstName lastName dateOfBirth changeReason supersededAt } } }"""
PAGE = """query($first: Int, $after: String, $name: String, $agency: ID,
    $status: CertificationStatus) {
    officers(first: $first, after: $after, name: $name, agencyId: $agency, status: $status) {
    edges { cursor node { id firstName lastName } }
    pageInfo { hasNextPage endCursor } } }"""


async def audit_count(engine, operation: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM audit_events WHERE operation = :op"), {"op": operation}
        )).scalar_one()


async def refused(client, engine, query: str, variables: dict, token: str, code: str
                  ) -> dict[str, Any]:
    """Run an operation that must fail with ``code`` and leave every table as it was."""
    counts = await row_counts(engine)
    body = (await gql(client, query, variables, token=token)).json()
    assert body.get("errors") and len(body["errors"]) == 1, body
    assert all(v is None for v in (body.get("data") or {}).values()), body
    error = body["errors"][0]
    assert error["extensions"]["code"] == code, error
    assert error["message"]
    assert await row_counts(engine) == counts
    return error


async def register(client, token: str, **fields: Any) -> dict[str, Any]:
    return (await data(client, REGISTER, {"i": fields}, token=token))["registerOfficer"]


# Registering.

async def test_register_with_other_names_and_partial_birth_dates(client, engine, world):
    staff = world.tokens["staff"]
    year = await register(client, staff, firstName="Ana", lastName="Ruiz-Peña",
                          dateOfBirth="1975", otherNames=[
                              {"kind": "MAIDEN", "lastName": "Peña", "firstName": "Ana"},
                              {"kind": "ALIAS", "lastName": "Ruiz"}])
    assert year["dateOfBirth"] == "1975"
    assert year["lastName"] == "Ruiz-Peña"
    assert [(n["kind"], n["firstName"], n["lastName"]) for n in year["otherNames"]] == [
        ("MAIDEN", "Ana", "Peña"), ("ALIAS", None, "Ruiz")]
    month = await register(client, world.tokens["agency_a"], firstName="  Tom ",
                           lastName="Baker", middleName="J", suffix="Jr.",
                           dateOfBirth="1980-06", postId="VA-P-1001", otherNames=[
                               {"kind": "PRIOR", "lastName": "Becker", "firstName": "Thomas",
                                "usedUntil": "2001-05-01"}])
    assert month["dateOfBirth"] == "1980-06"
    assert month["firstName"] == "Tom" and month["fullName"] == "Tom J Baker Jr."
    assert month["postId"] == "VA-P-1001"
    assert month["otherNames"] == [{"kind": "PRIOR", "firstName": "Thomas", "lastName": "Becker",
                                    "usedUntil": "2001-05-01"}]
    full = await register(client, staff, firstName="Li", lastName="Wu",
                          dateOfBirth="1982-02-28")
    assert full["dateOfBirth"] == "1982-02-28"
    none = await register(client, staff, firstName="Sam", lastName="Ng")
    assert none["dateOfBirth"] is None and none["otherNames"] == []
    assert await audit_count(engine, "officer.register") == 4
    # The other names are stored with the person and read back by id.
    again = (await data(client, PERSON, {"id": year["id"]}, token=world.tokens["board"])
             )["officer"]
    assert [n["lastName"] for n in again["otherNames"]] == ["Peña", "Ruiz"]
    assert again["dateOfBirth"] == "1975"


@pytest.mark.parametrize("birth", [
    "2999", f"{date.today().year + 1}-01", "2999-01-01", "1980--05", "1980-XX-05", "1980-02-30",
    "1980-13", "banana", "1899-12-31", "80-01-01", ""])
async def test_impossible_birth_dates_write_nothing(client, engine, world, birth):
    error = await refused(client, engine, REGISTER, {"i": {
        "firstName": "A", "lastName": "B", "dateOfBirth": birth}}, world.tokens["staff"],
        "BAD_USER_INPUT")
    if birth == "1980--05":
        assert "day but no month" in error["message"]
    if birth == "1980-02-30":
        assert "not a calendar date" in error["message"]


async def test_impossible_birth_date_as_a_literal(client, engine, world):
    counts = await row_counts(engine)
    body = (await gql(client, 'mutation { registerOfficer(input: {firstName: "A", lastName: "B",'
                              ' dateOfBirth: "1980--05"}) { id } }',
                      token=world.tokens["staff"])).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "day but no month" in body["errors"][0]["message"]
    assert await row_counts(engine) == counts


@pytest.mark.parametrize(("fields", "field"), [
    ({"firstName": "Ann", "lastName": "   "}, "lastName"),
    ({"firstName": "", "lastName": "Lee"}, "firstName"),
    ({"firstName": "Ann", "lastName": "--"}, "lastName"),
    ({"firstName": "Ann", "lastName": "L" * 101}, "lastName"),
    ({"firstName": "Ann", "lastName": "Lee", "sex": "F"}, "sex"),
    ({"firstName": "Ann", "lastName": "Lee", "otherNames": [{"kind": "PRIOR",
                                                             "lastName": " "}]}, "lastName"),
])
async def test_bad_names_are_refused(client, engine, world, fields, field):
    error = await refused(client, engine, REGISTER, {"i": fields}, world.tokens["staff"],
                          "BAD_USER_INPUT")
    assert error["extensions"]["field"] == field


async def test_duplicate_post_id(client, engine, world):
    staff = world.tokens["staff"]
    first = await register(client, staff, firstName="Ann", lastName="Lee", postId="P-77")
    error = await refused(client, engine, REGISTER, {"i": {
        "firstName": "Anne", "lastName": "Leigh", "postId": " P-77 "}}, staff, "DUPLICATE")
    assert "P-77" in error["message"] and error["extensions"]["field"] == "postId"
    # Correcting another officer onto that POST id is refused the same way.
    other = await register(client, staff, firstName="Bo", lastName="Chen")
    await refused(client, engine, CORRECT, {"id": other["id"], "r": "typo", "i": {
        "firstName": "Bo", "lastName": "Chen", "postId": "P-77"}}, staff, "DUPLICATE")
    assert first["postId"] == "P-77"


# Corrections are versions.

async def test_correction_is_a_new_version_and_as_of_shows_the_old_name(client, engine, world):
    staff = world.tokens["staff"]
    first = await register(client, staff, firstName="Jon", lastName="Smyth",
                           dateOfBirth="1970-04")
    v1 = (await data(client, PERSON, {"id": first["id"]}, token=staff))["officer"]
    corrected = (await data(client, CORRECT, {
        "id": first["id"], "r": "birth certificate", "v": 1, "i": {
            "firstName": "John", "lastName": "Smith", "dateOfBirth": "1970-04-12"}},
                            token=staff))["correctOfficer"]
    assert corrected["version"] == 2 and corrected["changeReason"] == "birth certificate"
    assert await audit_count(engine, "officer.correct") == 1

    now = (await data(client, PERSON, {"id": first["id"]}, token=staff))["officer"]
    assert (now["firstName"], now["lastName"], now["version"]) == ("John", "Smith", 2)
    assert [(v["version"], v["firstName"], v["lastName"], v["dateOfBirth"], v["changeReason"])
            for v in now["versions"]] == [(1, "Jon", "Smyth", "1970-04", None),
                                         (2, "John", "Smith", "1970-04-12", "birth certificate")]
    assert now["versions"][0]["supersededAt"] is not None
    assert now["versions"][1]["supersededAt"] is None

    then = (await data(client, PERSON, {"id": first["id"], "at": v1["recordedAt"]},
                       token=staff))["officer"]
    assert (then["firstName"], then["lastName"], then["version"]) == ("Jon", "Smyth", 1)
    assert then["dateOfBirth"] == "1970-04" and then["asOf"] is not None
    # Before the officer was registered there was nothing.
    before = (await data(client, PERSON, {"id": first["id"], "at": "2001-01-01T00:00:00Z"},
                         token=staff))["officer"]
    assert before is None

    # A stale expectedVersion is a conflict and changes nothing.
    error = await refused(client, engine, CORRECT, {"id": first["id"], "r": "again", "v": 1,
                                                    "i": {"firstName": "J", "lastName": "S"}},
                          staff, "CONFLICT")
    assert error["extensions"]["current_version"] == 2
    await refused(client, engine, CORRECT, {"id": first["id"], "r": "  ", "i": {
        "firstName": "J", "lastName": "S"}}, staff, "BAD_USER_INPUT")
    await refused(client, engine, CORRECT, {"id": str(uuid.uuid4()), "r": "x", "i": {
        "firstName": "J", "lastName": "S"}}, staff, "NOT_FOUND")


# Merge and split.

async def _person_with_history(engine, settings, first: str, last: str, number: str,
                               agency_id: uuid.UUID, started_on: date) -> uuid.UUID:
    async with session_scope(engine) as session:
        person = await officers.register(session=session, actor=SYSTEM,
                                         officer_in=officers.OfficerIn(first, last))
        await certifications.issue(session=session, actor=STAFF, settings=settings,
                                   issue_in=certifications.IssueIn(
                                       officer_id=person.id, number=number,
                                       discipline="law_enforcement", level="basic",
                                       issued_on=started_on))
        await employment.report_hire(session=session, actor=STAFF, hire_in=employment.HireIn(
            officer_id=person.id, agency_id=agency_id, started_on=started_on))
        return person.id


@pytest.fixture
async def pair(engine, settings, world) -> tuple[str, str]:
    """Two records of one man: a survivor at agency A and a duplicate at agency B."""
    survivor = await _person_with_history(engine, settings, "Robert", "Hale", "VA-100",
                                          world.agency_a.id, date(2008, 1, 7))
    duplicate = await _person_with_history(engine, settings, "Bob", "Hale", "VA-200",
                                           world.agency_b.id, date(2014, 5, 1))
    return str(survivor), str(duplicate)


async def _roster(client, token: str, **filters: Any) -> list[str]:
    got = (await data(client, PAGE, {"first": 100, **filters}, token=token))["officers"]
    return [e["node"]["id"] for e in got["edges"]]


async def test_merge_shows_both_records_under_the_survivor_and_split_restores(
        client, engine, world, pair):
    staff = world.tokens["staff"]
    survivor, duplicate = pair
    merged = (await data(client, MERGE, {"s": survivor, "d": duplicate,
                                         "r": "same DOB and SSN"}, token=staff))["mergeOfficers"]
    assert merged["id"] == survivor
    assert sorted(merged["recordIds"]) == sorted([survivor, duplicate])
    assert await audit_count(engine, "officer.merge") == 1

    person = (await data(client, PERSON, {"id": survivor}, token=staff))["officer"]
    assert sorted(c["number"] for c in person["certifications"]) == ["VA-100", "VA-200"]
    assert [(s["agency"]["id"], s["startedOn"]) for s in person["stints"]] == [
        (str(world.agency_a.id), "2008-01-07"), (str(world.agency_b.id), "2014-05-01")]
    assert person["identityEvents"] == [{"kind": "merge", "survivorId": survivor,
                                         "mergedId": duplicate, "reason": "same DOB and SSN"}]
    via_duplicate = (await data(client, PERSON, {"id": duplicate}, token=staff))["officer"]
    assert via_duplicate["id"] == survivor and via_duplicate["firstName"] == "Robert"
    roster = await _roster(client, staff)
    assert survivor in roster and duplicate not in roster
    # Filters look through the merged record: its stint and its certification count.
    assert await _roster(client, staff, agency=str(world.agency_b.id)) == [survivor]
    assert await _roster(client, staff, name="bob hale") == []

    split = (await data(client, SPLIT, {"s": survivor, "m": duplicate, "r": "different men"},
                        token=staff))["splitOfficer"]
    assert split["id"] == duplicate and split["recordIds"] == [duplicate]
    assert await audit_count(engine, "officer.split") == 1
    restored = (await data(client, PERSON, {"id": survivor}, token=staff))["officer"]
    assert [c["number"] for c in restored["certifications"]] == ["VA-100"]
    assert [s["startedOn"] for s in restored["stints"]] == ["2008-01-07"]
    assert restored["recordIds"] == [survivor]
    assert [e["kind"] for e in restored["identityEvents"]] == ["merge", "split"]
    alone = (await data(client, PERSON, {"id": duplicate}, token=staff))["officer"]
    assert alone["id"] == duplicate and alone["firstName"] == "Bob"
    assert [c["number"] for c in alone["certifications"]] == ["VA-200"]
    assert [s["startedOn"] for s in alone["stints"]] == ["2014-05-01"]
    assert sorted(await _roster(client, staff)) == sorted([survivor, duplicate])
    assert await _roster(client, staff, agency=str(world.agency_b.id)) == [duplicate]

    # Splitting what is not merged is refused.
    await refused(client, engine, SPLIT, {"s": survivor, "m": duplicate, "r": "again"}, staff,
                  "BAD_USER_INPUT")


async def test_merges_that_make_no_sense_are_refused(client, engine, world, pair):
    staff = world.tokens["staff"]
    survivor, duplicate = pair
    error = await refused(client, engine, MERGE, {"s": survivor, "d": survivor, "r": "x"}, staff,
                          "BAD_USER_INPUT")
    assert "itself" in error["message"]
    await data(client, MERGE, {"s": survivor, "d": duplicate, "r": "same person"}, token=staff)
    third = await register(client, staff, firstName="Rob", lastName="Hale")
    # The merged record is no longer a person of its own: not as duplicate, not as survivor.
    error = await refused(client, engine, MERGE, {"s": third["id"], "d": duplicate, "r": "x"},
                          staff, "BAD_USER_INPUT")
    assert survivor in error["message"]
    await refused(client, engine, MERGE, {"s": duplicate, "d": third["id"], "r": "x"}, staff,
                  "BAD_USER_INPUT")
    await refused(client, engine, MERGE, {"s": survivor, "d": duplicate, "r": "x"}, staff,
                  "BAD_USER_INPUT")
    await refused(client, engine, MERGE, {"s": survivor, "d": str(uuid.uuid4()), "r": "x"}, staff,
                  "NOT_FOUND")
    await refused(client, engine, MERGE, {"s": survivor, "d": third["id"], "r": " "}, staff,
                  "BAD_USER_INPUT")
    # A person with merged records can itself be merged; everything follows.
    (await data(client, MERGE, {"s": third["id"], "d": survivor, "r": "all one"}, token=staff))
    person = (await data(client, PERSON, {"id": duplicate}, token=staff))["officer"]
    assert person["id"] == third["id"]
    assert sorted(person["recordIds"]) == sorted([third["id"], survivor, duplicate])
    assert sorted(c["number"] for c in person["certifications"]) == ["VA-100", "VA-200"]


# The roster connection.

FIRSTS = ["Ana", "Émile", "zoe", "Ben", "Carl", "Dora", "Eve", "Finn"]
LASTS = ["O'Brien", "Oakes", "Smith", "Smithers", "García", "Garcia", "de la Cruz", "Nguyen"]


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


async def _register_many(engine, people: list[tuple[str, str]]) -> dict[uuid.UUID, tuple]:
    ids = {}
    async with session_scope(engine) as session:
        for first, last in people:
            o = await officers.register(session=session, actor=SYSTEM,
                                        officer_in=officers.OfficerIn(first, last))
            ids[o.id] = (first, last)
    return ids


async def test_keyset_pages_list_every_officer_once_in_roster_order(client, engine, world):
    people = [(FIRSTS[i % len(FIRSTS)], LASTS[(i * 3) % len(LASTS)]) for i in range(33)]
    people += [("John", "Smith"), ("John", "Smith"), ("Al", "Smithers")]  # ties, and prefixes
    ids = await _register_many(engine, people)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await data(client, PAGE, {"first": 7, "after": after},
                           token=world.tokens["agency_b"]))["officers"]
        pages += 1
        assert len(page["edges"]) == (7 if page["pageInfo"]["hasNextPage"] else
                                      len(ids) - len(seen))
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert pages == -(-len(ids) // 7)
    assert len(seen) == len(set(seen)) == len(ids)

    def roster(person_id: str) -> tuple:
        first, last = ids[uuid.UUID(person_id)]
        return (_fold(last).replace("'", " "), _fold(first), person_id)

    assert seen == sorted(seen, key=roster)
    names = [ids[uuid.UUID(i)] for i in seen]
    # Last name first, as a roster reads: every Smith before any Smithers.
    smiths = [n for n, (_, last) in enumerate(names) if last == "Smith"]
    smithers = [n for n, (_, last) in enumerate(names) if last == "Smithers"]
    assert max(smiths) < min(smithers)


async def test_roster_order_does_not_depend_on_the_database_collation(engine):
    """Sort keys hold spaces ('smith john' < 'smithers al'); a linguistic collation ignores
    them and would list Smithers before Smith, so the key is compared byte by byte."""
    async with engine.connect() as conn:
        collation = (await conn.execute(text(
            "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
            "WHERE a.attrelid = 'officers'::regclass AND a.attname = 'sort_key'"))).scalar_one()
    assert collation == "C"


async def test_name_filter_folds_accents_and_case_and_finds_prior_names(client, engine, world):
    ids = await _register_many(engine, [("José", "Álvarez"), ("Jose", "ALVAREZ"),
                                        ("Maria", "Alvarado"), ("Ann", "Kowalski")])
    by_name = {v: str(k) for k, v in ids.items()}
    async with session_scope(engine) as session:
        await officers.add_name(session=session, actor=SYSTEM,
                                officer_id=uuid.UUID(by_name[("Ann", "Kowalski")]),
                                name_in=officers.NameIn(last_name="Álvarez-Brown",
                                                        first_name="Ann"))
    token = world.tokens["board"]
    expected = {by_name[("José", "Álvarez")], by_name[("Jose", "ALVAREZ")],
                by_name[("Ann", "Kowalski")]}
    for query in ("alvarez", "ÁLVAREZ", "Alvárez", "  alvarez "):
        assert set(await _roster(client, token, name=query)) == expected, query
    assert set(await _roster(client, token, name="josé álvarez")) == {
        by_name[("José", "Álvarez")], by_name[("Jose", "ALVAREZ")]}
    assert await _roster(client, token, name="alvarez brown") == [by_name[("Ann", "Kowalski")]]
    assert await _roster(client, token, name="kowalski") == [by_name[("Ann", "Kowalski")]]
    assert set(await _roster(client, token, name="alva")) == expected | {
        by_name[("Maria", "Alvarado")]}
    assert await _roster(client, token, name="zzz") == []
    # Pages of a filtered list follow the filter.
    page = (await data(client, PAGE, {"first": 2, "name": "alvarez"}, token=token))["officers"]
    rest = (await data(client, PAGE, {"first": 2, "name": "alvarez",
                                      "after": page["pageInfo"]["endCursor"]}, token=token)
            )["officers"]
    assert {e["node"]["id"] for e in page["edges"] + rest["edges"]} == expected
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_agency_and_status_filters(client, engine, world, settings):
    a, b = world.agency_a.id, world.agency_b.id
    at_a = await _person_with_history(engine, settings, "Kim", "Ames", "VA-1", a,
                                      date(2010, 1, 1))
    at_b = await _person_with_history(engine, settings, "Lou", "Bard", "VA-2", b,
                                      date(2011, 1, 1))
    nowhere = (await _register_many(engine, [("Max", "Cole")])).popitem()[0]
    async with session_scope(engine) as session:
        await certifications.move(session=session, actor=STAFF,
                                  certification_id=(await _cert_id(session, at_b)),
                                  move=Move.LAPSE, effective_on=date(2015, 1, 1),
                                  reason="not renewed")
    token = world.tokens["agency_a"]
    assert await _roster(client, token, agency=str(a)) == [str(at_a)]
    assert await _roster(client, token, agency=str(b)) == [str(at_b)]
    assert await _roster(client, token, agency=str(uuid.uuid4())) == []
    assert await _roster(client, token, status="ACTIVE") == [str(at_a)]
    assert await _roster(client, token, status="LAPSED") == [str(at_b)]
    assert await _roster(client, token, status="REVOKED") == []
    assert await _roster(client, token, status="ACTIVE", agency=str(b)) == []
    assert await _roster(client, token, name="bard", status="LAPSED") == [str(at_b)]
    assert sorted(await _roster(client, token)) == sorted(str(i) for i in (at_a, at_b, nowhere))


async def _cert_id(session: Any, officer_id: uuid.UUID) -> uuid.UUID:
    return (await run_sql(session, "SELECT id FROM certifications WHERE officer_id = :o",
                          {"o": officer_id})).scalar_one()


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_page_size_out_of_range(client, engine, world, first):
    error = await refused(client, engine, PAGE, {"first": first}, world.tokens["staff"],
                          "BAD_USER_INPUT")
    assert error["extensions"]["field"] == "first"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not-a-cursor", "", "!!!!", _b64(b"[1, 2, 3]"), _b64(b'{"a": 1}'),
    _b64(json.dumps(["smith john", "not-a-uuid"]).encode()), _b64(b"\xff\xfe"),
    _b64(json.dumps(["smith john"]).encode())])
async def test_forged_cursor_is_refused(client, engine, world, cursor):
    error = await refused(client, engine, PAGE, {"first": 5, "after": cursor},
                          world.tokens["staff"], "BAD_USER_INPUT")
    assert error["extensions"]["field"] == "after"


async def test_bad_filter_ids(client, engine, world):
    await refused(client, engine, PAGE, {"agency": "VA1220000"}, world.tokens["staff"],
                  "BAD_USER_INPUT")
    await refused(client, engine, PERSON, {"id": "nope"}, world.tokens["staff"],
                  "BAD_USER_INPUT")
    assert (await data(client, PERSON, {"id": str(uuid.uuid4())}, token=world.tokens["staff"])
            )["officer"] is None
