"""The ASGI application: two GraphQL endpoints and a health check."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from registry.api.auth import authenticated_context
from registry.api.context import Context
from registry.api.http import GraphQLEndpoint
from registry.api.schema import schema
from registry.background_checks.report import report_page
from registry.database import checkout, create_engine, resolve_database_url
from registry.errors import DatabaseUnavailable
from registry.notifications import webhooks
from registry.referrals.grounds import load_grounds
from registry.settings import Settings, get_settings
from registry.transparency.pages import PublicSite

log = logging.getLogger("registry")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    load_grounds(settings)  # a wrong grounds file stops the start, naming file, ground and key
    # Requests and /healthz take their connections through `checkout`, which pings them.
    engine = create_engine(resolve_database_url(settings), settings, pre_ping=False)
    public = PublicSite(engine, settings)  # registry/transparency: its own pool and limits

    async def private_context(request: Request, request_id: str) -> Context:
        return await authenticated_context(request, request_id, engine=engine,
                                           settings=settings)

    async def healthz(_request: Request) -> JSONResponse:
        try:
            session = AsyncSession(engine)
            await checkout(session, settings)  # a ping, or a new connection
            await session.close()
        except Exception as err:  # any failure to answer means "not healthy"
            log.warning("health check failed: %s", type(err).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"},
                                status_code=DatabaseUnavailable.status,
                                headers={**DatabaseUnavailable.headers,
                                         "Cache-Control": "no-store"})
        return JSONResponse({"status": "ok", "database": "up"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        deliveries = webhooks.start(engine, settings)  # signed webhook deliveries, retried
        try:
            yield
        finally:
            await webhooks.stop(deliveries)
            await public.close()
            await engine.dispose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(
        routes=[
            Route("/graphql", GraphQLEndpoint(schema.graphql_schema, settings=settings,
                                              make_context=private_context,
                                              title="Officer registry").handle,
                  methods=methods),
            *public.routes(),  # /public/graphql and the public pages
            Route("/healthz", healthz),
            Route("/reports/background-checks/{check_id}", report_page),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.public = public
    app.state.settings = settings
    return app
