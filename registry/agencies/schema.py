"""Agency queries and mutations: thin, the rules are in ``service``."""

import uuid
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.agencies import repository, service
from registry.agencies.dataloaders import AgencyById
from registry.agencies.types import Agency, AgencyConnection, AgencyInput
from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.relay import connection, decode_cursor, page_size, uuid_arg
from registry.names import fold
from registry.states import check_state


def agency_in(data: Any) -> service.AgencyIn:
    return service.AgencyIn(
        state=data.state, name=data.name, agency_type=enums.value(data.agency_type),
        ori=data.ori, aliases=list(data.aliases or []),
    )


class AgencyQueries(graphene.ObjectType):
    agency = graphene.Field(Agency, id=graphene.ID(required=True))
    agencies = graphene.Field(
        AgencyConnection, required=True, first=graphene.Int(), after=graphene.String(),
        state=graphene.String(), name=graphene.String(description="Part of the name, or an ORI."),
    )

    @staticmethod
    async def resolve_agency(_root: Any, info: GraphQLResolveInfo, id: str) -> Any:
        return await ctx(info).loader(AgencyById).load(uuid_arg(id, "id"))

    @staticmethod
    async def resolve_agencies(
        _root: Any, info: GraphQLResolveInfo, first: int | None = None,
        after: str | None = None, state: str | None = None, name: str | None = None,
    ) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        position = decode_cursor(after, str, str, uuid.UUID)
        async with c.read() as session:
            rows = await repository.page(
                session, limit=limit + 1, after=position,  # type: ignore[arg-type]
                state=check_state(state) if state else None, name_key=fold(name) or None,
            )
        return connection(AgencyConnection, rows, limit, lambda a: (a.state, a.name_key, a.id))


class CreateAgency(graphene.Mutation):
    class Arguments:
        input = AgencyInput(required=True)

    Output = Agency

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, input: Any) -> Any:
        async with ctx(info).write() as session:
            return await service.create(session=session, actor=actor(info),
                                        agency_in=agency_in(input))


class CorrectAgency(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)
        input = AgencyInput(required=True)
        reason = graphene.String(required=True)
        expected_version = graphene.Int(description="The version you read; a newer one is a "
                                                    "CONFLICT error.")

    Output = Agency

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, input: Any, reason: str,
                     expected_version: int | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.correct(
                session=session, actor=actor(info), agency_id=uuid_arg(id, "id"),
                agency_in=agency_in(input), reason=reason, expected_version=expected_version,
            )


class AgencyMutations(graphene.ObjectType):
    create_agency = CreateAgency.Field()
    correct_agency = CorrectAgency.Field()
