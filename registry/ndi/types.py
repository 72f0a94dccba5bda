"""GraphQL types of the NDI: submissions, exported records, other states' actions."""

from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api.context import ctx
from registry.api.scalars import PartialDate
from registry.dates import PartialDate as PartialDateValue
from registry.ndi import layout
from registry.ndi.service import Scope
from registry.officers.dataloaders import PersonById

NdiExportScope = graphene.Enum.from_enum(
    Scope, name="NdiExportScope",
    description="since_last: what no submission carried yet, and records changed since they "
                "were sent; all: every record that still means something to the NDI.")
NdiRecordType = graphene.Enum.from_enum(layout.RecordType, name="NdiRecordType",
                                        description="new, update or rescind.")
NdiActionType = graphene.Enum.from_enum(layout.ActionType, name="NdiActionType",
                                        description="The action a state reported to the NDI.")


class NdiField(graphene.ObjectType):
    column = graphene.String(required=True, description="The layout's column name.")
    value = graphene.String(required=True, description="As written in the file ('' = empty).")


class NdiRecord(graphene.ObjectType):
    """One record of an export, as written in the file."""

    record_id = graphene.String(required=True)
    record_type = graphene.Field(NdiRecordType, required=True)
    fields = graphene.List(graphene.NonNull(NdiField), required=True,
                           description="Every column of the layout, in file order.")

    @staticmethod
    def resolve_fields(root: Any, _info: GraphQLResolveInfo) -> Any:
        return [NdiField(column=c, value=v)
                for c, v in zip(layout.LAYOUT.header, root.fields, strict=True)]


class NdiSubmission(graphene.ObjectType):
    """One entry of the ledger of what was sent to the NDI."""

    id = graphene.ID(required=True)
    layout_version = graphene.String(required=True)
    scope = graphene.Field(NdiExportScope, required=True)
    file_name = graphene.String()
    file_sha256 = graphene.String(required=True)
    records = graphene.Int(required=True)
    new_records = graphene.Int(required=True)
    updates = graphene.Int(required=True)
    rescinds = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)


class NdiSubmissionConnection(graphene.relay.Connection):
    class Meta:
        node = NdiSubmission


class NdiExport(graphene.ObjectType):
    """What submitNdiExport sent: the submission, its records and the file itself."""

    id = graphene.ID(required=True, description="The submission's id.")
    submission = graphene.Field(NdiSubmission, required=True)
    columns = graphene.List(graphene.NonNull(graphene.String), required=True,
                            description="The layout's columns, in file order.")
    records = graphene.List(graphene.NonNull(NdiRecord), required=True)
    csv = graphene.String(required=True, description="The batch file (UTF-8 CSV, header "
                                                     "first) to upload to the NDI.")

    @staticmethod
    def resolve_columns(_root: Any, _info: GraphQLResolveInfo) -> Any:
        return list(layout.LAYOUT.header)


class ExternalAction(graphene.ObjectType):
    """An action another state reported to the NDI, read from its file (a pointer: call the
    verification contact for the facts)."""

    id = graphene.ID(required=True)
    contributing_state = graphene.String(required=True)
    record_id = graphene.String(required=True, description="The state's NDI record id.")
    record_type = graphene.Field(NdiRecordType, required=True,
                                 description="The type of the last record read.")
    action_type = graphene.Field(NdiActionType, required=True)
    action_date = graphene.Date(required=True)
    suspension_start = graphene.Date()
    suspension_end = graphene.Date()
    reason_category = graphene.String(description="The NDI's general reason category.")
    rescinded = graphene.Boolean(required=True,
                                 description="The state took the record back.")
    certificate_number = graphene.String(description="The state's certificate number.")
    certifying_authority = graphene.String()
    verification_contact = graphene.String()
    reported_name = graphene.String(required=True, description="The name as the state wrote "
                                                               "it.")
    reported_date_of_birth = graphene.Field(PartialDate)
    attached_by = graphene.String(
        required=True, description="How the record was attached to this person: certificate, "
                                   "name_and_birth_date, or new_person (nobody matched).")
    match_score = graphene.Float()
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_reported_name(root: Any, _info: GraphQLResolveInfo) -> str:
        return " ".join(p for p in (root.first_name, root.middle_name, root.last_name,
                                    root.suffix) if p)

    @staticmethod
    def resolve_reported_date_of_birth(root: Any, _info: GraphQLResolveInfo) -> Any:
        if root.birth_year is None:
            return None
        return PartialDateValue(root.birth_year, root.birth_month, root.birth_day)

    @staticmethod
    async def resolve_officer(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)
