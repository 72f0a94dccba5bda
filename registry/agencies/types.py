import graphene

from registry.api import enums


class Agency(graphene.ObjectType):
    """A law-enforcement agency (department, sheriff's office, jail, academy...)."""

    id = graphene.ID(required=True)
    state = graphene.String(required=True, description="Two-letter state code.")
    ori = graphene.String(description="9-character NCIC Originating Agency Identifier.")
    name = graphene.String(required=True)
    aliases = graphene.List(graphene.NonNull(graphene.String), required=True,
                            description="Other names the agency appears under in source files.")
    agency_type = graphene.Field(enums.AgencyType, required=True)
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)


class AgencyConnection(graphene.relay.Connection):
    class Meta:
        node = Agency


class AgencyInput(graphene.InputObjectType):
    state = graphene.String(required=True)
    name = graphene.String(required=True)
    agency_type = graphene.InputField(enums.AgencyType, required=True)
    ori = graphene.String()
    aliases = graphene.List(graphene.NonNull(graphene.String))
