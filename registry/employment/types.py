from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.agencies.dataloaders import AgencyById
from registry.agencies.types import Agency
from registry.api import enums
from registry.api.context import ctx
from registry.api.loaders import loaded
from registry.employment.models import Stint as StintRow
from registry.officers.dataloaders import PersonById


class Stint(graphene.ObjectType):
    """One period of employment at one agency, as the agency (or POST staff) reported it."""

    id = graphene.ID(required=True)
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    agency = graphene.Field(Agency, required=True)
    rank = graphene.String()
    started_on = graphene.Date(required=True)
    ended_on = graphene.Date()
    separation_reason = graphene.Field(enums.SeparationReason)
    separation_note = graphene.String()
    reported_by = graphene.Field(Agency, description="The agency that reported the stint "
                                                     "(null when POST staff entered it).")
    reported_at = graphene.DateTime(required=True)
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)
    change_reason = graphene.String()

    @staticmethod
    async def resolve_officer(root: StintRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)

    @staticmethod
    def resolve_agency(root: StintRow, info: GraphQLResolveInfo) -> Any:
        return loaded(ctx(info).loader(AgencyById), root.agency_id)

    @staticmethod
    async def resolve_reported_by(root: StintRow, info: GraphQLResolveInfo) -> Any:
        if root.reported_by_agency_id is None:
            return None
        return await ctx(info).loader(AgencyById).load(root.reported_by_agency_id)


class ReportHireInput(graphene.InputObjectType):
    officer_id = graphene.ID(required=True)
    agency_id = graphene.ID(required=True)
    started_on = graphene.Date(required=True)
    rank = graphene.String()


class ReportSeparationInput(graphene.InputObjectType):
    ended_on = graphene.Date(required=True)
    reason = graphene.InputField(enums.SeparationReason, required=True)
    note = graphene.String()


class StintCorrectionInput(graphene.InputObjectType):
    started_on = graphene.Date(required=True)
    rank = graphene.String()
    ended_on = graphene.Date()
    separation_reason = graphene.Field(enums.SeparationReason)
    separation_note = graphene.String()
