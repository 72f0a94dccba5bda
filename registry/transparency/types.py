"""Public types: built apart from the private ones, so a private field cannot leak into the
public schema by being added to a shared type. Only what state law makes public is here."""

from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import ctx
from registry.certifications.dataloaders import CertificationsByPerson
from registry.officers.models import Officer as OfficerRow


class PublicAgency(graphene.ObjectType):
    class Meta:
        name = "Agency"

    id = graphene.ID(required=True)
    state = graphene.String(required=True)
    ori = graphene.String()
    name = graphene.String(required=True)
    agency_type = graphene.Field(enums.AgencyType, required=True)


class PublicAgencyConnection(graphene.relay.Connection):
    class Meta:
        name = "AgencyConnection"
        node = PublicAgency


class PublicCertification(graphene.ObjectType):
    class Meta:
        name = "Certification"

    state = graphene.String(required=True)
    discipline = graphene.Field(enums.CertificationDiscipline, required=True)
    level = graphene.Field(enums.CertificationLevel, required=True)
    issued_on = graphene.Date(required=True)
    status = graphene.Field(enums.CertificationStatus, required=True)
    status_since = graphene.Date(required=True)


class PublicOfficer(graphene.ObjectType):
    class Meta:
        name = "Officer"

    public_id = graphene.ID(required=True, description="An opaque public identifier.")
    first_name = graphene.String(required=True)
    middle_name = graphene.String()
    last_name = graphene.String(required=True)
    suffix = graphene.String()
    full_name = graphene.String(required=True)
    certifications = graphene.List(graphene.NonNull(PublicCertification), required=True)

    @staticmethod
    def resolve_full_name(root: OfficerRow, _info: GraphQLResolveInfo) -> str:
        return " ".join(p for p in (root.first_name, root.middle_name, root.last_name,
                                    root.suffix) if p)

    @staticmethod
    async def resolve_certifications(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(CertificationsByPerson).load(root.id)


class PublicOfficerConnection(graphene.relay.Connection):
    class Meta:
        name = "OfficerConnection"
        node = PublicOfficer
