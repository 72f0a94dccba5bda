"""Public types: built apart from the private ones, so a private field cannot leak into the
public schema by being added to a shared type. Only what state law makes public is here
(registry/transparency/repository.py says what and why). Resolvers read plain dicts that
the public SQL returns, and batch what they load per request."""

from collections.abc import Hashable
from enum import StrEnum
from typing import Any

import graphene
from graphene.utils.dataloader import DataLoader
from graphql import GraphQLResolveInfo

from registry.agencies.models import AgencyType as _AgencyType
from registry.certifications.models import CertificationStatus as _Status
from registry.certifications.models import Discipline as _Discipline
from registry.certifications.models import Level as _Level
from registry.findings.models import Category as _Category
from registry.findings.models import DisciplineImposed as _DisciplineImposed
from registry.referrals.grounds import NDI_CATEGORIES, load_grounds
from registry.transparency import repository
from registry.transparency.context import PublicContext
from registry.transparency.execution import prefetched


class _NameKind(StrEnum):
    CURRENT = "current"
    PRIOR = "prior"
    MAIDEN = "maiden"


class _Outcome(StrEnum):
    """The board's actions on a certification (a case's outcome without NO_ACTION)."""

    REVOCATION = "revocation"
    SUSPENSION = "suspension"
    SURRENDER = "surrender"
    DENIAL = "denial"


class _Change(StrEnum):
    ISSUED = "issued"
    REACTIVATED = "reactivated"
    INACTIVATED = "inactivated"
    LAPSED = "lapsed"
    SUSPENDED = "suspended"
    SUSPENSION_ENDED = "suspension_ended"
    REVOKED = "revoked"
    SURRENDERED = "surrendered"
    DENIED = "denied"
    REINSTATED = "reinstated"
    RESTORED_ON_APPEAL = "restored_on_appeal"


class _Appeal(StrEnum):
    UPHELD = "upheld"
    OVERTURNED = "overturned"


_GroundCategory = StrEnum(  # type: ignore[misc]
    "_GroundCategory", {c.upper(): c for c in (*NDI_CATEGORIES, repository.NOT_RECORDED)})

AgencyType = graphene.Enum.from_enum(_AgencyType, name="AgencyType",
                                     description="What kind of agency it is.")
CertificationStatus = graphene.Enum.from_enum(
    _Status, name="CertificationStatus",
    description="A certification's status: ACTIVE and REINSTATED may serve; SUSPENDED until a "
                "date; REVOKED, SURRENDERED and DENIED by the board; INACTIVE and LAPSED "
                "when not serving.")
CertificationDiscipline = graphene.Enum.from_enum(
    _Discipline, name="CertificationDiscipline",
    description="What the certification qualifies for (law enforcement, corrections...).")
CertificationLevel = graphene.Enum.from_enum(_Level, name="CertificationLevel",
                                             description="The certification's level.")
NameKind = graphene.Enum.from_enum(_NameKind, name="NameKind",
                                   description="Which of the officer's public names it is.")
DecertificationOutcome = graphene.Enum.from_enum(
    _Outcome, name="DecertificationOutcome", description="What the board ordered.")
StatusChange = graphene.Enum.from_enum(
    _Change, name="StatusChange",
    description="What changed the status: a move of the registry, or a suspension that ended "
                "on its end date.")
AppealOutcome = graphene.Enum.from_enum(_Appeal, name="AppealOutcome",
                                        description="How a court decided the appeal.")
GroundCategory = graphene.Enum.from_enum(
    _GroundCategory, name="GroundCategory",
    description="The general category of a statutory ground (the NDI's reason categories); "
                "NOT_RECORDED for actions the registry holds without their grounds.")
AllegationCategory = graphene.Enum.from_enum(
    _Category, name="AllegationCategory", description="What the misconduct was about.")
DisciplineImposed = graphene.Enum.from_enum(
    _DisciplineImposed, name="DisciplineImposed",
    description="The discipline the agency imposed.")


# --- per-request batch loaders ---------------------------------------------------------------


class PublicLoader(DataLoader):
    """``fetch(context, keys) -> {key: value}``; keys left out get []."""

    def __init__(self, context: PublicContext) -> None:
        super().__init__()
        self.context = context

    async def batch_load_fn(self, keys: list[Hashable]) -> list[Any]:
        found = await self.fetch(self.context, list(keys))
        return [found.get(k, []) for k in keys]

    async def fetch(self, c: PublicContext, keys: list[Any]) -> dict[Any, Any]:
        raise NotImplementedError


class OtherNamesByPerson(PublicLoader):
    async def fetch(self, c: PublicContext, keys: list[Any]) -> dict[Any, Any]:
        async with c.db() as conn:
            return await repository.other_names(conn, keys)


class HeadlineByPerson(PublicLoader):
    async def fetch(self, c: PublicContext, keys: list[Any]) -> dict[Any, Any]:
        async with c.db() as conn:
            return await repository.headlines(conn, keys, today=c.today,
                                              state=c.settings.state)


class CertificationsByPerson(PublicLoader):
    async def fetch(self, c: PublicContext, keys: list[Any]) -> dict[Any, Any]:
        async with c.db() as conn:
            return await repository.certifications(conn, keys, today=c.today,
                                                   state=c.settings.state)


class HistoryByCertification(PublicLoader):
    async def fetch(self, c: PublicContext, keys: list[Any]) -> dict[Any, Any]:
        async with c.db() as conn:
            return await repository.status_histories(conn, keys, today=c.today)


class EmploymentByPerson(PublicLoader):
    async def fetch(self, c: PublicContext, keys: list[Any]) -> dict[Any, Any]:
        if not c.settings.public_employment:
            return {}
        async with c.db() as conn:
            return await repository.employment(conn, keys)


class FindingsByPerson(PublicLoader):
    async def fetch(self, c: PublicContext, keys: list[Any]) -> dict[Any, Any]:
        async with c.db() as conn:
            return await repository.findings(conn, keys)


class ActionsByPerson(PublicLoader):
    async def fetch(self, c: PublicContext, keys: list[Any]) -> dict[Any, Any]:
        async with c.db() as conn:
            return await repository.actions_of_people(conn, keys, state=c.settings.state,
                                                      grounds=c.grounds())


def _load(info: GraphQLResolveInfo, loader: type[PublicLoader], key: Any) -> Any:
    return info.context.loader(loader).load(key)


# --- types -----------------------------------------------------------------------------------


class PublicAgency(graphene.ObjectType):
    class Meta:
        name = "Agency"

    state = graphene.String(required=True)
    ori = graphene.String(description="The agency's NCIC originating agency identifier.")
    name = graphene.String(required=True)
    agency_type = graphene.Field(AgencyType, required=True)


class PublicAgencyConnection(graphene.relay.Connection):
    class Meta:
        name = "AgencyConnection"
        node = PublicAgency


class OtherName(graphene.ObjectType):
    """A name the officer served under before: a maiden or prior name."""

    kind = graphene.Field(NameKind, required=True)
    first_name = graphene.String(required=True)
    middle_name = graphene.String()
    last_name = graphene.String(required=True)
    suffix = graphene.String()
    full_name = graphene.String(required=True)


class CertificationStatusChange(graphene.ObjectType):
    change = graphene.Field(StatusChange, required=True)
    status = graphene.Field(CertificationStatus, required=True,
                            description="The status from this date.")
    previous_status = graphene.Field(CertificationStatus)
    effective_on = graphene.Date(required=True)
    until = graphene.Date(description="The end date of a suspension.")


class PublicCertification(graphene.ObjectType):
    class Meta:
        name = "Certification"

    state = graphene.String(required=True)
    discipline = graphene.Field(CertificationDiscipline, required=True)
    level = graphene.Field(CertificationLevel, required=True)
    issued_on = graphene.Date(required=True)
    expires_on = graphene.Date()
    status = graphene.Field(CertificationStatus, required=True,
                            description="The status in effect today: a suspension whose end "
                                        "date has come shows the status it interrupted.")
    status_since = graphene.Date(required=True)
    suspended_until = graphene.Date(description="Set while a suspension is in effect.")
    history = graphene.List(graphene.NonNull(CertificationStatusChange), required=True,
                            description="Every change of status, oldest first.")

    @staticmethod
    def resolve_history(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        return _load(info, HistoryByCertification, root["id"])


class Service(graphene.ObjectType):
    """Years served at one agency (empty where the state does not make employment public)."""

    agency = graphene.Field(PublicAgency, required=True)
    from_year = graphene.Int(required=True)
    to_year = graphene.Int(description="Null while the officer serves there.")


class SustainedFinding(graphene.ObjectType):
    """A misconduct finding the agency sustained and that the law makes public."""

    category = graphene.Field(AllegationCategory, required=True)
    year = graphene.Int(required=True, description="The year of the incident.")
    discipline = graphene.Field(DisciplineImposed)
    suspension_days = graphene.Int()


class Ground(graphene.ObjectType):
    """A statutory ground for decertification, as the state's law words it."""

    category = graphene.Field(GroundCategory, required=True)
    title = graphene.String(required=True)
    statute = graphene.String(required=True)


class VoteTally(graphene.ObjectType):
    """How the board voted on the final order (counts only)."""

    yes = graphene.Int(required=True)
    no = graphene.Int(required=True)
    abstain = graphene.Int(required=True)
    recused = graphene.Int(required=True)


class Decertification(graphene.ObjectType):
    """A board action: a final order of revocation, suspension, voluntary surrender or
    denial of a certification."""

    officer = graphene.Field("registry.transparency.types.PublicOfficer", required=True)
    effective_on = graphene.Date(required=True)
    outcome = graphene.Field(DecertificationOutcome, required=True)
    suspended_until = graphene.Date()
    ground_categories = graphene.List(graphene.NonNull(GroundCategory), required=True)
    grounds = graphene.List(graphene.NonNull(Ground), required=True,
                            description="The statutory grounds of the order, where recorded.")
    final_order_text = graphene.String(description="The public text of the final order.")
    vote_tally = graphene.Field(VoteTally)
    appeal_outcome = graphene.Field(AppealOutcome)
    appeal_decided_on = graphene.Date()
    reinstated_on = graphene.Date()
    agency = graphene.Field(PublicAgency, description="Where the officer served when the order "
                                                      "took effect (where employment is "
                                                      "public).")

    @staticmethod
    def resolve_officer(root: dict[str, Any], _info: GraphQLResolveInfo) -> Any:
        return root["officer"]

    @staticmethod
    def resolve_suspended_until(root: dict[str, Any], _info: GraphQLResolveInfo) -> Any:
        return root["until_on"] if root["outcome"] == "suspension" else None

    @staticmethod
    def resolve_ground_categories(root: dict[str, Any], _info: GraphQLResolveInfo) -> Any:
        return root["categories"]

    @staticmethod
    def resolve_grounds(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        known = load_grounds(info.context.settings)
        return [g for g in (known.get(code) for code in root["grounds"]) if g is not None]

    @staticmethod
    def resolve_final_order_text(root: dict[str, Any], _info: GraphQLResolveInfo) -> Any:
        return root["public_text"]

    @staticmethod
    def resolve_vote_tally(root: dict[str, Any], _info: GraphQLResolveInfo) -> Any:
        return root["tally"]

    @staticmethod
    def resolve_appeal_outcome(root: dict[str, Any], _info: GraphQLResolveInfo) -> Any:
        return root["appeal"]

    @staticmethod
    def resolve_agency(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        return root["agency"] if info.context.settings.public_employment else None


class PublicOfficer(graphene.ObjectType):
    class Meta:
        name = "Officer"

    public_id = graphene.ID(required=True, description="The officer's opaque public id.")
    first_name = graphene.String(required=True)
    middle_name = graphene.String()
    last_name = graphene.String(required=True)
    suffix = graphene.String()
    full_name = graphene.String(required=True)
    other_names = graphene.List(graphene.NonNull(OtherName), required=True,
                                description="Maiden and prior names.")
    status = graphene.Field(
        CertificationStatus,
        description="The officer's certification status in this state today: of several "
                    "certifications, the first held of REVOKED, SURRENDERED, DENIED, "
                    "SUSPENDED, ACTIVE, REINSTATED, INACTIVE, LAPSED. Null if never "
                    "certified here.")
    certifications = graphene.List(graphene.NonNull(PublicCertification), required=True,
                                   description="Certifications this state issued.")
    employment = graphene.List(graphene.NonNull(Service), required=True,
                               description="Agencies and years served, where the state makes "
                                           "employment public (Registry.employmentPublic).")
    decertifications = graphene.List(graphene.NonNull(Decertification), required=True,
                                     description="The board's actions, oldest first.")
    findings = graphene.List(graphene.NonNull(SustainedFinding), required=True,
                             description="Sustained misconduct findings the law makes "
                                         "public.")

    @staticmethod
    @prefetched("other_names")
    def resolve_other_names(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        if "other_names" in root:
            return root["other_names"]
        return _load(info, OtherNamesByPerson, root["id"])

    @staticmethod
    @prefetched("status")
    def resolve_status(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        if "status" in root:
            return root["status"]
        return info.context.loader(HeadlineByPerson).load(root["id"])

    @staticmethod
    def resolve_certifications(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        return _load(info, CertificationsByPerson, root["id"])

    @staticmethod
    def resolve_employment(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        return _load(info, EmploymentByPerson, root["id"])

    @staticmethod
    def resolve_decertifications(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        return _load(info, ActionsByPerson, root["id"])

    @staticmethod
    def resolve_findings(root: dict[str, Any], info: GraphQLResolveInfo) -> Any:
        return _load(info, FindingsByPerson, root["id"])


class PublicOfficerConnection(graphene.relay.Connection):
    class Meta:
        name = "OfficerConnection"
        node = PublicOfficer


class OfficerSearchEdge(graphene.ObjectType):
    node = graphene.Field(PublicOfficer, required=True)
    cursor = graphene.String(required=True)

    @staticmethod
    def resolve_cursor(root: dict[str, Any], _info: GraphQLResolveInfo) -> str:
        from registry.transparency.schema import search_cursor

        if not root["row"]["last_key"]:
            return ""  # a result of the spelling fallback: one page, nothing after it
        return search_cursor(root["row"])
    score = graphene.Float(required=True,
                           description="How well the name matched, 0 to 1 (1: exactly).")
    matched_name = graphene.Field(NameKind, required=True,
                                  description="Which of the officer's names matched best.")


class OfficerSearchConnection(graphene.ObjectType):
    page_info = graphene.Field(graphene.relay.PageInfo, required=True)
    edges = graphene.List(graphene.NonNull(OfficerSearchEdge), required=True)


class DecertificationEdge(graphene.ObjectType):
    node = graphene.Field(Decertification, required=True)
    cursor = graphene.String(required=True)


class DecertificationConnection(graphene.ObjectType):
    page_info = graphene.Field(graphene.relay.PageInfo, required=True)
    edges = graphene.List(graphene.NonNull(DecertificationEdge), required=True)


class GroundCount(graphene.ObjectType):
    category = graphene.Field(GroundCategory, required=True)
    count = graphene.Int(required=True)


class DecertificationYear(graphene.ObjectType):
    year = graphene.Int(required=True)
    total = graphene.Int(required=True, description="Actions in force that took effect that "
                                                    "year (an order overturned on appeal is "
                                                    "not counted).")
    by_ground = graphene.List(graphene.NonNull(GroundCount), required=True,
                              description="Per ground category; an action on grounds of "
                                          "several categories counts in each.")


class AgencyCount(graphene.ObjectType):
    agency = graphene.Field(PublicAgency, description="Null: no employment on record then.")
    count = graphene.Int(required=True)


class RegistryInfo(graphene.ObjectType):
    state = graphene.String(required=True)
    board_name = graphene.String(required=True)
    data_as_of = graphene.DateTime(description="When the registry last recorded a change.")
    employment_public = graphene.Boolean(required=True,
                                         description="Whether employment is public here.")
    grounds = graphene.List(graphene.NonNull(Ground), required=True,
                            description="The statutory grounds for decertification.")
