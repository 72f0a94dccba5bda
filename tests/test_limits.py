"""Request limits on both GraphQL endpoints (/graphql and /public/graphql): depth, cost, document
size and tokens, page size, list inputs; /graphql's persisted-operations mode and introspection
in production. Every refusal happens before anything runs and carries a stable code."""

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest
from graphql import get_introspection_query
from typer.testing import CliRunner

from registry.api.http import GraphQLEndpoint
from registry.api.schema import schema
from registry.app import create_app
from registry.cli import app as cli
from registry.settings import Settings
from registry.transparency.http import PublicGraphQLEndpoint
from registry.transparency.ratelimit import RateLimiter
from registry.transparency.schema import public_schema
from tests.conftest import ROOT, gql, row_counts

OPERATIONS = ROOT / "graphql" / "operations"
PRIVATE, PUBLIC = "/graphql", "/public/graphql"
# One endpoint each: its path, the key it needs, and queries that fit its schema.
SMALL = {PRIVATE: "{ officers(first: 1) { edges { node { id } } } }",
         PUBLIC: "{ officers(first: 1) { edges { node { fullName } } } }"}
DEEP = {  # 14 levels; the limit is 12
    PRIVATE: ("{ officers(first: 1) { edges { node { " + "certifications { officer { " * 5
              + "id" + " } }" * 5 + " } } } }"),
    PUBLIC: ("{ decertifications(first: 1) { edges { node { " + "officer { decertifications { "
             * 5 + "outcome" + " } }" * 5 + " } } } }"),
}
COSTLY = {  # over the default limits: about 37,000 and 75,000 values
    PRIVATE: ("{ officers(first: 100) { edges { node { fullName certifications { number "
              "history { action effectiveOn reason } } stints { startedOn agency { name ori } "
              "} } } } }"),
    PUBLIC: ("{ officers(first: 100) { edges { node { fullName certifications { status "
             "history { status effectiveOn } } decertifications { outcome grounds { title } "
             "} } } } }"),
}
ENDPOINTS = pytest.mark.parametrize("path", [PRIVATE, PUBLIC])

Make = Callable[..., Awaitable[httpx2.AsyncClient]]


@pytest.fixture
async def make(settings: Settings) -> AsyncIterator[Make]:
    """A client of an app whose settings differ from the test's by ``changes``."""
    async with AsyncExitStack() as stack:
        async def client_with(**changes: Any) -> httpx2.AsyncClient:
            app = create_app(settings.model_copy(update=changes))
            stack.push_async_callback(app.state.engine.dispose)
            stack.push_async_callback(app.state.public.close)
            return await stack.enter_async_context(httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), base_url="http://registry.test"))

        yield client_with


def token_for(path: str, world: Any) -> str | None:
    return world.tokens["staff"] if path == PRIVATE else None


def error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    """The refusal's first error with ``code``, after checking the status and that nothing
    was returned."""
    body = response.json()
    assert response.status_code == status, body
    assert "data" not in body or body["data"] is None, body
    found = [e for e in body["errors"] if e["extensions"]["code"] == code]
    assert found, body
    return found[0]


# --- depth, cost, size ---------------------------------------------------------------------


@ENDPOINTS
async def test_depth_limit(client, world, path):
    response = await gql(client, DEEP[path], token=token_for(path, world), path=path)
    assert "14 levels deep; the limit is 12" in error(response, 422, "QUERY_TOO_DEEP")["message"]


@ENDPOINTS
async def test_cost_limit_names_cost_limit_and_remedy(client, world, path):
    response = await gql(client, COSTLY[path], token=token_for(path, world), path=path)
    refused = error(response, 422, "QUERY_TOO_COSTLY")
    limit = 25_000 if path == PRIVATE else 20_000
    assert refused["extensions"]["maxCost"] == limit
    assert refused["extensions"]["cost"] > limit
    assert f"the limit is {limit:,}" in refused["message"]
    assert "smaller literal 'first'" in refused["message"]
    smaller = COSTLY[path].replace("first: 100", "first: 10")
    assert (await gql(client, smaller, token=token_for(path, world), path=path)
            ).status_code == 200


async def test_cost_prices_and_limits_are_configuration(make, world):
    async def cost(client: httpx2.AsyncClient, path: str) -> int:
        response = await gql(client, COSTLY[path], token=token_for(path, world), path=path)
        return error(response, 422, "QUERY_TOO_COSTLY")["extensions"]["cost"]

    default = await make()
    base = {path: await cost(default, path) for path in (PRIVATE, PUBLIC)}
    # Each field at twice the price: twice the cost, on both endpoints.
    doubled = await make(cost_per_field=2)
    assert {path: await cost(doubled, path) for path in (PRIVATE, PUBLIC)} == {
        path: 2 * c for path, c in base.items()}
    # A person's lists assumed shorter: cheaper.
    short_lists = await make(cost_list_size=2, max_query_cost=100)
    assert await cost(short_lists, PRIVATE) < base[PRIVATE]
    # Higher limits let the same documents run; a lower one refuses a small document.
    generous = await make(max_query_cost=base[PRIVATE], public_max_cost=base[PUBLIC])
    for path in (PRIVATE, PUBLIC):
        response = await gql(generous, COSTLY[path], token=token_for(path, world), path=path)
        assert response.status_code == 200, response.text
    strict = await make(max_query_cost=10, public_max_cost=10)
    for path in (PRIVATE, PUBLIC):
        query = SMALL[path].replace("first: 1", "first: 20")
        response = await gql(strict, query, token=token_for(path, world), path=path)
        assert error(response, 422, "QUERY_TOO_COSTLY")["extensions"]["maxCost"] == 10


@ENDPOINTS
async def test_document_size_and_token_limits(make, world, path):
    client = await make(max_document_bytes=300, max_document_tokens=60)
    token = token_for(path, world)
    assert (await gql(client, SMALL[path], token=token, path=path)).status_code == 200
    padded = "# " + "x" * 400 + "\n" + SMALL[path]  # a comment is bytes, not tokens
    refused = error(await gql(client, padded, token=token, path=path), 422,
                    "DOCUMENT_TOO_LARGE")
    assert "the limit is 300" in refused["message"]
    aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"
    assert len(aliases.encode()) < 1000
    refused = error(await gql(client, aliases, token=token, path=path), 400,
                    "GRAPHQL_PARSE_FAILED")
    assert "tokens" in refused["message"]


@ENDPOINTS
async def test_page_size_limit(make, world, path):
    client = await make(max_page_size=5)
    token = token_for(path, world)
    five = SMALL[path].replace("first: 1", "first: 5")
    assert (await gql(client, five, token=token, path=path)).status_code == 200
    response = await gql(client, five.replace("first: 5", "first: 6"), token=token, path=path)
    refused = error(response, 422, "BAD_USER_INPUT")
    assert refused["extensions"]["field"] == "first"
    assert "between 1 and 5" in refused["message"]


def _endpoints(settings: Settings) -> dict[str, GraphQLEndpoint]:
    """Both endpoints as the service builds them (their rules need no database)."""
    async def no_context(*_: object) -> Any:
        raise AssertionError("not executed")

    return {
        PRIVATE: GraphQLEndpoint(schema.graphql_schema, settings=settings,
                                 make_context=no_context, title="t"),
        PUBLIC: PublicGraphQLEndpoint(public_schema.graphql_schema, settings=settings,
                                      make_context=no_context, title="t",
                                      limiter=RateLimiter("")),
    }


@pytest.mark.parametrize("environment", ["development", "production"])
def test_every_shipped_operation_passes_the_default_limits(environment):
    """Depth, cost, size and tokens at their defaults: clients must never be refused for
    sending an operation this repository ships."""
    endpoints = _endpoints(Settings(environment=environment))
    for file in sorted(OPERATIONS.rglob("*.graphql")):
        endpoint = endpoints[PUBLIC if file.parent.name == "public" else PRIVATE]
        checked = endpoint.check(file.read_text())
        assert checked.syntax_error is None and checked.errors == (), (file, checked)


# --- list inputs -----------------------------------------------------------------------------

CHECK = """query($c: CandidateInput!) { backgroundCheck(candidate: $c, purpose: HIRING) {
  checkId } }"""
OPEN_CASE = """mutation($g: [String!]) { openCase(officerId: "%s", grounds: $g) { id } }"""


async def test_long_list_literals_are_refused_naming_the_argument(client, world, engine):
    before = await row_counts(engine)
    names = json.dumps([f"Name {i}" for i in range(101)])
    query = ("{ backgroundCheck(purpose: HIRING, candidate: {firstName: \"Bill\", lastName: "
             f"\"Hartley\", priorNames: {names}}}) {{ checkId }} }}")
    response = await gql(client, query, token=world.tokens["agency_a"])
    refused = error(response, 422, "BAD_USER_INPUT")
    assert refused["extensions"]["field"] == "priorNames"
    assert "has 101 items; at most 100" in refused["message"]
    grounds = json.dumps(["g"] * 150)
    response = await gql(client, f"mutation {{ openCase(officerId: \"{world.agency_a.id}\", "
                                 f"grounds: {grounds}) {{ id }} }}", token=world.tokens["staff"])
    refused = error(response, 422, "BAD_USER_INPUT")
    assert refused["extensions"]["field"] == "grounds" and "150 items" in refused["message"]
    assert await row_counts(engine) == before


async def test_long_list_variables_are_refused_naming_the_variable(client, world, engine):
    before = await row_counts(engine)
    candidate = {"firstName": "Bill", "lastName": "Hartley",
                 "priorNames": [f"Name {i}" for i in range(101)]}
    response = await gql(client, CHECK, {"c": candidate}, token=world.tokens["agency_a"])
    refused = error(response, 422, "BAD_USER_INPUT")
    assert refused["extensions"]["field"] == "priorNames"
    assert "Variable '$c', field 'priorNames', has 101 items" in refused["message"]
    response = await gql(client, OPEN_CASE % world.agency_a.id, {"g": ["g"] * 101},
                         token=world.tokens["staff"])
    assert error(response, 422, "BAD_USER_INPUT")["extensions"]["field"] == "g"
    assert await row_counts(engine) == before


async def test_list_limit_is_configuration_and_smaller_limits_keep_their_message(make, world):
    client = await make(max_list_input=3)
    response = await gql(client, OPEN_CASE % world.agency_a.id, {"g": ["a", "b", "c", "d"]},
                         token=world.tokens["staff"])
    assert "at most 3" in error(response, 422, "BAD_USER_INPUT")["message"]
    # Under the general limit, a background check's own limit of 20 prior names speaks.
    candidate = {"firstName": "Bill", "lastName": "Hartley",
                 "priorNames": [f"Name {i}" for i in range(50)]}
    response = await gql(await make(), CHECK, {"c": candidate}, token=world.tokens["agency_a"])
    refused = response.json()["errors"][0]
    assert refused["extensions"] == {"code": "BAD_USER_INPUT", "field": "priorNames"}
    assert "at most 20 are searched" in refused["message"]


# --- persisted operations and introspection in production ----------------------------------

ME = (OPERATIONS / "Me.graphql").read_text()
ME_HASH = hashlib.sha256(ME.encode()).hexdigest()
INTROSPECTION = "{ __schema { queryType { name } } }"


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_production_runs_shipped_operations_by_text_or_hash(make, world):
    client = await make(environment="production")
    headers = world.headers("staff")
    by_text = await client.post(PRIVATE, json={"query": ME}, headers=headers)
    assert by_text.status_code == 200 and by_text.json()["data"]["me"]["role"] == "POST_STAFF"
    by_hash = await client.post(PRIVATE, json={"extensions": persisted(ME_HASH)},
                                headers=headers)
    assert by_hash.json() == by_text.json()
    by_get = await client.get(PRIVATE, params={"extensions": json.dumps(persisted(ME_HASH))},
                              headers=headers)
    assert by_get.status_code == 200 and by_get.json() == by_text.json()
    both = await client.post(PRIVATE, json={"query": ME, "extensions": persisted(ME_HASH)},
                             headers=headers)
    assert both.json() == by_text.json()


async def test_production_refuses_other_documents_before_the_key_is_looked_up(make, world):
    client = await make(environment="production")
    for body, token in (({"query": "{ me { name } }"}, world.tokens["staff"]),
                        ({"query": ME + " "}, world.tokens["staff"]),  # not the exact text
                        ({"extensions": persisted("0" * 64)}, world.tokens["staff"]),
                        ({"query": "{ me { name } }"}, None)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.post(PRIVATE, json=body, headers=headers)
        refused = error(response, 422, "PERSISTED_OPERATION_NOT_FOUND")
        assert "registry operations list" in refused["message"], body
    # A hash that is not the query's is a client bug, said as such.
    response = await client.post(PRIVATE, json={"query": "{ me { name } }",
                                                "extensions": persisted(ME_HASH)},
                                 headers=world.headers("staff"))
    assert "not the SHA-256 of the query" in error(response, 422, "BAD_REQUEST")["message"]


async def test_public_endpoint_stays_open_in_production(make):
    client = await make(environment="production")
    response = await gql(client, SMALL[PUBLIC], path=PUBLIC)
    assert response.status_code == 200, response.text
    search = (OPERATIONS / "public" / "SearchOfficers.graphql").read_text()
    response = await client.post(PUBLIC, json={
        "extensions": persisted(hashlib.sha256(search.encode()).hexdigest()),
        "variables": {"name": "Smith"}})
    assert response.status_code == 200 and "searchOfficers" in response.json()["data"]
    response = await gql(client, INTROSPECTION, path=PUBLIC)
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_development_runs_any_document_and_shipped_ones_by_hash(client, world):
    response = await gql(client, "{ me { name } }", token=world.tokens["staff"])
    assert response.status_code == 200
    response = await client.post(PRIVATE, json={"extensions": persisted(ME_HASH)},
                                 headers=world.headers("staff"))
    assert response.json()["data"]["me"]["role"] == "POST_STAFF"
    response = await client.post(PRIVATE, json={"extensions": persisted("f" * 64)},
                                 headers=world.headers("staff"))
    assert "send the document as 'query'" in error(
        response, 422, "PERSISTED_OPERATION_NOT_FOUND")["message"]


async def test_persisted_mode_is_a_setting_of_its_own(make, world, tmp_path: Path):
    # Off in production: any document runs, introspection is still refused.
    client = await make(environment="production", persisted_operations=False)
    assert (await gql(client, "{ me { name } }", token=world.tokens["staff"])).status_code == 200
    # On in development, with the operations from another folder.
    (tmp_path / "Who.graphql").write_text("query Who { me { name } }\n")
    client = await make(persisted_operations=True, operations_dir=tmp_path)
    assert (await gql(client, "query Who { me { name } }\n", token=world.tokens["staff"])
            ).status_code == 200
    error(await gql(client, ME, token=world.tokens["staff"]), 422,
          "PERSISTED_OPERATION_NOT_FOUND")
    # On with nothing to run: the service does not start.
    with pytest.raises(ValueError, match="holds no"):
        await make(persisted_operations=True, operations_dir=tmp_path / "missing")


async def test_introspection_is_off_on_graphql_in_production_only(make, world):
    token = world.tokens["staff"]
    production = await make(environment="production", persisted_operations=False)
    for query in (INTROSPECTION, '{ __type(name: "Officer") { name } }',
                  get_introspection_query()):
        refused = error(await gql(production, query, token=token), 422,
                        "INTROSPECTION_DISABLED")
        assert "graphql/schema.graphql" in refused["message"]
    typename = await gql(production, "{ __typename me { name } }", token=token)
    assert typename.json()["data"]["__typename"] == "Query"
    development = await make()
    response = await gql(development, INTROSPECTION, token=token)
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


def test_operations_list_prints_each_hash_endpoint_and_name():
    result = CliRunner().invoke(cli, ["operations", "list"])
    assert result.exit_code == 0, result.output
    lines = set(result.output.splitlines())
    assert f"{ME_HASH}  /graphql  Me" in lines
    shipped = sorted(OPERATIONS.rglob("*.graphql"))
    assert len(lines) == len(shipped)
    for line in lines:
        digest, endpoint, name = line.split("  ")
        file = OPERATIONS / ("public" if endpoint == PUBLIC else "") / f"{name}.graphql"
        assert hashlib.sha256(file.read_bytes()).hexdigest() == digest
