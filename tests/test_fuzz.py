"""Fuzzing, bounded: schemathesis documents against both schemas, in-process, with a key of
each role (and none), over a small synthetic state. bench/bench_fuzz.py runs the same with
>= 10,000 requests against `registry serve`. Failures it found are pinned below."""

import asyncio
from typing import Any

import asyncpg
import graphql
import httpx2
import pytest
import schemathesis
from rich.console import Console

from registry.api.schema import schema as private_schema
from registry.app import create_app
from registry.database import asyncpg_url
from registry.demo import load_demo
from registry.settings import Settings
from registry.transparency.schema import public_schema
from tests.conftest import data
from tests.fuzzing import (
    GRAPHQL_RESPONSE,
    JSON,
    TARGETS,
    Answer,
    describe,
    fuzz,
    judge,
    register_scalars,
    sample_pool,
)

REQUESTS_PER_TARGET = 80  # x 6 targets: 480 requests, 5-15 s as the machine is loaded


@pytest.fixture
async def demo(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """A small synthetic state with a key per role; limits raised so that the fuzzing is not
    answered 429 (the limits have their own tests)."""
    fuzz_settings = settings.model_copy(update={"public_rate_limit": "1000000/minute",
                                                "checks_per_hour": 1_000_000})
    keys = await load_demo(fuzz_settings, officers=300, console=Console(quiet=True))
    return fuzz_settings, {role: token for role, _, token in keys}


def _schemathesis_schema(graphene_schema: Any) -> Any:
    return schemathesis.graphql.from_dict(
        graphql.introspection_from_schema(graphene_schema.graphql_schema))


async def test_fuzzing_finds_no_internal_error_and_no_spec_violation(demo):
    settings, tokens = demo
    conn = await asyncpg.connect(asyncpg_url(settings.database_url or ""))
    try:
        register_scalars(*await sample_pool(conn))
    finally:
        await conn.close()
    app = create_app(settings)
    loop = asyncio.get_running_loop()
    schemas = {"/graphql": _schemathesis_schema(private_schema),
               "/public/graphql": _schemathesis_schema(public_schema)}
    failures, requests = [], 0
    try:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app),
                                      base_url="http://registry.test") as client:
            for number, (endpoint, role) in enumerate(TARGETS):
                headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}

                def send(query: str, accept: str, endpoint: str = endpoint,
                         headers: dict[str, str] = headers) -> Answer:
                    # hypothesis draws in a thread; the app runs on this test's loop.
                    response = asyncio.run_coroutine_threadsafe(client.post(
                        endpoint, json={"query": query},
                        headers={**headers, "Accept": accept}), loop).result(60)
                    return Answer(response.status_code, response.headers.get("content-type"),
                                  response.content)

                tally = await asyncio.to_thread(
                    fuzz, schemas[endpoint], send, budget=REQUESTS_PER_TARGET,
                    endpoint=endpoint, role=role, seed_value=number)
                requests += tally.requests
                failures += tally.failures
    finally:
        await app.state.public.close()
        await app.state.engine.dispose()
    assert requests >= REQUESTS_PER_TARGET * len(TARGETS)
    assert not failures, describe(failures)


# --- Failures the fuzzing found, pinned with the documents that showed them -------------------

# A key whose role may not run the operation's only root field got 403 with
# {"data": {"castVote": null}}: the spec allows a data entry that is not null only with 2xx.
REFUSED_AS_A_WHOLE = [
    ("admin", """mutation {
  castVote(
    caseId: "033ad744-9e4a-4887-a014-3f097d3f1571"
    castOn: "2000-01-01"
    vote: YES
  ) {
    recordedAt
  }
}"""),
    ("staff", """mutation {
  endBoardMemberTerm(
    expectedVersion: 0
    memberId: "033ad744-9e4a-4887-a014-3f097d3f1571"
    reason: "MacGovern"
    termEnd: "2000-01-01"
  ) {
    changeReason
  }
}"""),
]


@pytest.mark.parametrize("who, query", REFUSED_AS_A_WHOLE)
async def test_a_request_refused_as_a_whole_is_403_without_data(client, world, who, query):
    response = await client.post("/graphql", json={"query": query}, headers={
        **world.headers(who), "Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 403
    body = response.json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    answer = Answer(response.status_code, response.headers["content-type"], response.content)
    assert judge(GRAPHQL_RESPONSE, answer, valid_document=True) == []


@pytest.mark.parametrize("who, query", REFUSED_AS_A_WHOLE)
async def test_with_application_json_the_refusal_stays_200_with_data(client, world, who, query):
    response = await client.post("/graphql", json={"query": query}, headers={
        **world.headers(who), "Accept": JSON})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    answer = Answer(response.status_code, response.headers["content-type"], response.content)
    assert judge(JSON, answer, valid_document=True) == []



# A required enum field of an input declared with graphene.Field (not InputField) got a
# default of null: validation let documents without it through, and the resolver failed on
# the missing value (addOfficerName: "None is not a valid NameKind", INTERNAL_SERVER_ERROR).
WITHOUT_KIND = [
    'mutation {\n  addOfficerName(officerId: "\u00e5", input: {lastName: "Caplis"}) {\n    id\n'
    '  }\n}',
    'mutation {\n  addOfficerName(\n    officerId: "{officer}"\n    input: {lastName: "\\u0084'
    '\U000b522e\xdbq\U000248e1\\u008B\\r[\U000785bd\U000cb8bbv\\u0099%\U00104cb6\\u0014\xa8\xc8G#d'
    '\\f\U00010b75\xb9\U0006f5b4r )\\u008Bo\xf8"}\n  ) {\n    id\n  }\n}',
]


async def test_a_required_input_field_cannot_be_left_out(client, world):
    officer = (await data(client, 'mutation { registerOfficer(input: {firstName: "Ray", '
                                  'lastName: "Okafor"}) { id } }', token=world.tokens["staff"])
               )["registerOfficer"]["id"]
    for query in WITHOUT_KIND:
        response = await client.post("/graphql", json={"query": query.replace(
            "{officer}", officer)}, headers={**world.headers("admin"), "Accept": GRAPHQL_RESPONSE})
        assert response.status_code == 422, response.text
        body = response.json()
        assert "data" not in body
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "OtherNameInput.kind" in body["errors"][0]["message"]


@pytest.mark.parametrize("graphene_schema", [private_schema, public_schema],
                         ids=["private", "public"])
def test_no_required_input_has_a_default(graphene_schema):
    """Non-null input fields and arguments are required for real: a default would let a
    document leave them out (the cause of the failure above, in nine input fields)."""
    defaulted = []
    for name, kind in graphene_schema.graphql_schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(kind, graphql.GraphQLInputObjectType):
            defaulted += [f"{name}.{field}" for field, f in kind.fields.items()
                          if graphql.is_non_null_type(f.type)
                          and f.default_value is not graphql.Undefined]
        if isinstance(kind, graphql.GraphQLObjectType):
            defaulted += [f"{name}.{field}({arg})" for field, f in kind.fields.items()
                          for arg, a in f.args.items()
                          if graphql.is_non_null_type(a.type)
                          and a.default_value is not graphql.Undefined]
    assert defaulted == []

# --- The checks themselves: each catches what it is there for ---------------------------------

BAD_ANSWERS = [
    ("data with 403", GRAPHQL_RESPONSE, True, 403, GRAPHQL_RESPONSE,
     b'{"data":{"x":null},"errors":[{"message":"no","extensions":{"code":"FORBIDDEN"}}]}'),
    ("no data with 200", GRAPHQL_RESPONSE, True, 200, GRAPHQL_RESPONSE,
     b'{"errors":[{"message":"no","extensions":{"code":"BAD_USER_INPUT"}}]}'),
    ("wrong media type", JSON, True, 200, GRAPHQL_RESPONSE, b'{"data":{"x":1}}'),
    ("not JSON", GRAPHQL_RESPONSE, True, 200, GRAPHQL_RESPONSE, b"<html>"),
    ("extra top-level key", GRAPHQL_RESPONSE, True, 200, GRAPHQL_RESPONSE,
     b'{"data":{"x":1},"debug":{}}'),
    ("error without message", GRAPHQL_RESPONSE, True, 200, GRAPHQL_RESPONSE,
     b'{"data":{"x":null},"errors":[{"extensions":{"code":"NOT_FOUND"}}]}'),
    ("invalid document executed", GRAPHQL_RESPONSE, False, 200, GRAPHQL_RESPONSE,
     b'{"data":{"x":1}}'),
    ("invalid document, JSON, 422", JSON, False, 422, JSON,
     b'{"errors":[{"message":"no","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}'),
]


@pytest.mark.parametrize("label, accept, valid, status, media, body", BAD_ANSWERS,
                         ids=[a[0] for a in BAD_ANSWERS])
def test_the_checks_catch_spec_violations(label, accept, valid, status, media, body):
    problems = judge(accept, Answer(status, f"{media}; charset=utf-8", body),
                     valid_document=valid)
    assert any(kind == "spec" for kind, _ in problems), (label, problems)


def test_the_checks_count_internal_errors_and_undocumented_statuses():
    internal = judge(GRAPHQL_RESPONSE, Answer(200, GRAPHQL_RESPONSE, b'{"data":{"x":null},'
                     b'"errors":[{"message":"m","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}'),
                     valid_document=True)
    assert [kind for kind, _ in internal] == ["internal"]
    teapot = judge(GRAPHQL_RESPONSE, Answer(418, GRAPHQL_RESPONSE, b'{"errors":[{"message":"m",'
                   b'"extensions":{"code":"TEAPOT"}}]}'), valid_document=True)
    assert [kind for kind, _ in teapot] == ["other"]
