from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.loaders import loaded
from registry.api.scalars import PartialDate
from registry.cases.dataloaders import ActionsByPerson, CasesByPerson
from registry.cases.types import Case, DecertificationAction
from registry.certifications.dataloaders import CertificationsByPerson
from registry.certifications.models import Certification as CertificationRow
from registry.certifications.types import Certification
from registry.dates import PartialDate as PartialDateValue
from registry.employment.dataloaders import StintsByPerson
from registry.employment.models import Stint as StintRow
from registry.employment.types import Stint
from registry.errors import Forbidden
from registry.findings.dataloaders import ConvictionsByPerson, FindingsByPerson
from registry.findings.service import visible
from registry.findings.types import Conviction, Finding
from registry.keys.models import Role
from registry.officers.dataloaders import (
    IdentityEventsByPerson,
    NamesByPerson,
    RecordIdsByPerson,
    SourceRecordsByPerson,
)
from registry.officers.models import Officer as OfficerRow
from registry.versioning import AsOf, as_of, recorded_by, versions


class OfficerName(graphene.ObjectType):
    kind = graphene.Field(enums.NameKind, required=True)
    first_name = graphene.String()
    middle_name = graphene.String()
    last_name = graphene.String(required=True)
    suffix = graphene.String()
    used_until = graphene.Date()
    recorded_at = graphene.DateTime(required=True)


class SourceRecord(graphene.ObjectType):
    """What a source (a loader file, a department system) said about this person."""

    source = graphene.String(required=True)
    source_key = graphene.String(required=True)
    payload = graphene.JSONString(required=True)
    recorded_at = graphene.DateTime(required=True)


class IdentityEvent(graphene.ObjectType):
    kind = graphene.String(required=True, description="merge or split")
    survivor_id = graphene.ID(required=True)
    merged_id = graphene.ID(required=True)
    reason = graphene.String(required=True)
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)


class OfficerVersion(graphene.ObjectType):
    """One recorded version of the person's own fields."""

    version = graphene.Int(required=True)
    first_name = graphene.String(required=True)
    middle_name = graphene.String()
    last_name = graphene.String(required=True)
    suffix = graphene.String()
    date_of_birth = graphene.Field(PartialDate)
    post_id = graphene.String()
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)
    change_reason = graphene.String()
    superseded_at = graphene.DateTime()

    @staticmethod
    def resolve_date_of_birth(root: dict, _info: GraphQLResolveInfo) -> Any:
        return _birth(root["birth_year"], root["birth_month"], root["birth_day"])


def _birth(year: int | None, month: int | None, day: int | None) -> PartialDateValue | None:
    return PartialDateValue(year, month, day) if year else None


class Officer(graphene.ObjectType):
    """A person who holds or held a certification, with everything recorded about them."""

    id = graphene.ID(required=True)
    public_id = graphene.ID(required=True, description="The id the public pages show.")
    first_name = graphene.String(required=True)
    middle_name = graphene.String()
    last_name = graphene.String(required=True)
    suffix = graphene.String()
    full_name = graphene.String(required=True)
    date_of_birth = graphene.Field(PartialDate, description="Private; partial dates allowed.")
    post_id = graphene.String(description="The state POST id.")
    sex = graphene.String()
    race = graphene.String()
    other_names = graphene.List(graphene.NonNull(OfficerName), required=True,
                                description="Prior, maiden and alias names.")
    certifications = graphene.List(graphene.NonNull(Certification), required=True)
    stints = graphene.List(graphene.NonNull(Stint), required=True,
                           description="Employment stints, oldest first.")
    findings = graphene.List(graphene.NonNull(Finding), required=True,
                             description="Misconduct findings, by incident date; an agency "
                                         "key sees only those its agency reported.")
    convictions = graphene.List(graphene.NonNull(Conviction), required=True,
                                description="Criminal convictions; an agency key sees only "
                                            "those its agency reported.")
    cases = graphene.List(graphene.NonNull(Case), required=True,
                          description="Decertification cases; empty for agency keys.")
    decertification_actions = graphene.List(
        graphene.NonNull(DecertificationAction), required=True,
        description="Final orders, appeal outcomes and reinstatements (public facts).")
    external_actions = graphene.List(
        graphene.NonNull("registry.ndi.types.ExternalAction"), required=True,
        description="Other states' actions read from their NDI files, rescinded ones "
                    "included (see each one's attachedBy).")
    record_ids = graphene.List(graphene.NonNull(graphene.ID), required=True,
                               description="This person's officer records: its own id and "
                                           "those merged into it.")
    identity_events = graphene.List(graphene.NonNull(IdentityEvent), required=True)
    source_records = graphene.List(graphene.NonNull(SourceRecord), required=True,
                                   description="POST staff and administrators only.")
    versions = graphene.List(graphene.NonNull(OfficerVersion), required=True)
    as_of = graphene.DateTime(description="Set when this is the record as held at that time.")
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)
    change_reason = graphene.String()

    @staticmethod
    def resolve_full_name(root: OfficerRow, _info: GraphQLResolveInfo) -> str:
        return " ".join(p for p in (root.first_name, root.middle_name, root.last_name,
                                    root.suffix) if p)

    @staticmethod
    def resolve_date_of_birth(root: OfficerRow, _info: GraphQLResolveInfo) -> Any:
        return _birth(root.birth_year, root.birth_month, root.birth_day)

    @staticmethod
    def resolve_as_of(root: Any, _info: GraphQLResolveInfo) -> Any:
        return root.at if isinstance(root, AsOf) else None

    @staticmethod
    def resolve_other_names(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        return loaded(ctx(info).loader(NamesByPerson), root.id, recorded_by(root))

    @staticmethod
    async def resolve_record_ids(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(RecordIdsByPerson).load(root.id)

    @staticmethod
    def resolve_certifications(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        if isinstance(root, AsOf):
            return _as_of_rows(info, root, CertificationRow)
        return loaded(ctx(info).loader(CertificationsByPerson), root.id)

    @staticmethod
    def resolve_stints(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        if isinstance(root, AsOf):
            return _as_of_rows(info, root, StintRow)
        return loaded(ctx(info).loader(StintsByPerson), root.id)

    @staticmethod
    async def resolve_findings(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        rows = await ctx(info).loader(FindingsByPerson).load(root.id)
        return [f for f in rows if visible(actor(info), f.agency_id)]

    @staticmethod
    async def resolve_convictions(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        rows = await ctx(info).loader(ConvictionsByPerson).load(root.id)
        return [c for c in rows if visible(actor(info), c.reported_by_agency_id)]

    @staticmethod
    async def resolve_cases(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        if actor(info).role not in (Role.POST_STAFF, Role.ADMIN, Role.BOARD_MEMBER):
            return []
        rows = await ctx(info).loader(CasesByPerson).load(root.id)
        if isinstance(root, AsOf):
            return [c for c in rows if c.opened_at <= root.at]
        return rows

    @staticmethod
    def resolve_decertification_actions(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        return loaded(ctx(info).loader(ActionsByPerson), root.id, recorded_by(root))

    @staticmethod
    async def resolve_external_actions(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        from registry.ndi.dataloaders import external_actions_of

        return await external_actions_of(info, root)

    @staticmethod
    async def resolve_identity_events(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(IdentityEventsByPerson).load(root.id)

    @staticmethod
    async def resolve_source_records(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        if actor(info).role not in (Role.POST_STAFF, Role.ADMIN):
            raise Forbidden("Source records are shown to POST staff and administrators only.")
        return await ctx(info).loader(SourceRecordsByPerson).load(root.id)

    @staticmethod
    async def resolve_versions(root: OfficerRow, info: GraphQLResolveInfo) -> Any:
        async with ctx(info).read() as session:
            return await versions(session, OfficerRow, root.id)


async def _as_of_rows(info: GraphQLResolveInfo, root: AsOf, model: type) -> list[AsOf]:
    record_ids = await ctx(info).loader(RecordIdsByPerson).load(root.id)
    async with ctx(info).read() as session:
        rows = await as_of(session, model, root.at, "officer_id", record_ids)
    return [AsOf(r, root.at) for r in rows]


class OfficerConnection(graphene.relay.Connection):
    class Meta:
        node = Officer


class OtherNameInput(graphene.InputObjectType):
    kind = graphene.InputField(enums.NameKind, required=True)
    last_name = graphene.String(required=True)
    first_name = graphene.String()
    middle_name = graphene.String()
    suffix = graphene.String()
    used_until = graphene.Date()


class SourceInput(graphene.InputObjectType):
    """The sending system's own record of the person: a retried registration with the same
    system and record id returns the officer registered the first time."""

    system = graphene.String(required=True, description="e.g. the department's RMS name")
    record_id = graphene.String(required=True)


class OfficerInput(graphene.InputObjectType):
    first_name = graphene.String(required=True)
    last_name = graphene.String(required=True)
    middle_name = graphene.String()
    suffix = graphene.String()
    date_of_birth = graphene.Field(PartialDate)
    post_id = graphene.String()
    sex = graphene.String(description="female, male, other or unknown")
    race = graphene.String()
    other_names = graphene.List(graphene.NonNull(OtherNameInput))
