"""Officer queries and mutations: thin, the rules are in ``service``."""

import uuid
from datetime import datetime
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.relay import connection, decode_cursor, page_size, uuid_arg
from registry.audit.service import snapshot
from registry.names import fold
from registry.officers import repository, service
from registry.officers.dataloaders import PersonById
from registry.officers.models import Officer as OfficerRow
from registry.officers.types import (
    Officer,
    OfficerConnection,
    OfficerInput,
    OtherNameInput,
    SourceInput,
)
from registry.versioning import AsOf, as_of


def name_in(data: Any) -> service.NameIn:
    return service.NameIn(
        kind=enums.value(data.kind), last_name=data.last_name, first_name=data.first_name,
        middle_name=data.middle_name, suffix=data.suffix, used_until=data.used_until,
    )


def officer_in(data: Any) -> service.OfficerIn:
    return service.OfficerIn(
        first_name=data.first_name, last_name=data.last_name, middle_name=data.middle_name,
        suffix=data.suffix, birth_date=data.date_of_birth, post_id=data.post_id, sex=data.sex,
        race=data.race, other_names=[name_in(n) for n in data.other_names or []],
    )


class OfficerQueries(graphene.ObjectType):
    officer = graphene.Field(
        Officer, id=graphene.ID(required=True),
        as_of=graphene.DateTime(description="Show the record as the registry held it then."),
        description="A person by any of their record ids (a merged id finds the survivor).")
    officers = graphene.Field(
        OfficerConnection, required=True, first=graphene.Int(), after=graphene.String(),
        name=graphene.String(description="Words of the current or a prior name."),
        agency_id=graphene.ID(description="Only people with a stint at this agency."),
        status=enums.CertificationStatus(description="Only people with a certification "
                                                     "in this status."),
        description="People in roster order (last name, first name), a page at a time.")

    @staticmethod
    async def resolve_officer(_root: Any, info: GraphQLResolveInfo, id: str,
                              as_of: datetime | None = None) -> Any:
        person = await ctx(info).loader(PersonById).load(uuid_arg(id, "id"))
        if person is None or as_of is None:
            return person
        async with ctx(info).read() as session:
            rows = await _as_of(session, person.id, as_of)
        return AsOf(rows[0], as_of) if rows else None

    @staticmethod
    async def resolve_officers(
        _root: Any, info: GraphQLResolveInfo, first: int | None = None,
        after: str | None = None, name: str | None = None, agency_id: str | None = None,
        status: Any = None,
    ) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        position = decode_cursor(after, str, uuid.UUID)
        where = repository.OfficerFilter(
            name_key=fold(name) or None,
            agency_id=uuid_arg(agency_id, "agencyId") if agency_id else None,
            status=enums.value(status) if status else None,
        )
        async with c.read() as session:
            rows = await repository.page(session, limit=limit + 1, after=position,  # type: ignore[arg-type]
                                         where=where)
        return connection(OfficerConnection, rows, limit, lambda o: (o.sort_key, o.id))


async def _as_of(session: Any, person_id: uuid.UUID, at: datetime) -> list[OfficerRow]:
    return await as_of(session, OfficerRow, at, "id", [person_id])


class RegisterOfficer(graphene.Mutation):
    class Arguments:
        input = OfficerInput(required=True)
        source = SourceInput()

    Output = Officer

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, input: Any, source: Any = None
                     ) -> Any:
        source_in = (service.SourceIn(source.system, source.record_id, snapshot(dict(input)) or {})
                     if source else None)
        async with ctx(info).write() as session:
            return await service.register(session=session, actor=actor(info),
                                          officer_in=officer_in(input), source=source_in)


class CorrectOfficer(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)
        input = OfficerInput(required=True, description="The whole corrected record; "
                                                        "otherNames given here are added.")
        reason = graphene.String(required=True)
        expected_version = graphene.Int()

    Output = Officer

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, input: Any, reason: str,
                     expected_version: int | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.correct(
                session=session, actor=actor(info), officer_id=uuid_arg(id, "id"),
                officer_in=officer_in(input), reason=reason, expected_version=expected_version,
            )


class AddOfficerName(graphene.Mutation):
    class Arguments:
        officer_id = graphene.ID(required=True)
        input = OtherNameInput(required=True)

    Output = Officer

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, officer_id: str, input: Any) -> Any:
        record_id = uuid_arg(officer_id, "officerId")
        async with ctx(info).write() as session:
            await service.add_name(session=session, actor=actor(info), officer_id=record_id,
                                   name_in=name_in(input))
            return await service.get_person(session=session, officer_id=record_id)


class MergeOfficers(graphene.Mutation):
    """Record that two officer records describe one person; reversible with splitOfficer."""

    class Arguments:
        survivor_id = graphene.ID(required=True)
        duplicate_id = graphene.ID(required=True)
        reason = graphene.String(required=True)

    Output = Officer

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, survivor_id: str, duplicate_id: str,
                     reason: str) -> Any:
        async with ctx(info).write() as session:
            return await service.merge(
                session=session, actor=actor(info),
                survivor_id=uuid_arg(survivor_id, "survivorId"),
                duplicate_id=uuid_arg(duplicate_id, "duplicateId"), reason=reason,
            )


class SplitOfficer(graphene.Mutation):
    """Undo a merge: the merged record becomes its own person again (returned)."""

    class Arguments:
        survivor_id = graphene.ID(required=True)
        merged_id = graphene.ID(required=True)
        reason = graphene.String(required=True)

    Output = Officer

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, survivor_id: str, merged_id: str,
                     reason: str) -> Any:
        async with ctx(info).write() as session:
            return await service.split(
                session=session, actor=actor(info),
                survivor_id=uuid_arg(survivor_id, "survivorId"),
                merged_id=uuid_arg(merged_id, "mergedId"), reason=reason,
            )


class OfficerMutations(graphene.ObjectType):
    register_officer = RegisterOfficer.Field()
    correct_officer = CorrectOfficer.Field()
    add_officer_name = AddOfficerName.Field()
    merge_officers = MergeOfficers.Field()
    split_officer = SplitOfficer.Field()
