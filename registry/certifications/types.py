from datetime import date
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import ctx
from registry.api.loaders import loaded, settled
from registry.certifications.dataloaders import StatusEventsByCertification
from registry.certifications.models import Certification as CertificationRow
from registry.certifications.models import CertificationStatus as Status
from registry.certifications.status import allowed_moves, effective_status, status_on
from registry.officers.dataloaders import PersonById
from registry.versioning import AsOf, recorded_by


class CertificationStatusEvent(graphene.ObjectType):
    """One dated entry of a certification's status history."""

    action = graphene.String(required=True, description="issue, renew, or the status move.")
    from_status = graphene.Field(enums.CertificationStatus)
    to_status = graphene.Field(enums.CertificationStatus, required=True)
    effective_on = graphene.Date(required=True)
    until_on = graphene.Date(description="End of a suspension.")
    expires_on = graphene.Date(description="Expiry set by an issue or renewal.")
    reason = graphene.String()
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)


class Certification(graphene.ObjectType):
    id = graphene.ID(required=True)
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    state = graphene.String(required=True)
    number = graphene.String(required=True, description="Certificate number in its state.")
    issuing_board = graphene.String(required=True)
    discipline = graphene.Field(enums.CertificationDiscipline, required=True)
    level = graphene.Field(enums.CertificationLevel, required=True)
    issued_on = graphene.Date(required=True)
    expires_on = graphene.Date()
    status = graphene.Field(enums.CertificationStatus, required=True,
                            description="The status in effect today: a suspension whose end "
                                        "date has come shows the status it interrupted.")
    status_since = graphene.Date(required=True)
    suspended_until = graphene.Date()
    status_on = graphene.Field(
        enums.CertificationStatus, date=graphene.Date(required=True),
        description="The status in effect on a date (null before issue); a suspension ends "
                    "by itself on its end date.")
    allowed_moves = graphene.List(graphene.NonNull(enums.CertificationMove), required=True,
                                  description="Moves the state machine allows from the status.")
    history = graphene.List(graphene.NonNull(CertificationStatusEvent), required=True)
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)

    @staticmethod
    async def resolve_officer(root: CertificationRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)

    @staticmethod
    def resolve_history(root: CertificationRow, info: GraphQLResolveInfo) -> Any:
        return loaded(ctx(info).loader(StatusEventsByCertification), root.id,
                      recorded_by(root))

    @staticmethod
    def resolve_status_on(root: CertificationRow, info: GraphQLResolveInfo, date: date) -> Any:
        return settled(Certification.resolve_history(root, info), lambda events: status_on(
            [(e.effective_on, Status(e.to_status), Status(e.from_status) if e.from_status
              else None, e.until_on) for e in events], date))

    @staticmethod
    def resolve_status(root: CertificationRow, info: GraphQLResolveInfo) -> Any:
        return _status_today(root, info)

    @staticmethod
    def resolve_allowed_moves(root: CertificationRow, info: GraphQLResolveInfo) -> Any:
        return settled(_status_today(root, info), allowed_moves)


def _status_today(root: CertificationRow, info: GraphQLResolveInfo) -> Any:
    """The recorded status, unless a suspension has ended by itself (as of ``root.at`` for a
    record read as of a time); a Status, or an awaitable of one when the history is still
    to be read."""
    status = Status(root.status)
    if status is not Status.SUSPENDED or root.suspended_until is None:
        return status
    day = root.at.date() if isinstance(root, AsOf) else date.today()

    def effective(events: list[Any]) -> Status:
        suspensions = [e for e in events if e.to_status == Status.SUSPENDED.value]
        before = suspensions[-1].from_status if suspensions else None
        return effective_status(status, root.suspended_until, day,
                                Status(before) if before else None)

    return settled(Certification.resolve_history(root, info), effective)


class IssueCertificationInput(graphene.InputObjectType):
    officer_id = graphene.ID(required=True)
    number = graphene.String(required=True)
    discipline = graphene.InputField(enums.CertificationDiscipline, required=True)
    level = graphene.InputField(enums.CertificationLevel, required=True)
    issued_on = graphene.Date(required=True)
    expires_on = graphene.Date()
    state = graphene.String(description="Defaults to the registry's state.")
    issuing_board = graphene.String(description="Defaults to the registry's board.")
