"""The public transparency schema (``/public/graphql``, no key)."""

import uuid
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.agencies import repository as agencies
from registry.api.context import ctx
from registry.api.relay import connection, decode_cursor, page_size
from registry.errors import InvalidInput
from registry.names import fold
from registry.officers import repository as officers
from registry.states import check_state
from registry.transparency.types import (
    PublicAgencyConnection,
    PublicOfficer,
    PublicOfficerConnection,
)


class PublicQuery(graphene.ObjectType):
    class Meta:
        name = "Query"

    agencies = graphene.Field(
        PublicAgencyConnection, required=True, first=graphene.Int(), after=graphene.String(),
        state=graphene.String(), name=graphene.String())
    officers = graphene.Field(
        PublicOfficerConnection, required=True, first=graphene.Int(), after=graphene.String(),
        name=graphene.String(description="Words of the officer's name."))
    officer = graphene.Field(PublicOfficer, public_id=graphene.ID(required=True))

    @staticmethod
    async def resolve_agencies(_root: Any, info: GraphQLResolveInfo, first: int | None = None,
                               after: str | None = None, state: str | None = None,
                               name: str | None = None) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        async with c.read() as session:
            rows = await agencies.page(
                session, limit=limit + 1, after=decode_cursor(after, str, str, uuid.UUID),  # type: ignore[arg-type]
                state=check_state(state) if state else None, name_key=fold(name) or None)
        return connection(PublicAgencyConnection, rows, limit,
                          lambda a: (a.state, a.name_key, a.id))

    @staticmethod
    async def resolve_officers(_root: Any, info: GraphQLResolveInfo, first: int | None = None,
                               after: str | None = None, name: str | None = None) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        async with c.read() as session:
            rows = await officers.page(
                session, limit=limit + 1, after=decode_cursor(after, str, uuid.UUID),  # type: ignore[arg-type]
                where=officers.OfficerFilter(name_key=fold(name) or None))
        return connection(PublicOfficerConnection, rows, limit, lambda o: (o.sort_key, o.id))

    @staticmethod
    async def resolve_officer(_root: Any, info: GraphQLResolveInfo, public_id: str) -> Any:
        if not public_id.isalnum() or len(public_id) > 32:
            raise InvalidInput("That is not a public officer id.", field="publicId")
        async with ctx(info).read() as session:
            return await officers.get_by_public_id(session, public_id)


public_schema = graphene.Schema(query=PublicQuery)
