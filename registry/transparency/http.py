"""``/public/graphql``: the GraphQL-over-HTTP endpoint of registry/api/http.py with what a
public, keyless endpoint adds:
- a per-address rate limit: 429 with ``Retry-After`` (and ``extensions.retryAfter``);
- its own cost limit (registry/api/cost.py; the aggregates count as longer lists);
- any document, and introspection, in production too: the public may write its own
  queries; the shipped ones in graphql/operations/public/ may be sent by hash;
- cache headers: a successful GET query is ``public, max-age=N`` with a strong ``ETag``
  (``If-None-Match`` gets 304) and ``Vary: Accept`` (the media type follows Accept);
  POSTs, errors and refusals stay ``no-store``;
- 404 when the only error is a record not found (``officer`` is non-null), 422 for bad
  input, as for any document error.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from graphql import GraphQLSchema
from starlette.requests import Request
from starlette.responses import Response

from registry.api.context import Context
from registry.api.cost import CostModel
from registry.api.http import GRAPHQL_RESPONSE, JSON, GraphQLEndpoint, Limits
from registry.api.persisted import operations_dir
from registry.settings import Settings
from registry.transparency.execution import LeanExecutionContext
from registry.transparency.ratelimit import RateLimiter, Refusal
from registry.transparency.schema import MAX_PAGE

# Expected lengths of the aggregate lists (years, agencies, ground categories, grounds).
AGGREGATE_SIZES = dict.fromkeys(
    ("decertificationsByYear", "decertificationsByAgency", "byGround", "grounds"), 50)


def rate_limited_body(refusal: Refusal) -> dict[str, Any]:
    return {"errors": [{
        "message": f"Too many requests from your address (the limit is {refusal.limit}); "
                   f"retry in {refusal.retry_after} s.",
        "extensions": {"code": "RATE_LIMITED", "retryAfter": refusal.retry_after}}]}


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def not_modified(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in given.split(",")) or \
        given.strip() == "*"


class PublicGraphQLEndpoint(GraphQLEndpoint):
    execution_context_class = LeanExecutionContext

    def __init__(self, schema: GraphQLSchema, *, settings: Settings,
                 make_context: Callable[[Request, str], Awaitable[Context]], title: str,
                 limiter: RateLimiter) -> None:
        cost = replace(CostModel.private(settings), max_cost=settings.public_max_cost,
                       max_page=min(settings.max_page_size, MAX_PAGE),
                       list_sizes=AGGREGATE_SIZES)
        super().__init__(schema, settings=settings, make_context=make_context, title=title,
                         limits=Limits(cost=cost, operations=operations_dir(settings) / "public",
                                       persisted_only=False, introspection=True))
        self.limiter = limiter
        self.cache_control = (f"public, max-age={settings.public_cache_seconds}"
                              if settings.public_cache_seconds else "no-cache")

    async def handle(self, request: Request) -> Response:
        refusal = await self.limiter.check(request)
        if refusal is not None:
            accept = request.headers.get("accept", "")
            media_type = JSON if JSON in accept and GRAPHQL_RESPONSE not in accept \
                else GRAPHQL_RESPONSE
            return Response(json.dumps(rate_limited_body(refusal)), status_code=429,
                            media_type=f"{media_type}; charset=utf-8",
                            headers={"Retry-After": str(refusal.retry_after),
                                     "Cache-Control": "no-store"})
        response = await super().handle(request)
        if (request.method == "GET" and response.status_code == 200
                and response.media_type != "text/html"
                and not bytes(response.body).startswith(b'{"errors"')):
            etag = etag_of(bytes(response.body))
            headers = {"Cache-Control": self.cache_control, "Vary": "Accept", "ETag": etag}
            if not_modified(request, etag):
                return Response(status_code=304, headers={
                    **headers, "X-Request-ID": response.headers.get("x-request-id", "")})
            response.headers.update(headers)
        return response

    async def _run(self, request: Request, request_id: str, legacy: bool, query: str,
                   variables: dict[str, Any] | None, operation_name: str | None,
                   context: Context) -> tuple[int, dict[str, Any]]:
        status, body = await super()._run(request, request_id, legacy, query, variables,
                                          operation_name, context)
        if status == 422 and body.get("data") is None and body.get("errors"):
            codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
            if codes == {"NOT_FOUND"}:
                status = 404
        return status, body
