import uuid
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.agencies.dataloaders import AgencyById
from registry.agencies.types import Agency
from registry.api.context import actor, ctx
from registry.api.loaders import loaded
from registry.background_checks import matching
from registry.background_checks.dataloaders import FlagsByPerson, ReportedPerson
from registry.background_checks.service import Purpose, finding_visible_in_check
from registry.cases.dataloaders import CasesByPerson
from registry.findings.dataloaders import ConvictionsByPerson, FindingsByPerson
from registry.keys.models import Role
from registry.officers.dataloaders import PersonById
from registry.officers.types import Officer

CheckPurpose = graphene.Enum.from_enum(
    Purpose, name="CheckPurpose", description="Why a background check is run (logged).")
MatchEvidence = graphene.Enum.from_enum(
    matching.Evidence, name="MatchEvidence", description="Which piece of evidence matched.")
MatchMethod = graphene.Enum.from_enum(
    matching.Method, name="MatchMethod", description="How it matched.")

# Cases an agency sees in a check: decided ones (the final order is a public fact); an open
# case shows only as a flag, since the board has not decided it.
DECIDED = frozenset({"final_order", "appealed", "closed"})


class CertificateNumberInput(graphene.InputObjectType):
    state = graphene.String(required=True, description="Two-letter code of the issuing state.")
    number = graphene.String(required=True)


class CandidateInput(graphene.InputObjectType):
    """The candidate as written on the application."""

    first_name = graphene.String(required=True)
    middle_name = graphene.String()
    last_name = graphene.String(required=True)
    suffix = graphene.String()
    prior_names = graphene.List(graphene.NonNull(graphene.String),
                                description="Full names used before (maiden, prior married).")
    date_of_birth = graphene.String(description="YYYY-MM-DD, or YYYY-MM / YYYY when partial.")
    certificate_numbers = graphene.List(graphene.NonNull(CertificateNumberInput))


class MatchReason(graphene.ObjectType):
    evidence = graphene.Field(MatchEvidence, required=True)
    method = graphene.Field(MatchMethod, required=True)
    detail = graphene.String(required=True)


class OfficerFlags(graphene.ObjectType):
    """What an investigator must not miss."""

    decertified_anywhere = graphene.Boolean(
        required=True, description="A certification in any state is revoked or surrendered.")
    terminated = graphene.Boolean(required=True,
                                  description="Terminated, or resigned in lieu of termination.")
    resigned_under_investigation = graphene.Boolean(
        required=True, description="Resigned or retired while under investigation.")
    open_case = graphene.Boolean(required=True,
                                 description="A decertification case is before the board.")
    sustained_finding = graphene.Boolean(required=True,
                                         description="A misconduct finding was sustained.")

    @staticmethod
    def resolve_decertified_anywhere(root: Any, _info: GraphQLResolveInfo) -> bool:
        return root.decertified

    @staticmethod
    def resolve_resigned_under_investigation(root: Any, _info: GraphQLResolveInfo) -> bool:
        return root.under_investigation


class CheckedOfficer(Officer):
    """A person as a background check reports them: the full record, with the sustained and
    pending findings of every agency, decided cases and the flags."""

    flags = graphene.Field(OfficerFlags, required=True)

    @staticmethod
    def resolve_flags(root: Any, info: GraphQLResolveInfo) -> Any:
        return loaded(ctx(info).loader(FlagsByPerson), root.id)

    @staticmethod
    def resolve_findings(root: Any, info: GraphQLResolveInfo) -> Any:
        who = actor(info)
        return loaded(ctx(info).loader(FindingsByPerson), root.id, lambda rows: [
            f for f in rows if finding_visible_in_check(who, f.agency_id, f.final_disposition)])

    @staticmethod
    def resolve_convictions(root: Any, info: GraphQLResolveInfo) -> Any:
        # Convictions are court records: every check shows them.
        return loaded(ctx(info).loader(ConvictionsByPerson), root.id)

    @staticmethod
    def resolve_cases(root: Any, info: GraphQLResolveInfo) -> Any:
        decided_only = actor(info).role is Role.AGENCY
        return loaded(ctx(info).loader(CasesByPerson), root.id,
                      (lambda rows: [c for c in rows if c.status in DECIDED]) if decided_only
                      else None)


class BackgroundCheckMatch(graphene.ObjectType):
    rank = graphene.Int(required=True, description="1 is the best match.")
    score = graphene.Float(required=True, description="0..1; see the README's scoring table.")
    reasons = graphene.List(graphene.NonNull(MatchReason), required=True)
    officer = graphene.Field(CheckedOfficer, required=True)

    @staticmethod
    def resolve_reasons(root: dict, _info: GraphQLResolveInfo) -> Any:
        return matching.explain(root["match"])

    @staticmethod
    def resolve_officer(root: dict, info: GraphQLResolveInfo) -> Any:
        return loaded(ctx(info).loader(ReportedPerson), root["match"].officer_id)


class BackgroundCheckResult(graphene.ObjectType):
    check_id = graphene.ID(required=True)
    purpose = graphene.Field(CheckPurpose, required=True)
    run_at = graphene.DateTime(required=True)
    threshold = graphene.Float(required=True, description="Matches below it are not listed.")
    matches = graphene.List(graphene.NonNull(BackgroundCheckMatch), required=True,
                            description="Best first.")
    report_url = graphene.String(required=True,
                                 description="The printable report (same key).")

    @staticmethod
    def resolve_report_url(root: Any, _info: GraphQLResolveInfo) -> str:
        return f"/reports/background-checks/{root.check_id}"


class CheckedCandidate(graphene.ObjectType):
    """The candidate as entered."""

    first_name = graphene.String(required=True)
    middle_name = graphene.String()
    last_name = graphene.String(required=True)
    suffix = graphene.String()
    prior_names = graphene.List(graphene.NonNull(graphene.String), required=True)
    date_of_birth = graphene.String()


class BackgroundCheckHit(graphene.ObjectType):
    rank = graphene.Int(required=True)
    score = graphene.Float(required=True)
    officer = graphene.Field(Officer, required=True)

    @staticmethod
    async def resolve_officer(root: dict, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(uuid.UUID(root["officer_id"]))


class BackgroundCheck(graphene.ObjectType):
    """A check as it was run (the audit trail's view)."""

    id = graphene.ID(required=True)
    purpose = graphene.Field(CheckPurpose, required=True)
    run_at = graphene.DateTime(required=True)
    actor = graphene.String(required=True, description="The name of the key that ran it.")
    agency = graphene.Field(Agency)
    input_hash = graphene.String(required=True, description="SHA-256 of the input.")
    candidate = graphene.Field(CheckedCandidate, required=True)
    matches = graphene.List(graphene.NonNull(BackgroundCheckHit), required=True)

    @staticmethod
    async def resolve_agency(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(AgencyById).load(root.agency_id) if root.agency_id else None

    @staticmethod
    def resolve_candidate(root: Any, _info: GraphQLResolveInfo) -> Any:
        return root.candidate

    @staticmethod
    def resolve_matches(root: Any, _info: GraphQLResolveInfo) -> Any:
        return [{"rank": i, **m} for i, m in enumerate(root.matches, start=1)]


class BackgroundCheckConnection(graphene.relay.Connection):
    class Meta:
        node = BackgroundCheck
