"""GraphQL root fields of this domain; thin over the service."""

import uuid
from datetime import datetime
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.relay import connection, decode_cursor, page_size, uuid_arg
from registry.referrals import service
from registry.referrals.types import Ground, ReevaluationResult, Referral, ReferralConnection


class ReferralQueries(graphene.ObjectType):
    referrals = graphene.Field(
        ReferralConnection, required=True, status=enums.ReferralStatus(),
        first=graphene.Int(), after=graphene.String(),
        description="The referral queue, oldest first (POST staff and administrators).")
    referral = graphene.Field(Referral, id=graphene.ID(required=True))
    grounds = graphene.List(graphene.NonNull(Ground), required=True,
                            description="The statutory grounds in force (the loaded grounds "
                                        "file).")

    @staticmethod
    async def resolve_referrals(_root: Any, info: GraphQLResolveInfo, status: Any = None,
                                first: int | None = None, after: str | None = None) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        position = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        async with c.read() as session:
            rows = await service.queue(session=session, actor=actor(info),
                                       status=enums.value(status) if status else None,
                                       limit=limit + 1, after=position)  # type: ignore[arg-type]
        return connection(ReferralConnection, rows, limit,
                          lambda r: (r.detected_at.isoformat(), r.id))

    @staticmethod
    async def resolve_referral(_root: Any, info: GraphQLResolveInfo, id: str) -> Any:
        async with ctx(info).read() as session:
            return await service.get(session=session, actor=actor(info),
                                     referral_id=uuid_arg(id, "id"))

    @staticmethod
    def resolve_grounds(_root: Any, info: GraphQLResolveInfo) -> Any:
        return service.grounds(actor=actor(info), settings=ctx(info).settings).grounds


class DismissReferral(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String(required=True)

    Output = Referral

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, reason: str) -> Any:
        async with ctx(info).write() as session:
            return await service.dismiss(session=session, actor=actor(info),
                                         referral_id=uuid_arg(id, "id"), reason=reason)


class ReevaluateReferrals(graphene.Mutation):
    """Evaluate every officer against the grounds in force (after the file changed)."""

    Output = ReevaluationResult

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo) -> Any:
        async with ctx(info).write() as session:
            run_id, grounds, counts = await service.reevaluate(
                session=session, actor=actor(info), settings=ctx(info).settings)
        return ReevaluationResult(id=run_id, grounds_file=str(grounds.path),
                                  opened=counts.opened, updated=counts.updated,
                                  closed=counts.closed)


class ReferralMutations(graphene.ObjectType):
    dismiss_referral = DismissReferral.Field()
    reevaluate_referrals = ReevaluateReferrals.Field()
