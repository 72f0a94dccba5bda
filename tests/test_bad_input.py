"""The issue's list of bad input, in one place: each gets a clear error with a stable code (or
HTTP status) and leaves every table exactly as it was."""

from typing import Any

import pytest

from tests.conftest import data, row_counts


@pytest.fixture
async def seeded(client, world) -> dict[str, Any]:
    """An officer with a certification and an open stint at agency A."""
    staff = world.tokens["staff"]
    officer = (await data(client, """mutation { registerOfficer(input: {firstName: "Ray",
        lastName: "Okafor", dateOfBirth: "1980-06-01"}) { id } }""", token=staff)
               )["registerOfficer"]["id"]
    cert = (await data(client, """mutation($o: ID!) { issueCertification(input: {officerId: $o,
        number: "VA-1", discipline: LAW_ENFORCEMENT, level: BASIC, issuedOn: "2010-01-04"})
        { id } }""", {"o": officer}, token=staff))["issueCertification"]["id"]
    stint = (await data(client, """mutation($o: ID!, $a: ID!) { reportHire(input: {officerId: $o,
        agencyId: $a, startedOn: "2010-02-01", rank: "Officer"}) { id } }""",
                        {"o": officer, "a": str(world.agency_a.id)},
                        token=world.tokens["agency_a"]))["reportHire"]["id"]
    return {"officer": officer, "cert": cert, "stint": stint, "world": world}


def _cases(s: dict[str, Any]) -> list[tuple[str, dict, str, int, str | None]]:
    """(label, request json, token role, HTTP status, extensions.code)"""
    w = s["world"]
    future = "2999-01-01"
    return [
        ("unparsable document", {"query": "{ officers { "}, "staff", 400, None),
        ("invalid document", {"query": "{ officers { nope } }"}, "staff", 422,
         "GRAPHQL_VALIDATION_FAILED"),
        ("unknown enum value", {"query": "query($s: CertificationStatus) { officers(status: $s)"
                                         " { edges { cursor } } }",
                                "variables": {"s": "RETIRED"}}, "staff", 422, None),
        ("birth in the future", {"query": "mutation { registerOfficer(input: {firstName: \"A\","
                                          f" lastName: \"B\", dateOfBirth: \"{future}\"}}) "
                                          "{ id } }"}, "staff", 200, "BAD_USER_INPUT"),
        ("day without month", {"query": "mutation { registerOfficer(input: {firstName: \"A\", "
                                        "lastName: \"B\", dateOfBirth: \"1980--05\"}) { id } }"},
         "staff", 422, None),
        ("end before start", {"query": "mutation($s: ID!) { reportSeparation(stintId: $s, input:"
                                       " {endedOn: \"2009-12-31\", reason: RESIGNED}) { id } }",
                              "variables": {"s": s["stint"]}}, "agency_a", 200,
         "BAD_USER_INPUT"),
        ("illegal status move", {"query": "mutation($c: ID!) { moveCertificationStatus(id: $c, "
                                          "move: REACTIVATE, effectiveOn: \"2011-01-01\", "
                                          "reason: \"x\") { id } }",
                                 "variables": {"c": s["cert"]}}, "staff", 200,
         "ILLEGAL_STATUS_MOVE"),
        ("blank reason for a correction",
         {"query": "mutation($s: ID!) { correctStint(id: $s, input: {startedOn: \"2010-02-01\", "
                   "rank: \"Corporal\"}, "
                   "reason: \"  \") { id } }", "variables": {"s": s["stint"]}}, "agency_a",
         200, "BAD_USER_INPUT"),
        ("reason over 2,000 characters",
         {"query": "mutation($s: ID!, $r: String!) { correctStint(id: $s, input: {startedOn: "
                   "\"2010-02-01\", rank: \"Corporal\"}, reason: $r) { id } }",
          "variables": {"s": s["stint"], "r": "why " * 501}}, "agency_a", 200,
         "BAD_USER_INPUT"),
        ("overlapping stint", {"query": "mutation($o: ID!, $a: ID!) { reportHire(input: "
                                        "{officerId: $o, agencyId: $a, startedOn: \"2012-01-01\"})"
                                        " { id } }",
                               "variables": {"o": s["officer"], "a": str(w.agency_a.id)}},
         "agency_a", 200, "OVERLAPPING_STINT"),
        ("write for another agency", {"query": "mutation($s: ID!) { reportSeparation(stintId: $s,"
                                               " input: {endedOn: \"2015-01-01\", reason: "
                                               "TERMINATED}) { id } }",
                                      "variables": {"s": s["stint"]}}, "agency_b", 403,
         "FORBIDDEN"),
        ("unknown key", {"query": "{ me { name } }"}, "unknown", 401, "UNAUTHENTICATED"),
        ("over-deep query", {"query": "{ officers { edges { node { "
                                      + "stints { officer { " * 5 + "id" + " } }" * 5
                                      + " } } } }"}, "staff", 422, "QUERY_TOO_DEEP"),
    ]


async def test_bad_input_is_refused_and_changes_nothing(client, engine, seeded):
    before = await row_counts(engine)
    tokens = {**seeded["world"].tokens, "unknown": "reg_" + "a" * 32 + "_nope"}
    for label, body, who, status, code in _cases(seeded):
        response = await client.post("/graphql", json=body,
                                     headers={"Authorization": f"Bearer {tokens[who]}"})
        assert response.status_code == status, (label, response.text)
        errors = response.json()["errors"]
        assert errors and errors[0]["message"], label
        if code:
            assert errors[0]["extensions"]["code"] == code, (label, errors)
        assert await row_counts(engine) == before, f"{label} changed the database"


async def test_malformed_json_and_revoked_key(client, engine, world):
    before = await row_counts(engine)
    response = await client.post("/graphql", content=b"{\"query\": ",
                                 headers={"Content-Type": "application/json",
                                          **world.headers("staff")})
    assert response.status_code == 400
    from registry.database import session_scope
    from registry.keys import service as keys
    from tests.conftest import SYSTEM

    async with session_scope(engine) as session:
        (key, _), = [k for k in await keys.list_keys(session=session) if k[0].name == "test staff"]
        await keys.revoke(session=session, actor=SYSTEM, key_id=key.id)
    after_revoke = await row_counts(engine)
    response = await client.post("/graphql", json={"query": "mutation { createAgency(input: "
                                 "{state: \"VA\", name: \"X\", agencyType: POLICE}) { id } }"},
                                 headers=world.headers("staff"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await row_counts(engine) == after_revoke
    assert after_revoke["api_keys"] == before["api_keys"]
