from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.agencies.dataloaders import AgencyById
from registry.agencies.types import Agency
from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.loaders import loaded
from registry.findings import service
from registry.findings.models import Conviction as ConvictionRow
from registry.findings.models import Finding as FindingRow
from registry.officers.dataloaders import PersonById


class FindingVersion(graphene.ObjectType):
    """One recorded version of a finding (the report, then each amendment)."""

    version = graphene.Int(required=True)
    incident_on = graphene.Date(required=True)
    reported_on = graphene.Date(required=True)
    category = graphene.Field(enums.AllegationCategory, required=True)
    recommended_disposition = graphene.Field(enums.Disposition, required=True)
    final_disposition = graphene.Field(enums.Disposition, required=True)
    discipline = graphene.Field(enums.DisciplineImposed)
    suspension_days = graphene.Int()
    completed_after_separation = graphene.Boolean(required=True)
    public_releasable = graphene.Boolean(required=True)
    summary = graphene.String()
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)
    change_reason = graphene.String()
    superseded_at = graphene.DateTime()


class Finding(graphene.ObjectType):
    """A department's finding on one allegation against one officer (current version)."""

    id = graphene.ID(required=True)
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    agency = graphene.Field(Agency, required=True, description="The reporting agency.")
    incident_on = graphene.Date(required=True)
    reported_on = graphene.Date(required=True)
    category = graphene.Field(enums.AllegationCategory, required=True)
    recommended_disposition = graphene.Field(enums.Disposition, required=True)
    final_disposition = graphene.Field(enums.Disposition, required=True)
    discipline = graphene.Field(enums.DisciplineImposed)
    suspension_days = graphene.Int()
    completed_after_separation = graphene.Boolean(
        required=True, description="The investigation was completed after the officer left.")
    public_releasable = graphene.Boolean(required=True,
                                         description="State law makes this finding public.")
    summary = graphene.String()
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)
    change_reason = graphene.String()
    versions = graphene.List(graphene.NonNull(FindingVersion), required=True,
                             description="Every version, oldest first (POST staff and "
                                         "administrators only).")

    @staticmethod
    async def resolve_officer(root: FindingRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)

    @staticmethod
    def resolve_agency(root: FindingRow, info: GraphQLResolveInfo) -> Any:
        return loaded(ctx(info).loader(AgencyById), root.agency_id)

    @staticmethod
    async def resolve_versions(root: FindingRow, info: GraphQLResolveInfo) -> Any:
        async with ctx(info).read() as session:
            return await service.finding_versions(session=session, actor=actor(info),
                                                  finding_id=root.id)


class Conviction(graphene.ObjectType):
    """A criminal conviction of an officer."""

    id = graphene.ID(required=True)
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    reported_by = graphene.Field(Agency, description="The reporting agency (null when POST "
                                                     "staff entered it without one).")
    offense = graphene.String(required=True)
    level = graphene.Field(enums.OffenseLevel, required=True)
    domestic_violence = graphene.Boolean(required=True)
    convicted_on = graphene.Date(required=True)
    court = graphene.String()
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)

    @staticmethod
    async def resolve_officer(root: ConvictionRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)

    @staticmethod
    async def resolve_reported_by(root: ConvictionRow, info: GraphQLResolveInfo) -> Any:
        if root.reported_by_agency_id is None:
            return None
        return await ctx(info).loader(AgencyById).load(root.reported_by_agency_id)


class FindingInput(graphene.InputObjectType):
    officer_id = graphene.ID(required=True)
    agency_id = graphene.ID(description="The reporting agency: an agency key's own by "
                                        "default; POST staff must name one.")
    incident_on = graphene.Date(required=True)
    reported_on = graphene.Date(required=True)
    category = graphene.InputField(enums.AllegationCategory, required=True)
    recommended_disposition = graphene.InputField(enums.Disposition, required=True)
    final_disposition = graphene.InputField(enums.Disposition, required=True)
    discipline = graphene.Field(enums.DisciplineImposed)
    suspension_days = graphene.Int(description="With discipline SUSPENSION only.")
    completed_after_separation = graphene.Boolean(default_value=False)
    public_releasable = graphene.Boolean(default_value=False)
    summary = graphene.String()


class ConvictionInput(graphene.InputObjectType):
    officer_id = graphene.ID(required=True)
    agency_id = graphene.ID(description="The reporting agency: an agency key's own by "
                                        "default; optional for POST staff.")
    offense = graphene.String(required=True)
    level = graphene.InputField(enums.OffenseLevel, required=True)
    domestic_violence = graphene.Boolean(default_value=False)
    convicted_on = graphene.Date(required=True)
    court = graphene.String()
