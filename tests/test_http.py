"""The GraphQL-over-HTTP endpoint: what a client can rely on from the transport itself.

Follows https://graphql.github.io/graphql-over-http/ and the contract in the docstring of
``registry/api/http.py``: media types, status codes, methods, limits, keys and request ids.
"""

import json
import re
import uuid
from collections.abc import AsyncIterator

import httpx2
import pytest
from graphql import (
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    get_introspection_query,
)
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.routing import Route

from registry.api.context import Context
from registry.api.http import GraphQLEndpoint
from registry.app import create_app
from registry.database import session_scope
from registry.keys import service as keys
from registry.settings import Settings
from tests.conftest import ROOT, SYSTEM, data, row_counts

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")

CREATE_AGENCY = """mutation($in: AgencyInput!) { createAgency(input: $in) { id name } }"""
REGISTER = """mutation($in: OfficerInput!) { registerOfficer(input: $in) { id } }"""
FULL_RECORD = (ROOT / "graphql" / "operations" / "Officer.graphql").read_text()
ISSUE = """mutation($o: ID!) { issueCertification(input: {officerId: $o, number: "VA-9",
  discipline: LAW_ENFORCEMENT, level: BASIC, issuedOn: "2015-01-05"}) { id } }"""


async def post(client: httpx2.AsyncClient, body: object, *, accept: str | None = GRAPHQL_RESPONSE,
               token: str | None = None, path: str = "/graphql",
               headers: dict[str, str] | None = None) -> httpx2.Response:
    """POST ``body`` as JSON (a str or bytes body is sent as it is)."""
    h = {"Content-Type": JSON, **(headers or {})}
    if accept is not None:
        h["Accept"] = accept
    if token:
        h["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, str | bytes) else json.dumps(body)
    return await client.post(path, content=content, headers=h)


def media_type(response: httpx2.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def codes(response: httpx2.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


def assert_error(response: httpx2.Response, status: int, code: str | None = None) -> dict:
    """A refused request: the status, errors with a message and a stable code, no data."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errors"], body
    for error in body["errors"]:
        assert error["message"] and isinstance(error["message"], str), error
        assert error["extensions"]["code"], error
    if code:
        assert code in codes(response), body
    return body


# --- Requests: POST, GET, operationName ------------------------------------------------------


async def test_post_json_with_query_variables_and_operation_name(client, world):
    response = await post(client, {
        "query": "query Mine($id: ID!) { me { name role } agency(id: $id) { ori } }",
        "variables": {"id": str(world.agency_a.id)}, "operationName": "Mine",
    }, token=world.tokens["agency_a"])
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"name": "test agency_a", "role": "AGENCY"},
                                        "agency": {"ori": "VA1220000"}}}
    # A charset parameter on the request's Content-Type is fine (utf-8 is the only one).
    again = await post(client, {"query": "{ me { name } }"}, token=world.tokens["staff"],
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert again.status_code == 200 and again.json()["data"]["me"]["name"] == "test staff"


async def test_null_optional_parameters_are_allowed(client, world):
    response = await post(client, {"query": "{ me { name } }", "variables": None,
                                   "operationName": None, "extensions": None},
                          token=world.tokens["staff"])
    assert response.status_code == 200 and "errors" not in response.json()


async def test_get_with_query_string_and_json_variables(client, world):
    response = await client.get("/graphql", params={
        "query": "query One($id: ID!) { agency(id: $id) { name } }",
        "variables": json.dumps({"id": str(world.agency_b.id)}), "operationName": "One",
    }, headers={"Accept": GRAPHQL_RESPONSE, **world.headers("board")})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"agency": {"name": "Henrico County Police Division"}}}
    public = await client.get("/public/graphql",
                              params={"query": "{ agencies { edges { node { ori } } } }"})
    assert public.status_code == 200
    assert {e["node"]["ori"] for e in public.json()["data"]["agencies"]["edges"]} == {
        "VA1220000", "VA0430100"}


async def test_get_with_variables_that_are_not_json_is_refused(client, world):
    response = await client.get("/graphql", params={
        "query": "query($id: ID!) { agency(id: $id) { name } }", "variables": "{id:"},
        headers={"Accept": GRAPHQL_RESPONSE, **world.headers("staff")})
    assert_error(response, 400, "BAD_REQUEST")


async def test_operation_name_selects_one_of_several_operations(client, world):
    document = """query Who { me { name } }
                  query Where { agencies(first: 1) { edges { node { state } } } }"""
    who = await post(client, {"query": document, "operationName": "Who"},
                     token=world.tokens["staff"])
    assert who.status_code == 200 and who.json() == {"data": {"me": {"name": "test staff"}}}
    where = await post(client, {"query": document, "operationName": "Where"},
                       token=world.tokens["staff"])
    assert where.json() == {"data": {"agencies": {"edges": [{"node": {"state": "VA"}}]}}}


async def test_several_operations_need_an_existing_operation_name(client, world):
    document = "query Who { me { name } } query Also { me { role } }"
    for operation_name in (None, "Nowhere"):
        response = await post(client, {"query": document, "operationName": operation_name},
                              token=world.tokens["staff"])
        body = assert_error(response, 422, "BAD_REQUEST")
        assert "data" not in body
        legacy = await post(client, {"query": document, "operationName": operation_name},
                            token=world.tokens["staff"], accept=JSON)
        assert legacy.status_code == 200 and legacy.json()["errors"]
        assert "data" not in legacy.json()


# --- Accept negotiation and encoding ---------------------------------------------------------


ACCEPTED = [
    (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
    (JSON, JSON),
    ("*/*", GRAPHQL_RESPONSE),
    ("application/*", GRAPHQL_RESPONSE),
    (f"{GRAPHQL_RESPONSE}; charset=utf-8, {JSON}; charset=utf-8", GRAPHQL_RESPONSE),
    (f"text/xml, {JSON};q=0.9", JSON),
    (f"{GRAPHQL_RESPONSE};q=0, {JSON}", JSON),
]


async def test_accept_chooses_the_response_media_type(client, world):
    for accept, expected in ACCEPTED:
        response = await post(client, {"query": "{ me { name } }"}, accept=accept,
                              token=world.tokens["staff"])
        assert response.status_code == 200, (accept, response.text)
        assert media_type(response) == expected, accept
        assert response.json()["data"]["me"]["name"] == "test staff"


async def test_missing_accept_gets_graphql_response_json(client, world):
    request = client.build_request("POST", "/graphql", json={"query": "{ me { name } }"},
                                   headers=world.headers("staff"))
    del request.headers["accept"]
    response = await client.send(request)
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE


async def test_unsupported_accept_is_406(client, world, engine):
    counts = await row_counts(engine)
    for accept in ("text/xml", "text/html", f"{GRAPHQL_RESPONSE};q=0",
                   f"{JSON}; charset=iso-8859-1"):
        response = await post(client, {"query": CREATE_AGENCY, "variables": {"in": {
            "state": "VA", "name": "Nope PD", "agencyType": "POLICE"}}},
            accept=accept, token=world.tokens["staff"])
        assert_error(response, 406, "NOT_ACCEPTABLE")
    assert await row_counts(engine) == counts


async def test_responses_are_utf8(client, world):
    name = "Département de Police Ñandú 警察"
    await data(client, CREATE_AGENCY, {"in": {"state": "VA", "name": name,
                                              "agencyType": "POLICE"}},
               token=world.tokens["staff"])
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await post(client, {"query": "query($n: String) { agencies(name: $n) "
                                                "{ edges { node { name } } } }",
                                        "variables": {"n": "Ñandú"}},
                              accept=accept, token=world.tokens["staff"])
        assert "charset=utf-8" in response.headers["content-type"].replace(" ", "").lower()
        text = response.content.decode("utf-8")  # raises if the body is not utf-8
        assert json.loads(text)["data"]["agencies"]["edges"] == [{"node": {"name": name}}]
    refused = await post(client, {"query": "{"}, accept="text/xml")
    assert "charset=utf-8" in refused.headers["content-type"]


# --- Status codes ----------------------------------------------------------------------------

UNKNOWN_ENUM = {"query": "query($s: CertificationStatus) { officers(status: $s) "
                         "{ edges { cursor } } }", "variables": {"s": "RETIRED_OFFICER"}}


REQUEST_ERRORS = [
    ("malformed JSON", '{"query": ', 400, "BAD_REQUEST"),
    ("not JSON at all", "NONSENSE", 400, "BAD_REQUEST"),
    ("a JSON array", '[{"query": "{ me { name } }"}]', 400, "BAD_REQUEST"),
    ("a JSON string", '"{ me { name } }"', 400, "BAD_REQUEST"),
    ("empty body", "", 400, "BAD_REQUEST"),
    ("unparsable document", {"query": "{ me { name "}, 400, "GRAPHQL_PARSE_FAILED"),
    ("missing query", {"qeury": "{ me { name } }"}, 422, "BAD_REQUEST"),
    ("blank query", {"query": "   "}, 422, "BAD_REQUEST"),
    ("query is an object", {"query": {"me": "name"}}, 422, "BAD_REQUEST"),
    ("query is a number", {"query": 7}, 422, "BAD_REQUEST"),
    ("variables is a list", {"query": "{ me { name } }", "variables": [7]}, 422, "BAD_REQUEST"),
    ("variables is a string", {"query": "{ me { name } }", "variables": "{}"}, 422,
     "BAD_REQUEST"),
    ("operationName is a number", {"query": "{ me { name } }", "operationName": 1}, 422,
     "BAD_REQUEST"),
    ("unknown field", {"query": "{ me { name shoeSize } }"}, 422,
     "GRAPHQL_VALIDATION_FAILED"),
    ("unknown enum value in a variable", UNKNOWN_ENUM, 422, None),
    ("missing required variable", {"query": "query($id: ID!) { agency(id: $id) { name } }"},
     422, None),
]


async def test_request_errors_with_graphql_response_json(client, world, engine):
    counts = await row_counts(engine)
    for label, body, status, code in REQUEST_ERRORS:
        response = await post(client, body, token=world.tokens["staff"])
        assert media_type(response) == GRAPHQL_RESPONSE, label
        assert response.status_code == status, (label, response.text)
        payload = assert_error(response, status, code)
        assert "data" not in payload, (label, payload)
    assert await row_counts(engine) == counts


async def test_document_errors_with_application_json_are_200(client, world):
    for label, body in (("unparsable document", {"query": "{ me { name "}),
                        ("unknown field", {"query": "{ me { name shoeSize } }"}),
                        ("unknown enum value in a variable", UNKNOWN_ENUM)):
        response = await post(client, body, accept=JSON, token=world.tokens["staff"])
        assert response.status_code == 200, (label, response.text)
        assert media_type(response) == JSON
        payload = response.json()
        assert payload["errors"] and payload["errors"][0]["message"], label
        assert "data" not in payload, (label, payload)  # nothing was executed


async def test_bad_request_shape_with_application_json_is_400(client, world):
    response = await post(client, {"qeury": "{ me { name } }"}, accept=JSON,
                          token=world.tokens["staff"])
    assert_error(response, 400, "BAD_REQUEST")
    assert media_type(response) == JSON


async def test_field_error_keeps_partial_data_and_200(client, world):
    response = await post(client, {"query": '{ me { name } agency(id: "not-an-id") { name } }'},
                          token=world.tokens["staff"])
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": {"name": "test staff"}, "agency": None}
    [error] = body["errors"]
    assert error["path"] == ["agency"] and error["extensions"]["code"] == "BAD_USER_INPUT"


# --- Methods, body types and sizes -----------------------------------------------------------


async def test_mutation_over_get_is_405_and_not_executed(client, world, engine):
    counts = await row_counts(engine)
    response = await client.get("/graphql", params={
        "query": 'mutation { createAgency(input: {state: "VA", name: "Get PD", '
                 'agencyType: POLICE}) { id } }'},
        headers={"Accept": GRAPHQL_RESPONSE, **world.headers("admin")})
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "POST"
    assert await row_counts(engine) == counts
    # A document holding a query and a mutation: GET may run the query, not the mutation.
    document = ('query Q { me { name } } mutation M { createAgency(input: {state: "VA", '
                'name: "Get PD", agencyType: POLICE}) { id } }')
    chosen = await client.get("/graphql", params={"query": document, "operationName": "M"},
                              headers=world.headers("admin"))
    assert chosen.status_code == 405 and chosen.headers["allow"] == "POST"
    query = await client.get("/graphql", params={"query": document, "operationName": "Q"},
                             headers=world.headers("admin"))
    assert query.status_code == 200 and query.json()["data"] == {"me": {"name": "test admin"}}
    assert await row_counts(engine) == counts


async def test_other_methods_are_405_with_allow(client, world):
    for method in ("PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/graphql", json={"query": "{ me { name } }"},
                                        headers={"Accept": GRAPHQL_RESPONSE,
                                                 **world.headers("staff")})
        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert "POST" in allowed and method not in allowed


async def test_other_body_types_are_415(client, world):
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", "application/xml", None):
        headers = {"Accept": GRAPHQL_RESPONSE, **world.headers("staff")}
        if content_type:
            headers["Content-Type"] = content_type
        response = await client.post("/graphql", content=b'{"query": "{ me { name } }"}',
                                     headers=headers)
        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_body_over_a_megabyte_is_413(client, world):
    query = "{ me { name } }" + " " * 1_000_001
    response = await post(client, {"query": query}, token=world.tokens["staff"])
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_chunked_body_is_cut_off_at_the_limit(client, world):
    """Without a Content-Length the server stops reading once the limit is passed, rather
    than holding an arbitrarily large body in memory."""
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ me { name } }", "padding": "'
        while sent < 50_000_000:
            sent += 65_536
            yield b"x" * 65_536

    response = await client.post("/graphql", content=endless(),
                                 headers={"Content-Type": JSON, "Accept": GRAPHQL_RESPONSE,
                                          **world.headers("staff")})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert sent < 2_000_000


# --- Keys ------------------------------------------------------------------------------------


BAD_AUTHORIZATION = [
    ("no header", None),
    ("empty bearer", "Bearer "),
    ("wrong scheme", "Basic dXNlcjpwYXNz"),
    ("token without scheme", "reg_" + "0" * 32 + "_secret"),
    ("malformed token", "Bearer not-a-registry-token"),
    ("bad key id", "Bearer reg_" + "z" * 32 + "_secret"),
    ("unknown well-formed token", "Bearer reg_" + "ab12" * 8 + "_c2VjcmV0LXNlY3JldC1zZWNyZXQ"),
]


async def test_requests_without_a_valid_key_are_401(client, world, engine):
    counts = await row_counts(engine)
    for label, authorization in BAD_AUTHORIZATION:
        headers = {"Accept": GRAPHQL_RESPONSE, "Content-Type": JSON}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = await client.post("/graphql", content=json.dumps({"query": CREATE_AGENCY,
                                     "variables": {"in": {"state": "VA", "name": "Anon PD",
                                                          "agencyType": "POLICE"}}}),
                                     headers=headers)
        assert response.status_code == 401, label
        body = assert_error(response, 401, "UNAUTHENTICATED")
        assert "data" not in body
        assert response.headers["www-authenticate"].startswith("Bearer"), label
    assert await row_counts(engine) == counts


async def test_no_key_learns_nothing_about_the_private_schema(client, world):
    # Validation messages name fields ("Did you mean 'dateOfBirth'?"); a caller without a key
    # is refused before the document is looked at.
    response = await post(client, {"query": "{ officer(id: 1) { dateOfBirt } }"})
    assert_error(response, 401, "UNAUTHENTICATED")
    assert "dateOfBirth" not in response.text


async def test_a_repeated_document_is_judged_the_same_every_time(client, world):
    token = world.tokens["staff"]
    invalid = {"query": "{ agencies(first: 5) { edges { node { nope } } } }"}
    unparsable = {"query": "{ agencies(first: 5) { edges "}
    first = [await post(client, invalid, token=token), await post(client, unparsable, token=token)]
    again = [await post(client, invalid, token=token), await post(client, unparsable, token=token)]
    for before, after in zip(first, again, strict=True):
        assert (before.status_code, before.json()) == (after.status_code, after.json())
    assert [r.status_code for r in again] == [422, 400]
    # A valid document is executed afresh each time, with that request's variables.
    query = "query ($id: ID!) { agency(id: $id) { name } }"
    names = [(await data(client, query, {"id": str(a.id)}, token=token))["agency"]["name"]
             for a in (world.agency_a, world.agency_b)]
    assert names == [world.agency_a.name, world.agency_b.name]


async def test_a_read_request_takes_one_pooled_connection(client, world, app):
    officer = (await data(client, REGISTER, {"in": {"firstName": "Ana", "lastName": "Reyes"}},
                          token=world.tokens["staff"]))["registerOfficer"]["id"]
    checkouts: list[object] = []
    pool = app.state.engine.sync_engine.pool
    listener = (pool, "checkout", lambda *_: checkouts.append(1))
    event.listen(*listener)
    try:
        await data(client, FULL_RECORD, {"id": officer}, token=world.tokens["staff"])
    finally:
        event.remove(*listener)
    # The key lookup and every loader batch share one connection and one transaction.
    assert len(checkouts) == 1


async def test_a_real_key_with_a_wrong_secret_is_401(client, world):
    token = world.tokens["admin"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await post(client, {"query": "{ me { name } }"}, token=forged)
    assert_error(response, 401, "UNAUTHENTICATED")


async def test_revoked_key_is_401(client, world, engine):
    token = world.tokens["agency_a"]
    assert (await data(client, "{ me { name } }", token=token))["me"]["name"]
    key_id = token.removeprefix("reg_").split("_")[0]
    async with session_scope(engine) as session:
        await keys.revoke(session=session, actor=SYSTEM, key_id=uuid.UUID(hex=key_id))
    response = await post(client, {"query": "{ me { name } }"}, token=token)
    body = assert_error(response, 401, "UNAUTHENTICATED")
    assert "revoked" in body["errors"][0]["message"]
    assert "invalid_token" in response.headers["www-authenticate"]
    # Other keys are unaffected.
    assert (await data(client, "{ me { name } }", token=world.tokens["agency_b"]))["me"]


async def test_refused_operation_is_403_and_changes_nothing(client, world, engine):
    officer = (await data(client, REGISTER, {"in": {"firstName": "Ana", "lastName": "Reyes"}},
                          token=world.tokens["staff"]))["registerOfficer"]["id"]
    counts = await row_counts(engine)
    for who, query, variables in (
            ("agency_a", CREATE_AGENCY, {"in": {"state": "VA", "name": "Rogue PD",
                                                "agencyType": "POLICE"}}),
            ("board", ISSUE, {"o": officer}),
            ("agency_b", ISSUE, {"o": officer})):
        response = await post(client, {"query": query, "variables": variables},
                              token=world.tokens[who])
        body = assert_error(response, 403, "FORBIDDEN")
        assert set(codes(response)) == {"FORBIDDEN"}
        assert all(v is None for v in (body.get("data") or {}).values()), body
        assert await row_counts(engine) == counts, who


async def test_partly_refused_operation_is_200_with_partial_data(client, world):
    response = await post(client, {"query": """mutation {
        registerOfficer(input: {firstName: "Bo", lastName: "Tran"}) { id }
        createAgency(input: {state: "VA", name: "Rogue PD", agencyType: POLICE}) { id } }"""},
        token=world.tokens["agency_a"])
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["registerOfficer"]["id"] and body["data"]["createAgency"] is None
    assert codes(response) == ["FORBIDDEN"]


# --- The public endpoint ---------------------------------------------------------------------


async def test_public_endpoint_needs_no_key(client, world):
    response = await post(client, {"query": "{ agencies { edges { node { name ori } } } }"},
                          path="/public/graphql")
    assert response.status_code == 200
    names = {e["node"]["name"] for e in response.json()["data"]["agencies"]["edges"]}
    assert names == {"Richmond Police Department", "Henrico County Police Division"}


PRIVATE_ON_PUBLIC = [
    ("date of birth", "{ officers { edges { node { dateOfBirth } } } }"),
    ("post id", "{ officers { edges { node { postId } } } }"),
    ("internal id", "{ officers { edges { node { id } } } }"),
    ("the key", "{ me { name } }"),
    ("certification number", "{ officers { edges { node { certifications { number } } } } }"),
    ("a mutation", 'mutation { createAgency(input: {state: "VA", name: "P", '
                   'agencyType: POLICE}) { id } }'),
]


async def test_private_fields_are_not_in_the_public_schema(client, world, engine):
    counts = await row_counts(engine)
    for label, query in PRIVATE_ON_PUBLIC:
        response = await post(client, {"query": query}, path="/public/graphql",
                              token=world.tokens["admin"])  # a key changes nothing there
        assert response.status_code == 422, label
        body = assert_error(response, 422, "GRAPHQL_VALIDATION_FAILED")
        assert "data" not in body, label
    assert await row_counts(engine) == counts


# --- Limits checked before execution ---------------------------------------------------------


def _nested(levels: int) -> str:
    """officers > edges > node > (certifications > officer) * n > id: 3 + 2n + 1 levels (a
    page of one keeps the nested lists under the cost limit)."""
    pairs = (levels - 4) // 2
    assert 3 + 2 * pairs + 1 == levels
    return ("{ officers(first: 1) { edges { node { " + "certifications { officer { " * pairs + "id"
            + " } }" * pairs + " } } } }")


async def test_query_at_the_depth_limit_passes(client, world):
    response = await post(client, {"query": _nested(12)}, token=world.tokens["staff"])
    assert response.status_code == 200 and "errors" not in response.json(), response.text


TOO_DEEP = {
    "fields": _nested(14),
    "fragments": """{ officers { edges { node { ...A } } } }
          fragment A on Officer { certifications { officer { ...B } } }
          fragment B on Officer { certifications { officer { ...C } } }
          fragment C on Officer { certifications { officer { ...D } } }
          fragment D on Officer { certifications { officer { ...E } } }
          fragment E on Officer { stints { agency { id } } }""",
    "inline fragments": ("{ officers { edges { node { "
                         + "... on Officer { certifications { officer { " * 5 + "id"
                         + " } } }" * 5 + " } } } }"),
    # The whole document is validated, not only the operation that would run.
    "another operation": "query Small { me { name } } query Big " + _nested(14),
}


async def test_query_over_the_depth_limit_is_422(client, world):
    for how, query in TOO_DEEP.items():
        response = await post(client, {"query": query, "operationName": "Small"
                                       if how == "another operation" else None},
                              token=world.tokens["staff"])
        assert response.status_code == 422, how
        body = assert_error(response, 422, "QUERY_TOO_DEEP")
        assert "data" not in body
        assert "limit is 12" in body["errors"][0]["message"]


async def test_graphiql_introspection_passes_the_depth_limit(client, world):
    """GraphiQL (served below) and code generators load the schema with this query."""
    for path, token in (("/graphql", world.tokens["board"]), ("/public/graphql", None)):
        response = await post(client, {"query": get_introspection_query(descriptions=True)},
                              path=path, token=token)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_deep_introspection_is_still_limited(client):
    query = ("{ __schema { types { " + "fields { type { " * 6 + "name" + " } }" * 6 + " } } }")
    response = await post(client, {"query": query}, path="/public/graphql")
    assert_error(response, 422, "QUERY_TOO_DEEP")


@pytest.fixture
async def small_client(database_url) -> AsyncIterator[httpx2.AsyncClient]:
    """An app whose documents may be 300 bytes and 60 tokens at most."""
    app = create_app(Settings(database_url=database_url, max_document_bytes=300,
                              max_document_tokens=60))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://registry.test") as c:
        yield c
    await app.state.engine.dispose()


async def test_document_over_the_size_limit_is_422(small_client):
    small = await post(small_client, {"query": "{ agencies { edges { node { name } } } }"},
                       path="/public/graphql")
    assert small.status_code == 200, small.text
    # Few tokens, many bytes: a comment is not a token.
    big = "# " + "x" * 400 + "\n{ agencies { edges { node { name } } } }"
    response = await post(small_client, {"query": big}, path="/public/graphql")
    body = assert_error(response, 422, "DOCUMENT_TOO_LARGE")
    assert "data" not in body and "300" in body["errors"][0]["message"]


async def test_document_over_the_token_limit_is_400(small_client):
    query = "{ " + "__typename " * 70 + "}"
    assert len(query) < 1000
    response = await post(small_client, {"query": query}, path="/public/graphql")
    body = assert_error(response, 400, "GRAPHQL_PARSE_FAILED")
    assert "tokens" in body["errors"][0]["message"] and "data" not in body


# --- Errors, request ids, GraphiQL, health ---------------------------------------------------


async def test_errors_carry_a_stable_code_and_a_message(client, world):
    checks = [
        ('{ officer(id: "not-an-id") { id } }', "BAD_USER_INPUT"),
        ('{ me { name } __nope }', "GRAPHQL_VALIDATION_FAILED"),
        ("{ me { name ", "GRAPHQL_PARSE_FAILED"),
    ]
    for query, code in checks:
        response = await post(client, {"query": query}, token=world.tokens["staff"])
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == code, (query, error)
        assert error["message"] and "Traceback" not in response.text, query


BAD_TEXT = [
    ("NUL in a variable", CREATE_AGENCY, {"in": {"state": "VA", "name": "Rich\u0000mond",
                                                 "agencyType": "POLICE"}}),
    ("lone surrogate in a variable", REGISTER, {"in": {"firstName": "A\ud800",
                                                       "lastName": "B"}}),
    ("NUL in a literal", 'mutation { registerOfficer(input: {firstName: "A\\u0000", '
                         'lastName: "B"}) { id } }', None),
    ("NUL in a search", "query($n: String) { officers(name: $n) { edges { cursor } } }",
     {"n": "Smi\u0000th"}),
]


async def test_text_the_database_cannot_store_is_bad_input(client, world, engine):
    """Valid JSON and GraphQL, but no text column can hold it: a client error saying so, not
    an internal error from the database."""
    counts = await row_counts(engine)
    for label, query, variables in BAD_TEXT:
        response = await post(client, {"query": query, "variables": variables},
                              token=world.tokens["staff"])
        assert response.status_code == 422, (label, response.text)
        body = assert_error(response, 422, "BAD_USER_INPUT")
        assert "NUL" in body["errors"][0]["message"] and "data" not in body, label
    assert await row_counts(engine) == counts


def _failing_app(settings: Settings) -> Starlette:
    """The endpoint serving a schema whose resolvers fail the way a bug would."""

    def boom(*_: object) -> str:
        raise RuntimeError("secret detail: password=hunter2 at /srv/registry/x.py")

    schema = GraphQLSchema(GraphQLObjectType("Query", {
        "ok": GraphQLField(GraphQLString, resolve=lambda *_: "fine"),
        "boom": GraphQLField(GraphQLString, resolve=boom),
        "mustBoom": GraphQLField(GraphQLNonNull(GraphQLString), resolve=boom),
    }))

    async def context(_request: object, request_id: str) -> Context:
        return Context(None, settings, None, request_id)  # type: ignore[arg-type]  # no SQL

    endpoint = GraphQLEndpoint(schema, settings=settings, make_context=context, title="t")
    return Starlette(routes=[Route("/graphql", endpoint.handle, methods=["GET", "POST"])])


async def test_internal_errors_never_leak_internals(settings, caplog):
    transport = httpx2.ASGITransport(app=_failing_app(settings))
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as c:
        partial = await post(c, {"query": "{ ok boom }"}, headers={"X-Request-ID": "req-77"})
        assert partial.status_code == 200
        body = partial.json()
        assert body["data"] == {"ok": "fine", "boom": None}
        [error] = body["errors"]
        assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
        assert "req-77" in error["message"]
        whole = await post(c, {"query": "{ mustBoom }"}, headers={"X-Request-ID": "req-78"})
        assert_error(whole, 500, "INTERNAL_SERVER_ERROR")
        assert "data" not in whole.json()
        for response in (partial, whole):
            for leak in ("secret", "hunter2", "RuntimeError", "Traceback", ".py"):
                assert leak not in response.text, response.text
    # The detail is in the server's log, under the request id the client was given.
    logged = [r for r in caplog.records if r.name == "registry.http"]
    assert {r.getMessage() for r in logged} == {"request req-77 failed", "request req-78 failed"}
    assert all(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in logged)


REQUEST_IDS = [
    ("client-req.42_A", True),
    ("a" * 64, True),
    (None, False),
    ("", False),
    ("a" * 65, False),
    ("has spaces in it", False),
    ("<script>alert(1)</script>", False),
    ("line\u2028break", False),
]


async def test_request_id_is_echoed_when_sane_and_generated_otherwise(client, world):
    for sent, echoed in REQUEST_IDS:
        headers = {} if sent is None else {"X-Request-ID": sent.encode()}
        for token in (world.tokens["staff"], "bad-token"):  # success and refusal alike
            response = await post(client, {"query": "{ me { name } }"}, token=token,
                                  headers=headers)
            got = response.headers["x-request-id"]
            if echoed:
                assert got == sent
            else:
                assert HEX_ID.match(got), (sent, got)


async def test_request_ids_differ_between_requests(client, world):
    ids = {(await post(client, {"query": "{ me { name } }"}, token=world.tokens["staff"])
            ).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_graphiql_page_for_a_browser(client):
    for path in ("/graphql", "/public/graphql"):  # no key needed to load the page
        response = await client.get(path, headers={"Accept": "text/html,application/xhtml+xml,"
                                                             "*/*;q=0.8"})
        assert response.status_code == 200
        assert media_type(response) == "text/html"
        assert "graphiql" in response.text.lower() and json.dumps(path) in response.text


async def test_get_without_a_query_from_a_non_browser_is_an_error(client, world):
    response = await client.get("/graphql", headers={"Accept": GRAPHQL_RESPONSE,
                                                     **world.headers("staff")})
    assert_error(response, 422, "BAD_REQUEST")


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
