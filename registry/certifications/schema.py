"""Certification queries and mutations: thin, the rules are in ``service``."""

from datetime import date
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.relay import uuid_arg
from registry.certifications import service
from registry.certifications.dataloaders import CertificationById
from registry.certifications.types import Certification, IssueCertificationInput


class CertificationQueries(graphene.ObjectType):
    certification = graphene.Field(Certification, id=graphene.ID(required=True))

    @staticmethod
    async def resolve_certification(_root: Any, info: GraphQLResolveInfo, id: str) -> Any:
        return await ctx(info).loader(CertificationById).load(uuid_arg(id, "id"))


class IssueCertification(graphene.Mutation):
    class Arguments:
        input = IssueCertificationInput(required=True)

    Output = Certification

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, input: Any) -> Any:
        c = ctx(info)
        issue_in = service.IssueIn(
            officer_id=uuid_arg(input.officer_id, "officerId"), number=input.number,
            discipline=enums.value(input.discipline), level=enums.value(input.level),
            issued_on=input.issued_on, expires_on=input.expires_on, state=input.state,
            issuing_board=input.issuing_board,
        )
        async with c.write() as session:
            return await service.issue(session=session, actor=actor(info), settings=c.settings,
                                       issue_in=issue_in)


class RenewCertification(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)
        expires_on = graphene.Date(required=True)
        effective_on = graphene.Date(description="Defaults to today.")
        expected_version = graphene.Int()

    Output = Certification

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, expires_on: date,
                     effective_on: date | None = None, expected_version: int | None = None
                     ) -> Any:
        async with ctx(info).write() as session:
            return await service.renew(
                session=session, actor=actor(info), certification_id=uuid_arg(id, "id"),
                expires_on=expires_on, effective_on=effective_on or date.today(),
                expected_version=expected_version,
            )


class MoveCertificationStatus(graphene.Mutation):
    """An administrative status move (lapse, inactivate, reactivate)."""

    class Arguments:
        id = graphene.ID(required=True)
        move = enums.CertificationMove(required=True)
        effective_on = graphene.Date(required=True)
        reason = graphene.String(required=True)
        expected_version = graphene.Int()

    Output = Certification

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, move: Any,
                     effective_on: date, reason: str, expected_version: int | None = None
                     ) -> Any:
        async with ctx(info).write() as session:
            return await service.move(
                session=session, actor=actor(info), certification_id=uuid_arg(id, "id"),
                move=enums.value(move), effective_on=effective_on, reason=reason,
                expected_version=expected_version,
            )


class CertificationMutations(graphene.ObjectType):
    issue_certification = IssueCertification.Field()
    renew_certification = RenewCertification.Field()
    move_certification_status = MoveCertificationStatus.Field()
