"""The GraphQL-over-HTTP endpoint (https://graphql.github.io/graphql-over-http/).

Small on purpose: starlette no longer ships a GraphQL app, so this is the whole transport.
- POST ``application/json`` bodies and GET query strings; mutations over GET get 405.
- Responses are ``application/graphql-response+json`` unless the client asks for
  ``application/json`` (a missing Accept or ``*/*`` gets the former, as the spec allows
  after its 2025 watershed). With graphql-response+json: 400 for bad JSON or an unparsable
  document, 422 for an invalid request or a document that fails validation (or whose
  variables do not fit); with application/json those document errors come back as 200, as the
  spec asks for that legacy media type.
- 401 without a valid key, 403 when every root field was refused for the key's role, 503 with
  ``Retry-After`` when the database does not answer (with either media type: an outage is not
  an error in the request); 413 for a body over the size limit, 415 for other body types.
- Limits (``Limits``): size, depth, list inputs and cost before anything runs; shipped
  operations may be sent by hash, and in persisted mode nothing else runs.
"""

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionContext,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.pyutils import is_awaitable
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from registry.api import persisted
from registry.api.context import Context
from registry.api.cost import CostModel, cost_limit_rule
from registry.api.validation import BAD_TEXT, BAD_TEXT_MESSAGE, long_variable_lists, rules
from registry.errors import DatabaseUnavailable, Forbidden, RegistryError, Unauthenticated
from registry.settings import Settings

log = logging.getLogger("registry.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 1_000_000
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class RequestError(Exception):
    """A request refused before execution: HTTP status, message and a stable code."""

    status: int
    message: str
    code: str
    headers: dict[str, str] | None = None


def is_database_down(exc: BaseException) -> bool:
    """Connection-level failures (not query errors) mean the database is unreachable."""
    import asyncpg
    from sqlalchemy import exc as sa

    if isinstance(exc, DatabaseUnavailable | ConnectionError | TimeoutError | OSError):
        return True
    if isinstance(exc, asyncpg.exceptions.CannotConnectNowError
                  | asyncpg.exceptions.ConnectionDoesNotExistError
                  | asyncpg.exceptions.InterfaceError):
        return True
    if isinstance(exc, sa.TimeoutError):
        return True
    if isinstance(exc, sa.DBAPIError) and (exc.connection_invalidated
                                           or isinstance(exc, sa.InterfaceError)):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_database_down(cause)


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """A client-safe error: our own errors keep message and code; anything unexpected is
    logged with the request id and reported without internals."""
    original = error.original_error
    out: dict[str, Any] = error.formatted
    if isinstance(error, GraphQLSyntaxError):
        out["extensions"] = {"code": "GRAPHQL_PARSE_FAILED"}
    elif original is None:
        out.setdefault("extensions", {}).setdefault("code", "GRAPHQL_VALIDATION_FAILED")
    elif isinstance(original, RegistryError):
        out["message"] = original.message
        out["extensions"] = original.extensions
    elif is_database_down(original):
        out["message"] = DatabaseUnavailable.MESSAGE
        out["extensions"] = {"code": DatabaseUnavailable.code}
    elif error.path is None:
        # Not raised by a resolver: a literal or variable that a scalar refused while the
        # request was validated or its variables coerced. The message is the scalar's own.
        out.setdefault("extensions", {}).setdefault("code", "BAD_USER_INPUT")
    else:
        log.error("request %s failed", request_id, exc_info=original)
        out["message"] = f"Internal error; quote request id {request_id} when reporting it."
        out["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return out


@dataclass(frozen=True)
class Checked:
    """A document as parsed and validated once: the AST, or the errors that refuse it."""

    document: DocumentNode | None
    syntax_error: GraphQLSyntaxError | None = None
    errors: tuple[GraphQLError, ...] = ()


@dataclass(frozen=True)
class Limits:
    """What one endpoint accepts besides the size, depth and list limits every one applies."""

    cost: CostModel
    operations: Path  # the shipped operations, by hash (extensions.persistedQuery)
    persisted_only: bool  # run nothing but those
    introspection: bool

    @classmethod
    def private(cls, settings: Settings) -> "Limits":
        """``/graphql``'s: in production only shipped operations and no introspection."""
        return cls(cost=CostModel.private(settings),
                   operations=persisted.operations_dir(settings),
                   persisted_only=persisted.persisted_only(settings),
                   introspection=settings.environment != "production")


# Values that are never awaitable: graphql-core asks about every field's value and its
# completion, with three checks each (a hasattr among them, slow when it fails).
_PLAIN = frozenset({str, int, float, bool, dict, list, type(None)})


class PlainExecutionContext(ExecutionContext):
    """graphql-core's execution, with a quicker answer for plain values to "is it
    awaitable?"."""

    @staticmethod
    def is_awaitable(value: Any) -> bool:
        return type(value) not in _PLAIN and is_awaitable(value)


class GraphQLEndpoint:
    """A starlette endpoint serving one schema.

    ``make_context(request, request_id)`` authenticates (raising ``RequestError`` for a missing
    or bad key) and returns the resolvers' context. ``limits`` default to ``/graphql``'s.
    """

    # Unless a schema's endpoint brings a leaner one.
    execution_context_class: type[ExecutionContext] = PlainExecutionContext

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        settings: Settings,
        make_context: Callable[[Request, str], Awaitable[Context]],
        title: str,
        limits: Limits | None = None,
    ) -> None:
        self.schema = schema
        self.settings = settings
        self.make_context = make_context
        self.title = title
        self.limits = limits or Limits.private(settings)
        self.operations = persisted.load_operations(self.limits.operations)
        if self.limits.persisted_only and not self.operations:
            raise ValueError(f"Persisted operations are on but {self.limits.operations} holds "
                             "no *.graphql operation; set REGISTRY_OPERATIONS_DIR.")
        self.rules = [*rules(max_depth=settings.max_query_depth,
                             max_bytes=settings.max_document_bytes,
                             max_list_items=settings.max_list_input,
                             introspection=self.limits.introspection),
                      cost_limit_rule(self.limits.cost)]
        # Clients send the same few documents over and over: parsing and validating them
        # again cost more than executing them (measured in bench/bench_api.py). The rules do
        # not depend on who asks, so the outcome is a function of the text alone.
        self.check = lru_cache(maxsize=settings.document_cache_size)(self._check)

    def _check(self, query: str) -> Checked:
        try:
            document = parse(query, max_tokens=self.settings.max_document_tokens)
        except GraphQLSyntaxError as err:
            return Checked(None, syntax_error=err)
        return Checked(document, errors=tuple(validate(self.schema, document, self.rules)))

    async def handle(self, request: Request) -> Response:
        request_id = request.headers.get("x-request-id", "")
        if not _REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        try:
            media_type = self._media_type(request)
        except RequestError as err:
            return self._error_response(err, GRAPHQL_RESPONSE, request_id)
        if (request.method == "GET" and "query" not in request.query_params
                and "text/html" in request.headers.get("accept", "")):
            return HTMLResponse(graphiql_page(self.title, request.url.path))
        try:
            status, body = await self._handle(request, request_id, media_type)
        except RequestError as err:
            return self._error_response(err, media_type, request_id)
        headers = {"X-Request-ID": request_id, "Cache-Control": "no-store"}
        if status == 503:  # the database went away while the operation ran
            headers.update(DatabaseUnavailable.headers)
        return Response(
            json.dumps(body, default=str, separators=(",", ":")),
            status_code=status,
            media_type=f"{media_type}; charset=utf-8",
            headers=headers,
        )

    def _media_type(self, request: Request) -> str:
        accept = request.headers.get("accept", "").strip()
        if not accept:
            return GRAPHQL_RESPONSE
        for item in accept.split(","):
            kind, _, params = item.strip().partition(";")
            kind = kind.strip().lower()
            if "q=0" in params.replace(" ", "") and not re.search(r"q=0\.\d*[1-9]", params):
                continue
            charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
            if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
                continue  # responses are only ever utf-8
            if kind in (GRAPHQL_RESPONSE, JSON):
                return kind
            if kind in ("*/*", "application/*"):
                return GRAPHQL_RESPONSE
            if kind == "text/html" and request.method == "GET":
                return GRAPHQL_RESPONSE
        raise RequestError(406, f"This endpoint answers {GRAPHQL_RESPONSE} or {JSON}; "
                                "set the Accept header to one of them.", "NOT_ACCEPTABLE")

    async def _read_params(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):
                if name in params:
                    try:
                        params[name] = json.loads(params[name])
                    except ValueError:
                        raise RequestError(400, f"The '{name}' parameter is not valid JSON.",
                                           "BAD_REQUEST") from None
            return params
        if request.method != "POST":
            raise RequestError(405, "Use POST (or GET for queries).", "METHOD_NOT_ALLOWED",
                               {"Allow": "GET, POST"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise RequestError(415, "Send the request body as application/json.",
                               "UNSUPPORTED_MEDIA_TYPE")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise RequestError(413, f"The body is over {MAX_BODY_BYTES} bytes.",
                               "PAYLOAD_TOO_LARGE")
        chunks, size = [], 0
        async for chunk in request.stream():  # stop reading at the limit (chunked bodies)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RequestError(413, f"The body is over {MAX_BODY_BYTES} bytes.",
                                   "PAYLOAD_TOO_LARGE")
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            params = json.loads(raw)
        except ValueError:
            raise RequestError(400, "The body is not valid JSON.", "BAD_REQUEST") from None
        if not isinstance(params, dict):
            raise RequestError(400, "The body must be a JSON object with a 'query' string.",
                               "BAD_REQUEST")
        return params

    async def _handle(self, request: Request, request_id: str, media_type: str
                      ) -> tuple[int, dict[str, Any]]:
        legacy = media_type == JSON
        params = await self._read_params(request)
        query, variables = params.get("query"), params.get("variables")
        operation_name = params.get("operationName")
        invalid = 400 if legacy else 422
        if not isinstance(query, str | None) or (query is not None and not query.strip()):
            raise RequestError(invalid, "The request needs a 'query' string holding a GraphQL "
                                        "document.", "BAD_REQUEST")
        if variables is not None and not isinstance(variables, dict):
            raise RequestError(invalid, "'variables' must be a JSON object.", "BAD_REQUEST")
        if operation_name is not None and not isinstance(operation_name, str):
            raise RequestError(invalid, "'operationName' must be a string.", "BAD_REQUEST")
        extensions = params.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            raise RequestError(invalid, "'extensions' must be a JSON object.", "BAD_REQUEST")
        query = self._persisted_query(query, extensions, invalid)

        # Authenticate before looking at the document: validation messages name fields. (A
        # document that is not a shipped operation was refused above without a key lookup.)
        context = await self.make_context(request, request_id)
        try:
            return await self._run(request, request_id, legacy, query, variables,
                                   operation_name, context)
        finally:
            await context.close()

    def _persisted_query(self, query: str | None, extensions: dict[str, Any] | None,
                         invalid: int) -> str:
        """The document to run: ``query``, or the shipped operation whose SHA-256 is
        ``extensions.persistedQuery.sha256Hash``; in persisted mode only a shipped one."""
        sent = (extensions or {}).get("persistedQuery")
        if sent is not None:
            digest = sent.get("sha256Hash") if isinstance(sent, dict) else None
            if not isinstance(digest, str):
                raise RequestError(invalid, "extensions.persistedQuery needs a 'sha256Hash' "
                                            "string.", "BAD_REQUEST")
            digest = digest.lower()
            if query is None:
                if digest not in self.operations:
                    raise self._not_shipped(invalid)
                return self.operations[digest].text
            if persisted.sha256(query) != digest:
                raise RequestError(invalid, "extensions.persistedQuery.sha256Hash is not the "
                                            "SHA-256 of the query; send both as shipped or "
                                            "just one.", "BAD_REQUEST")
        elif query is None:
            raise RequestError(invalid, "The request needs a 'query' string holding a GraphQL "
                                        "document.", "BAD_REQUEST")
        else:
            digest = persisted.sha256(query)
        if self.limits.persisted_only and digest not in self.operations:
            raise self._not_shipped(invalid)
        return query

    def _not_shipped(self, status: int) -> RequestError:
        if self.limits.persisted_only:
            return RequestError(
                status, "This endpoint runs only the operations shipped in graphql/operations/: "
                "send one's exact text as 'query', or its SHA-256 as extensions.persistedQuery."
                "sha256Hash (`registry operations list` prints them).",
                "PERSISTED_OPERATION_NOT_FOUND")
        return RequestError(status, "No shipped operation has that SHA-256 "
                                    "(`registry operations list` prints them); send the "
                                    "document as 'query'.", "PERSISTED_OPERATION_NOT_FOUND")

    async def _run(self, request: Request, request_id: str, legacy: bool, query: str,
                   variables: dict[str, Any] | None, operation_name: str | None,
                   context: Context) -> tuple[int, dict[str, Any]]:
        checked = self.check(query)
        if checked.syntax_error is not None:
            return 200 if legacy else 400, {"errors": [format_error(checked.syntax_error,
                                                                    request_id)]}
        rejected = 200 if legacy else 422
        if checked.errors:
            return rejected, {"errors": [format_error(e, request_id) for e in checked.errors]}
        document = checked.document
        assert document is not None
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (f"No operation named '{operation_name}' in the document."
                       if operation_name else
                       "The document has several operations; say which one in operationName.")
            return rejected, {"errors": [{"message": message,
                                          "extensions": {"code": "BAD_REQUEST"}}]}
        if request.method == "GET" and operation.operation is not OperationType.QUERY:
            raise RequestError(405, f"A {operation.operation.value} must be sent with POST.",
                               "METHOD_NOT_ALLOWED", {"Allow": "POST"})

        if variables and _has_bad_text(variables):
            return rejected, {"errors": [{"message": BAD_TEXT_MESSAGE,
                                          "extensions": {"code": "BAD_USER_INPUT"}}]}
        too_long = long_variable_lists(self.schema, operation, variables or {},
                                       self.settings.max_list_input)
        if too_long:
            return rejected, {"errors": [format_error(e, request_id) for e in too_long]}

        result = execute(self.schema, document, variable_values=variables,
                         operation_name=operation_name, context_value=context,
                         execution_context_class=self.execution_context_class)
        if not isinstance(result, ExecutionResult):
            result = await result
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [format_error(e, request_id) for e in result.errors]
        if legacy and result.errors and (result.data is None or _all_roots_null(result.data)) \
                and _status_for(body["errors"], default=200, only_access=True) == 503:
            # The legacy media type's 200 is for errors in the request, not for an outage.
            return 503, body
        if result.data is None and result.errors and legacy:
            if any(e.path is not None for e in result.errors):
                body["data"] = None  # a non-null root failed during execution
            # else variables did not coerce: nothing executed, so no data entry at all
            return 200, body
        if result.data is None and result.errors and not legacy:
            # No execution happened (variables did not coerce) or a non-null root failed.
            status = _status_for(body["errors"], default=rejected)
            return status, body
        body["data"] = result.data
        status = 200
        if result.errors and not legacy and _all_roots_null(result.data):
            status = _status_for(body["errors"], default=200, only_access=True)
            if status != 200:
                # Refused as a whole. The spec allows a data entry that is not null only with
                # a 2xx status, so the refusal carries errors alone.
                del body["data"]
        return status, body

    def _error_response(self, err: RequestError, media_type: str, request_id: str) -> Response:
        body = {"errors": [{"message": err.message, "extensions": {"code": err.code}}]}
        return Response(
            json.dumps(body),
            status_code=err.status,
            media_type=f"{media_type}; charset=utf-8",
            headers={"X-Request-ID": request_id, **(err.headers or {})},
        )


_STATUS_BY_CODE = {**{error.code: error.status
                      for error in (Unauthenticated, Forbidden, DatabaseUnavailable)},
                   "INTERNAL_SERVER_ERROR": 500}


def _status_for(errors: list[dict[str, Any]], *, default: int, only_access: bool = False) -> int:
    codes = {e.get("extensions", {}).get("code") for e in errors}
    if only_access:
        # Partial failures stay 200; a request refused as a whole says so in its status.
        if codes <= {"FORBIDDEN"}:
            return 403
        if codes <= {"UNAUTHENTICATED"}:
            return 401
        if "DATABASE_UNAVAILABLE" in codes:
            return 503
        return default
    for code in ("DATABASE_UNAVAILABLE", "INTERNAL_SERVER_ERROR", "UNAUTHENTICATED", "FORBIDDEN"):
        if code in codes:
            return _STATUS_BY_CODE[code]
    return default


def _has_bad_text(value: Any) -> bool:
    """Text PostgreSQL cannot store (NUL, unpaired surrogates) anywhere in the variables."""
    if isinstance(value, str):
        return BAD_TEXT.search(value) is not None
    if isinstance(value, dict):
        return any(_has_bad_text(k) or _has_bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_bad_text(v) for v in value)
    return False


def _all_roots_null(data: dict[str, Any] | None) -> bool:
    return data is not None and all(v is None for v in data.values())


def graphiql_page(title: str, endpoint: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css">
</head><body style="margin:0;height:100vh">
<div id="graphiql" style="height:100vh">Loading GraphiQL… (it needs JavaScript; the API itself
answers POST requests to {endpoint}).</div>
<script src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
<script src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
<script src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
<script>
const fetcher = GraphiQL.createFetcher({{url: {json.dumps(endpoint)}}});
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {{fetcher, defaultEditorToolbarOpen: true,
    defaultHeaders: '{{"Authorization": "Bearer YOUR_TOKEN"}}'}}));
</script></body></html>"""
