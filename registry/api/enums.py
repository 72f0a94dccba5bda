"""GraphQL enums built from the domain's own enums, so the two cannot drift apart."""

from enum import Enum
from typing import Any

import graphene

from registry.agencies.models import AgencyType as _AgencyType
from registry.certifications.models import CertificationStatus as _Status
from registry.certifications.models import Discipline as _Discipline
from registry.certifications.models import Level as _Level
from registry.certifications.status import Move as _Move
from registry.employment.models import SeparationReason as _SeparationReason
from registry.keys.models import Role as _Role
from registry.officers.models import NameKind as _NameKind

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


def value(member: Any) -> Any:
    """The plain value behind a GraphQL enum argument (graphene passes enum members)."""
    while isinstance(member, Enum):
        member = member.value
    return member
