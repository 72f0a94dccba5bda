import asyncio
import uuid
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import ctx
from registry.employment.types import Stint
from registry.findings.dataloaders import ConvictionById, FindingById
from registry.findings.models import Conviction as ConvictionRow
from registry.findings.models import Finding as FindingRow
from registry.findings.types import Conviction, Finding
from registry.officers.dataloaders import PersonById
from registry.referrals.dataloaders import StintById
from registry.referrals.grounds import Ground as GroundConfig
from registry.referrals.grounds import load_grounds
from registry.referrals.models import Referral as ReferralRow


class Ground(graphene.ObjectType):
    """A statutory ground for referral, as the grounds file defines it."""

    code = graphene.String(required=True)
    title = graphene.String(required=True)
    statute = graphene.String(required=True, description="The citation.")
    category = graphene.String(required=True,
                               description="The NDI general reason category.")
    rule = graphene.String(description="How the ground is detected (null when the ground "
                                       "is no longer configured).")
    parameters = graphene.JSONString(description="The rule's settings.")

    @staticmethod
    def resolve_parameters(root: GroundConfig, _info: GraphQLResolveInfo) -> Any:
        return root.parameters() if root.rule else None


class Evidence(graphene.Union):
    """A record that shows a ground is met."""

    class Meta:
        types = (Finding, Stint, Conviction)

    @classmethod
    def resolve_type(cls, instance: Any, info: GraphQLResolveInfo) -> Any:
        if isinstance(instance, FindingRow):
            return Finding
        if isinstance(instance, ConvictionRow):
            return Conviction
        return Stint


_LOADERS = {"finding": FindingById, "stint": StintById, "conviction": ConvictionById}


class Referral(graphene.ObjectType):
    """An officer who meets a statutory ground, waiting for POST staff."""

    id = graphene.ID(required=True)
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    ground = graphene.Field(Ground, required=True)
    evidence = graphene.List(graphene.NonNull(Evidence), required=True,
                             description="The findings, stints and convictions behind it.")
    status = graphene.Field(enums.ReferralStatus, required=True)
    detected_at = graphene.DateTime(required=True)
    updated_at = graphene.DateTime(required=True)
    case_id = graphene.ID()
    dismissed_reason = graphene.String()
    decided_by = graphene.String()
    decided_at = graphene.DateTime()

    @staticmethod
    async def resolve_officer(root: ReferralRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)

    @staticmethod
    def resolve_ground(root: ReferralRow, info: GraphQLResolveInfo) -> Any:
        ground = load_grounds(ctx(info).settings).get(root.ground)
        return ground or GroundConfig(code=root.ground, title=root.ground,
                                      statute="(no longer configured)", category="other",
                                      rule="")

    @staticmethod
    async def resolve_evidence(root: ReferralRow, info: GraphQLResolveInfo) -> Any:
        rows = await asyncio.gather(*(ctx(info).loader(_LOADERS[e["kind"]]).load(
            uuid.UUID(e["id"])) for e in root.evidence))
        return [r for r in rows if r is not None]


class ReferralConnection(graphene.relay.Connection):
    class Meta:
        node = Referral


class ReevaluationResult(graphene.ObjectType):
    opened = graphene.Int(required=True, description="New open referrals.")
    updated = graphene.Int(required=True, description="Open referrals whose evidence changed.")
    closed = graphene.Int(required=True, description="Open referrals dismissed because the "
                                                     "ground is no longer met.")
    id = graphene.ID(required=True, description="This run's id (the audit event's entity).")
    grounds_file = graphene.String(required=True)
