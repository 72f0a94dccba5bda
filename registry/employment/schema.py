"""Employment mutations: thin, the rules (own agency only, no overlaps) are in ``service``."""

from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.relay import uuid_arg
from registry.employment import service
from registry.employment.types import (
    ReportHireInput,
    ReportSeparationInput,
    Stint,
    StintCorrectionInput,
)


class ReportHire(graphene.Mutation):
    class Arguments:
        input = ReportHireInput(required=True)

    Output = Stint

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, input: Any) -> Any:
        hire_in = service.HireIn(
            officer_id=uuid_arg(input.officer_id, "officerId"),
            agency_id=uuid_arg(input.agency_id, "agencyId"),
            started_on=input.started_on, rank=input.rank,
        )
        async with ctx(info).write() as session:
            return await service.report_hire(session=session, actor=actor(info), hire_in=hire_in)


class ReportSeparation(graphene.Mutation):
    class Arguments:
        stint_id = graphene.ID(required=True)
        input = ReportSeparationInput(required=True)
        expected_version = graphene.Int()

    Output = Stint

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, stint_id: str, input: Any,
                     expected_version: int | None = None) -> Any:
        separation = service.SeparationIn(ended_on=input.ended_on,
                                          reason=enums.value(input.reason), note=input.note)
        async with ctx(info).write() as session:
            return await service.report_separation(
                session=session, actor=actor(info), settings=ctx(info).settings,
                stint_id=uuid_arg(stint_id, "stintId"), separation_in=separation,
                expected_version=expected_version,
            )


class CorrectStint(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)
        input = StintCorrectionInput(required=True)
        reason = graphene.String(required=True)
        expected_version = graphene.Int()

    Output = Stint

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, input: Any, reason: str,
                     expected_version: int | None = None) -> Any:
        correction = service.StintCorrectionIn(
            started_on=input.started_on, rank=input.rank, ended_on=input.ended_on,
            reason=enums.value(input.separation_reason) if input.separation_reason else None,
            note=input.separation_note,
        )
        async with ctx(info).write() as session:
            return await service.correct(
                session=session, actor=actor(info), stint_id=uuid_arg(id, "id"),
                stint_in=correction, reason=reason, expected_version=expected_version,
            )


class EmploymentMutations(graphene.ObjectType):
    report_hire = ReportHire.Field()
    report_separation = ReportSeparation.Field()
    correct_stint = CorrectStint.Field()
