"""Fuzzing both GraphQL schemas with schemathesis, shared by tests/test_fuzz.py (bounded,
in-process) and bench/bench_fuzz.py (>= 10,000 requests against `registry serve`).

schemathesis 4.x still fuzzes GraphQL (`schemathesis.graphql.from_url` / `from_dict`): it
turns each root field into an operation whose cases are documents drawn by hypothesis-graphql,
valid ones (positive) and ones that break the schema (negative). We only take the documents
from it: sending them and judging the answers is ours, so that the bench and the test apply
the same checks, and the checks are the GraphQL-over-HTTP spec's and this service's rules
(README "The API"), not schemathesis' defaults.

Each check is a small function returning the problems it sees (an empty list: none):
- ``check_media_type``: ``Content-Type`` is the type the Accept header asked for, in UTF-8;
- ``check_body``: a well-formed GraphQL response: a JSON object with ``data`` and/or
  ``errors`` and nothing else at the top level but ``extensions``;
- ``check_status_and_data``: the spec's MUSTs tying the status to ``data``;
- ``check_refused_document``: a document that fails GraphQL validation is not executed: no
  ``data``, and 4xx (the spec says 400 SHOULD; this service documents 422) or, with
  ``application/json``, 200;
- ``check_documented_status``: the status is one the service documents, agrees with the
  errors' ``extensions.code`` (registry/api/http.py ``_status_for``) and every error has one.
"""

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from unittest import SkipTest

import graphql
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# What most requests ask for; every fourth asks for the legacy media type, whose rules differ.
ACCEPTS = (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE, GRAPHQL_RESPONSE, JSON)

Kind = Literal["internal", "spec", "other"]


@dataclass(frozen=True)
class Answer:
    """One HTTP response, as the checks need it."""

    status: int
    content_type: str | None
    body: bytes


@dataclass(frozen=True)
class Failure:
    """A response that broke a rule, with the request that got it."""

    kind: Kind
    problem: str
    operation: str
    endpoint: str
    role: str
    accept: str
    query: str
    status: int | None


@dataclass
class Tally:
    """Requests sent and failures found for one endpoint and role."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    def count(self, kind: Kind) -> int:
        return sum(1 for f in self.failures if f.kind == kind)


Send = Callable[[str, str], Answer]  # (document, Accept) -> the response


# --- the checks ---------------------------------------------------------------------------------


def check_media_type(accept: str, content_type: str | None) -> list[str]:
    """The spec: the response's Content-Type is the accepted media type (this service answers
    in UTF-8 only, and says so)."""
    if not content_type:
        return ["no Content-Type header"]
    kind, _, params = content_type.partition(";")
    problems = []
    if kind.strip().lower() != accept:
        problems.append(f"Content-Type {content_type!r} for Accept {accept!r}")
    charset = params.strip().lower().removeprefix("charset=")
    if params.strip() and charset not in ("utf-8", "utf8"):
        problems.append(f"charset is not UTF-8: {content_type!r}")
    return problems


def check_body(payload: Any) -> list[str]:
    """The GraphQL spec's response shape: ``data`` and/or ``errors``, plus ``extensions``."""
    if not isinstance(payload, dict):
        return [f"the body is a JSON {type(payload).__name__}, not an object"]
    problems = []
    extra = set(payload) - {"data", "errors", "extensions"}
    if extra:
        problems.append(f"unexpected top-level keys {sorted(extra)}")
    if "data" not in payload and "errors" not in payload:
        problems.append("neither data nor errors")
    if "data" in payload and payload["data"] is not None and not isinstance(payload["data"], dict):
        problems.append("data is neither an object nor null")
    if "errors" in payload:
        errors = payload["errors"]
        if not isinstance(errors, list) or not errors:
            problems.append("errors is not a non-empty list")
        else:
            problems += [p for e in errors for p in _error_shape(e)]
    if "extensions" in payload and not isinstance(payload["extensions"], dict):
        problems.append("extensions is not an object")
    return problems


def _error_shape(error: Any) -> list[str]:
    if not isinstance(error, dict):
        return ["an error is not an object"]
    problems = []
    if not isinstance(error.get("message"), str) or not error["message"]:
        problems.append("an error without a message")
    locations = error.get("locations")
    if locations is not None and not (
            isinstance(locations, list)
            and all(isinstance(loc, dict) and isinstance(loc.get("line"), int)
                    and isinstance(loc.get("column"), int) for loc in locations)):
        problems.append(f"malformed locations {locations!r}")
    path = error.get("path")
    if path is not None and not (isinstance(path, list)
                                 and all(isinstance(p, str | int) for p in path)):
        problems.append(f"malformed path {path!r}")
    if "extensions" in error and not isinstance(error["extensions"], dict):
        problems.append("an error's extensions is not an object")
    return problems


def check_status_and_data(accept: str, status: int, payload: dict[str, Any]) -> list[str]:
    """The spec's MUSTs: non-null data is 2xx (200 with application/json); with
    application/graphql-response+json a response without data is 4xx or 5xx."""
    has_data = payload.get("data") is not None
    if accept == JSON:
        return [f"status {status} with non-null data"] if has_data and status != 200 else []
    if has_data and not 200 <= status < 300:
        return [f"status {status} with non-null data"]
    if "data" not in payload and not 400 <= status < 600:
        return [f"status {status} without data"]
    return []


def check_refused_document(accept: str, status: int, payload: dict[str, Any]) -> list[str]:
    """A document that fails validation is not executed: errors, no data; 4xx (the spec's 400
    SHOULD, the service's documented 422) or 200 with application/json; 401 without a valid
    key, whatever the document."""
    problems = []
    if "data" in payload:
        problems.append("a document that fails validation got a data entry")
    if not payload.get("errors"):
        problems.append("a document that fails validation got no errors")
    if status == 401:
        return problems  # the key is checked before the document (registry/api/http.py)
    if accept == JSON and status != 200:
        problems.append(f"an invalid document got {status} with application/json (spec: 200)")
    if accept == GRAPHQL_RESPONSE and status not in (400, 422):
        problems.append(f"an invalid document got {status} (documented: 422)")
    return problems


# The status each code makes a response without data (registry/api/http.py `_status_for`,
# and 404/429 on the public endpoint, registry/transparency/http.py).
_CODE_STATUS = {"DATABASE_UNAVAILABLE": 503, "INTERNAL_SERVER_ERROR": 500,
                "UNAUTHENTICATED": 401, "FORBIDDEN": 403, "RATE_LIMITED": 429}
_DOCUMENTED = {GRAPHQL_RESPONSE: {200, 400, 401, 403, 404, 422, 429, 503},
               JSON: {200, 400, 401, 429, 503}}


def check_documented_status(accept: str, status: int, payload: dict[str, Any]) -> list[str]:
    """The service's own rules (README "The API"): a documented status for a well-formed POST,
    consistent with the errors' codes; every error carries ``extensions.code``."""
    errors = payload.get("errors") or []
    codes = [(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)]
    problems = [f"an error without extensions.code: {e.get('message')!r}"
                for e, code in zip(errors, codes, strict=False) if not isinstance(code, str)]
    if status >= 500 and status != 503:
        return problems  # counted as an internal error, not as a contract mismatch
    if status not in _DOCUMENTED[accept]:
        return [*problems, f"undocumented status {status}"]
    for code, code_status in _CODE_STATUS.items():
        if status == code_status and code not in codes:
            problems.append(f"status {status} without a {code} error")
    if status == 404 and set(codes) != {"NOT_FOUND"}:
        problems.append(f"status 404 with codes {codes}")
    if accept == GRAPHQL_RESPONSE and "data" not in payload:
        # Refused as a whole: the first of these codes decides the status.
        for code in ("DATABASE_UNAVAILABLE", "INTERNAL_SERVER_ERROR", "UNAUTHENTICATED",
                     "FORBIDDEN"):
            if code in codes:
                if status != _CODE_STATUS[code]:
                    problems.append(f"status {status} for a request refused with {code}")
                break
    if (accept == GRAPHQL_RESPONSE and status == 200 and codes and set(codes) <= {"FORBIDDEN"}
            and isinstance(payload.get("data"), dict)
            and all(v is None for v in payload["data"].values())):
        problems.append("every root field refused (FORBIDDEN) but status 200, not 403")
    return problems


def judge(accept: str, answer: Answer, *, valid_document: bool) -> list[tuple[Kind, str]]:
    """Every problem with one answer, by kind: internal errors (5xx or an
    INTERNAL_SERVER_ERROR inside a 200), breaches of the spec, other breaches of the
    service's documented rules."""
    problems: list[tuple[Kind, str]] = []
    if answer.status >= 500 and answer.status != 503:
        problems.append(("internal", f"status {answer.status}"))
    problems += [("spec", p) for p in check_media_type(accept, answer.content_type)]
    try:
        payload = json.loads(answer.body)
    except ValueError:
        return [*problems, ("spec", f"the body is not JSON: {answer.body[:200]!r}")]
    shape = check_body(payload)
    if shape:
        return [*problems, *(("spec", p) for p in shape)]
    if any((e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"
           for e in payload.get("errors") or []) and answer.status < 500:
        problems.append(("internal", f"INTERNAL_SERVER_ERROR in a {answer.status} response"))
    problems += [("spec", p) for p in check_status_and_data(accept, answer.status, payload)]
    if not valid_document:
        problems += [("spec", p) for p in check_refused_document(accept, answer.status,
                                                                 payload)]
    problems += [("other", p) for p in check_documented_status(accept, answer.status,
                                                               payload)]
    return problems


def is_valid(schema: graphql.GraphQLSchema, document: str) -> bool:
    """Whether the document passes the GraphQL spec's validation rules (the server adds its
    own limits: a document valid here may still be refused, but never the other way)."""
    try:
        return not graphql.validate(schema, graphql.parse(document))
    except graphql.GraphQLError:
        return False


def distinct(failures: Sequence[Failure]) -> list[tuple[int, Failure]]:
    """One entry per (kind, operation, problem): how often, and the shortest document."""
    shortest: dict[tuple[str, str, str], tuple[int, Failure]] = {}
    for f in failures:
        key = (f.kind, f.operation, f.problem[:80])
        count, best = shortest.get(key, (0, f))
        shortest[key] = (count + 1, f if len(f.query) < len(best.query) else best)
    return [shortest[key] for key in sorted(shortest)]


def describe(failures: Sequence[Failure]) -> str:
    return "\n\n".join(
        f"{f.kind}: {f.problem} ({f.operation} on {f.endpoint} as {f.role}, Accept {f.accept},"
        f" status {f.status}; {count} times)\n{f.query}" for count, f in distinct(failures))


# --- generation ---------------------------------------------------------------------------------


def register_scalars(ids: Sequence[str] = (), words: Sequence[str] = ()) -> None:
    """Strategies for this API's custom scalars, and for IDs and strings: mostly arbitrary
    text, with a share of the records' real ids and names so that documents reach past
    NOT_FOUND and empty results into the resolvers."""
    text = st.text(max_size=40)
    dates = st.dates().map(str)
    partial = st.one_of(dates, dates.map(lambda d: d[:7]), dates.map(lambda d: d[:4]))
    json_text = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                             lambda inner: st.lists(inner, max_size=3)
                             | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                             max_leaves=6).map(json.dumps)
    schemathesis.graphql.scalar("PartialDate", st.one_of(partial, text).map(nodes.String))
    schemathesis.graphql.scalar("JSONString", st.one_of(json_text, text).map(nodes.String))
    schemathesis.graphql.scalar("Date", st.one_of(dates, dates, text).map(nodes.String))
    schemathesis.graphql.scalar("DateTime", st.one_of(
        st.datetimes().map(lambda d: d.isoformat() + "Z"), text).map(nodes.String))
    if ids:
        schemathesis.graphql.scalar("ID", st.one_of(
            st.sampled_from(list(ids)), st.sampled_from(list(ids)), st.uuids().map(str),
            text).map(nodes.String))
    if words:
        schemathesis.graphql.scalar("String", st.one_of(st.sampled_from(list(words)),
                                                        text).map(nodes.String))


def fuzz(schema: Any, send: Send, *, budget: int, endpoint: str, role: str, seed_value: int,
         negative_share: float = 0.25, advance: Callable[[int], None] | None = None) -> Tally:
    """Send at least ``budget`` generated documents over every root field of ``schema`` (a
    schemathesis GraphQL schema), a share of them invalid on purpose, and judge each answer.

    Rounds go over every operation until the budget is spent: hypothesis stops early on
    fields with few possible documents, and the others make up for them."""
    operations = [result.ok() for result in schema.get_all_operations()]
    client_schema: graphql.GraphQLSchema = schema.client_schema
    tally = Tally()
    rng = random.Random(seed_value)
    per_operation = max(2, math.ceil(budget / len(operations)))
    negatives = max(1, round(per_operation * negative_share))
    for round_number in range(1_000):
        before = tally.requests
        for index, operation in enumerate(operations):
            for mode, examples in ((GenerationMode.POSITIVE, per_operation - negatives),
                                   (GenerationMode.NEGATIVE, negatives)):
                remaining = budget - tally.requests
                if remaining <= 0:
                    return tally
                # Each (round, operation, mode) its own seed: reproducible, never repeated.
                _run(operation, mode, min(examples, remaining), send, tally, client_schema,
                     endpoint, role, rng, advance,
                     seed_value * 1_000_003 + round_number * 10_007 + index * 2
                     + int(mode.is_negative))
        if tally.requests == before:
            break  # nothing left to generate
    return tally


def _run(operation: Any, mode: GenerationMode, examples: int, send: Send, tally: Tally,
         client_schema: graphql.GraphQLSchema, endpoint: str, role: str, rng: random.Random,
         advance: Callable[[int], None] | None, seed_value: int) -> None:
    @seed(seed_value)
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        query = case.body
        accept = rng.choice(ACCEPTS)
        tally.requests += 1
        if advance is not None:
            advance(1)
        try:
            answer = send(query, accept)
        except Exception as err:  # the server dropped the connection or timed out
            tally.failures.append(Failure("other", f"no response: {err!r}", operation.label,
                                          endpoint, role, accept, query, None))
            return
        tally.statuses[answer.status] = tally.statuses.get(answer.status, 0) + 1
        for kind, problem in judge(accept, answer,
                                   valid_document=is_valid(client_schema, query)):
            tally.failures.append(Failure(kind, problem, operation.label, endpoint, role,
                                          accept, query, answer.status))

    try:
        run()
    except SkipTest:  # the field has nothing that could be made invalid
        pass


# --- the targets and what to draw from ----------------------------------------------------------

# (endpoint, role): the private schema with a key of each role, and without one (every answer
# 401); the public schema without a key. Roles as in registry/keys/models.py `Role`.
TARGETS = (("/graphql", "admin"), ("/graphql", "post_staff"), ("/graphql", "board_member"),
           ("/graphql", "agency"), ("/graphql", "no key"), ("/public/graphql", "public"))


async def sample_pool(conn: Any, per_table: int = 30) -> tuple[list[str], list[str]]:
    """Real ids (every table keyed by a uuid ``id``, and officers' public ids) and words
    (names, ORIs, certificate numbers) of the database, for ``register_scalars``."""
    tables = await conn.fetch(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND c.column_name = 'id' AND c.data_type = 'uuid' "
        "AND t.table_type = 'BASE TABLE' AND c.table_name NOT LIKE '%\\_history' "
        "ORDER BY 1")
    ids: list[str] = []
    for row in tables:
        ids += [r[0] for r in await conn.fetch(
            f'SELECT id::text FROM "{row["table_name"]}" ORDER BY random() LIMIT $1',
            per_table)]
    ids += [r[0] for r in await conn.fetch(
        "SELECT public_id FROM officers ORDER BY random() LIMIT $1", per_table)]
    words = [w for r in await conn.fetch(
        "(SELECT last_name, first_name FROM officers ORDER BY random() LIMIT $1) UNION ALL "
        "(SELECT ori, name FROM agencies ORDER BY random() LIMIT $1) UNION ALL "
        "(SELECT number, state FROM certifications ORDER BY random() LIMIT $1)", per_table)
             for w in r if w]
    return ids, words
