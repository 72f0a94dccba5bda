"""GraphQL enums built from the domain's own enums, so the two cannot drift apart."""

from enum import Enum
from typing import Any

import graphene

from registry.agencies.models import AgencyType as _AgencyType
from registry.cases import models as _cases
from registry.cases.status import CaseMove as _CaseMove
from registry.certifications.models import CertificationStatus as _Status
from registry.certifications.models import Discipline as _Discipline
from registry.certifications.models import Level as _Level
from registry.certifications.status import Move as _Move
from registry.employment.models import SeparationReason as _SeparationReason
from registry.findings.models import Category as _Category
from registry.findings.models import DisciplineImposed as _DisciplineImposed
from registry.findings.models import Disposition as _Disposition
from registry.findings.models import OffenseLevel as _OffenseLevel
from registry.keys.models import Role as _Role
from registry.officers.models import NameKind as _NameKind
from registry.referrals.models import EvidenceKind as _EvidenceKind
from registry.referrals.models import ReferralStatus as _ReferralStatus

AgencyType = graphene.Enum.from_enum(_AgencyType, name="AgencyType",
                                     description="What kind of agency it is.")
CertificationStatus = graphene.Enum.from_enum(
    _Status, name="CertificationStatus",
    description="Status of a certification; moves between them follow the state machine.")
CertificationDiscipline = graphene.Enum.from_enum(
    _Discipline, name="CertificationDiscipline",
    description="What the certification qualifies for (law enforcement, corrections...).")
CertificationLevel = graphene.Enum.from_enum(_Level, name="CertificationLevel",
                                             description="The certification's level.")
CertificationMove = graphene.Enum.from_enum(
    _Move, name="CertificationMove",
    description="A status move. lapse, inactivate and reactivate are administrative; the "
                "others come only from a board's final order.")
SeparationReason = graphene.Enum.from_enum(_SeparationReason, name="SeparationReason",
                                           description="Why an employment stint ended.")
NameKind = graphene.Enum.from_enum(_NameKind, name="NameKind",
                                   description="How another name of the person was used.")
Role = graphene.Enum.from_enum(_Role, name="Role", description="What an API key may do.")
AllegationCategory = graphene.Enum.from_enum(
    _Category, name="AllegationCategory", description="What a misconduct allegation was about.")
Disposition = graphene.Enum.from_enum(
    _Disposition, name="Disposition", description="The outcome of a misconduct investigation.")
DisciplineImposed = graphene.Enum.from_enum(
    _DisciplineImposed, name="DisciplineImposed",
    description="The discipline an agency imposed on a finding.")
OffenseLevel = graphene.Enum.from_enum(_OffenseLevel, name="OffenseLevel",
                                       description="Felony or misdemeanor.")
ReferralStatus = graphene.Enum.from_enum(
    _ReferralStatus, name="ReferralStatus",
    description="open (in the queue), case_opened (a case took it up) or dismissed.")
EvidenceKind = graphene.Enum.from_enum(_EvidenceKind, name="EvidenceKind",
                                       description="What kind of record a piece of evidence is.")

CaseStatus = graphene.Enum.from_enum(
    _cases.CaseStatus, name="CaseStatus",
    description="Where a decertification case stands; moves follow the case state machine.")
CaseMove = graphene.Enum.from_enum(
    _CaseMove, name="CaseMove",
    description="A move of a case. review and close are made with moveCase; the others by "
                "their own mutations.")
BoardSeat = graphene.Enum.from_enum(_cases.Seat, name="BoardSeat",
                                    description="The seat a board member holds.")
VoteChoice = graphene.Enum.from_enum(
    _cases.VoteChoice, name="VoteChoice",
    description="A member's vote; a recused member is not present for the quorum.")
CaseOutcome = graphene.Enum.from_enum(_cases.Outcome, name="CaseOutcome",
                                      description="What a final order decides.")
AppealStatus = graphene.Enum.from_enum(_cases.AppealStatus, name="AppealStatus",
                                       description="pending, upheld or overturned.")
DecertificationActionKind = graphene.Enum.from_enum(
    _cases.ActionKind, name="DecertificationActionKind",
    description="What put an entry in the NDI export: a final order, an appeal decision or "
                "a reinstatement.")


def value(member: Any) -> Any:
    """The plain value behind a GraphQL enum argument (graphene passes enum members)."""
    while isinstance(member, Enum):
        member = member.value
    return member
