"""Who is calling: the API key in ``Authorization: Bearer <token>``, for every private path
(the GraphQL endpoint and the printable reports)."""

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from registry.actors import Actor
from registry.api.context import Context
from registry.api.http import RequestError, is_database_down
from registry.errors import DatabaseUnavailable, Unauthenticated
from registry.keys import service as keys
from registry.keys.models import Role
from registry.settings import Settings


async def authenticated_context(request: Request, request_id: str, *, engine: AsyncEngine,
                                settings: Settings) -> Context:
    """A request context with the key's actor; 401 without a valid key, 503 when the
    database does not answer."""
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
                               {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        if is_database_down(err):
            raise RequestError(503, DatabaseUnavailable.MESSAGE, DatabaseUnavailable.code,
                               DatabaseUnavailable.headers) from None
        raise
    context.actor = Actor(name=key.name, role=Role(key.role), key_id=key.id,
                          agency_id=key.agency_id, request_id=request_id)
    return context
