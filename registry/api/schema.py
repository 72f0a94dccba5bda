"""The authenticated schema (``/graphql``): every domain's queries and mutations."""

from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.agencies.dataloaders import AgencyById
from registry.agencies.schema import AgencyMutations, AgencyQueries
from registry.agencies.types import Agency
from registry.api import enums
from registry.api.context import actor, ctx
from registry.background_checks.schema import BackgroundCheckQueries
from registry.cases.schema import CaseMutations, CaseQueries
from registry.certifications.schema import CertificationMutations, CertificationQueries
from registry.employment.schema import EmploymentMutations
from registry.findings.schema import FindingMutations, FindingQueries
from registry.ndi.schema import NdiMutations, NdiQueries
from registry.notifications.schema import NotificationMutations, NotificationQueries
from registry.officers.schema import OfficerMutations, OfficerQueries
from registry.referrals.schema import ReferralMutations, ReferralQueries


class Me(graphene.ObjectType):
    """The API key making the request."""

    name = graphene.String(required=True)
    role = graphene.Field(enums.Role, required=True)
    agency = graphene.Field(Agency)


class Query(AgencyQueries, OfficerQueries, CertificationQueries, FindingQueries,
            ReferralQueries, CaseQueries, BackgroundCheckQueries, NotificationQueries,
            NdiQueries, graphene.ObjectType):
    me = graphene.Field(Me, required=True)

    @staticmethod
    async def resolve_me(_root: Any, info: GraphQLResolveInfo) -> Any:
        a = actor(info)
        agency = await ctx(info).loader(AgencyById).load(a.agency_id) if a.agency_id else None
        return Me(name=a.name, role=a.role.value, agency=agency)


class Mutation(AgencyMutations, OfficerMutations, CertificationMutations, EmploymentMutations,
               FindingMutations, ReferralMutations, CaseMutations, NotificationMutations,
               NdiMutations, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
