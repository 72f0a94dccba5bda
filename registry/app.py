"""The ASGI application: two GraphQL endpoints and a health check."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from registry.actors import Actor
from registry.api.context import Context
from registry.api.http import GraphQLEndpoint, RequestError, is_database_down
from registry.api.schema import schema
from registry.database import create_engine, resolve_database_url
from registry.errors import Unauthenticated
from registry.keys import service as keys
from registry.keys.models import Role
from registry.referrals.grounds import load_grounds
from registry.settings import Settings, get_settings
from registry.transparency.schema import public_schema

log = logging.getLogger("registry")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    load_grounds(settings)  # a wrong grounds file stops the start, naming file, ground and key
    engine = create_engine(resolve_database_url(settings), settings)

    async def private_context(request: Request, request_id: str) -> Context:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RequestError(401, "Send an API key as 'Authorization: Bearer <token>'; "
                                    "`registry keys create` makes one.", "UNAUTHENTICATED",
                               {"WWW-Authenticate": 'Bearer realm="registry"'})
        context = Context(engine, settings, None, request_id)
        try:
            async with context.read() as session:
                key = await keys.authenticate(session=session, token=token.strip())
        except BaseException as err:
            await context.close()
            if isinstance(err, Unauthenticated):
                raise RequestError(401, err.message, err.code,
                                   {"WWW-Authenticate": 'Bearer error="invalid_token"'}
                                   ) from None
            if is_database_down(err):
                raise RequestError(503, "The database is not answering; try again shortly.",
                                   "DATABASE_UNAVAILABLE", {"Retry-After": "5"}) from None
            raise
        context.actor = Actor(name=key.name, role=Role(key.role), key_id=key.id,
                              agency_id=key.agency_id, request_id=request_id)
        return context

    async def public_context(_request: Request, request_id: str) -> Context:
        return Context(engine, settings, None, request_id)

    async def healthz(_request: Request) -> JSONResponse:
        try:
            async with asyncio.timeout(3):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as err:  # any failure to answer means "not healthy"
            log.warning("health check failed: %s", type(err).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(
        routes=[
            Route("/graphql", GraphQLEndpoint(schema.graphql_schema, settings=settings,
                                              make_context=private_context,
                                              title="Officer registry").handle,
                  methods=methods),
            Route("/public/graphql", GraphQLEndpoint(public_schema.graphql_schema,
                                                     settings=settings,
                                                     make_context=public_context,
                                                     title="Officer registry (public)").handle,
                  methods=methods),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    return app
