"""GraphQL root fields of this domain; thin over the service."""

from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.relay import uuid_arg
from registry.findings import service
from registry.findings.types import Conviction, ConvictionInput, Finding, FindingInput


def finding_in(data: Any) -> service.FindingIn:
    return service.FindingIn(
        officer_id=uuid_arg(data.officer_id, "officerId"),
        agency_id=uuid_arg(data.agency_id, "agencyId") if data.agency_id else None,
        incident_on=data.incident_on, reported_on=data.reported_on,
        category=enums.value(data.category),
        recommended_disposition=enums.value(data.recommended_disposition),
        final_disposition=enums.value(data.final_disposition),
        discipline=enums.value(data.discipline) if data.discipline else None,
        suspension_days=data.suspension_days,
        completed_after_separation=bool(data.completed_after_separation),
        public_releasable=bool(data.public_releasable), summary=data.summary,
    )


class FindingQueries(graphene.ObjectType):
    finding = graphene.Field(Finding, id=graphene.ID(required=True),
                             description="A finding; an agency key sees only its own "
                                         "agency's findings (others are null).")

    @staticmethod
    async def resolve_finding(_root: Any, info: GraphQLResolveInfo, id: str) -> Any:
        async with ctx(info).read() as session:
            return await service.get_finding(session=session, actor=actor(info),
                                              finding_id=uuid_arg(id, "id"))


class ReportFinding(graphene.Mutation):
    """A department's misconduct finding about an officer it employs or employed."""

    class Arguments:
        input = FindingInput(required=True)
        idempotency_key = graphene.String(
            description="The sending system's id for this report: a retry with the same key "
                        "returns the first report and records nothing new.")

    Output = Finding

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, input: Any,
                     idempotency_key: str | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.report_finding(
                session=session, actor=actor(info), settings=ctx(info).settings,
                finding_in=finding_in(input), idempotency_key=idempotency_key)


class AmendFinding(graphene.Mutation):
    """A new version of a finding (e.g. pending -> sustained, discipline reversed)."""

    class Arguments:
        id = graphene.ID(required=True)
        input = FindingInput(required=True, description="The whole amended finding.")
        reason = graphene.String(required=True)
        expected_version = graphene.Int()

    Output = Finding

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, input: Any, reason: str,
                     expected_version: int | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.amend_finding(
                session=session, actor=actor(info), settings=ctx(info).settings,
                finding_id=uuid_arg(id, "id"), finding_in=finding_in(input), reason=reason,
                expected_version=expected_version)


class ReportConviction(graphene.Mutation):
    class Arguments:
        input = ConvictionInput(required=True)
        idempotency_key = graphene.String()

    Output = Conviction

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, input: Any,
                     idempotency_key: str | None = None) -> Any:
        conviction_in = service.ConvictionIn(
            officer_id=uuid_arg(input.officer_id, "officerId"),
            agency_id=uuid_arg(input.agency_id, "agencyId") if input.agency_id else None,
            offense=input.offense, level=enums.value(input.level),
            domestic_violence=bool(input.domestic_violence), convicted_on=input.convicted_on,
            court=input.court)
        async with ctx(info).write() as session:
            return await service.report_conviction(
                session=session, actor=actor(info), settings=ctx(info).settings,
                conviction_in=conviction_in, idempotency_key=idempotency_key)


class FindingMutations(graphene.ObjectType):
    report_finding = ReportFinding.Field()
    amend_finding = AmendFinding.Field()
    report_conviction = ReportConviction.Field()
