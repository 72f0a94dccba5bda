"""GraphQL root fields of notifications; thin over the service."""

import uuid
from datetime import datetime
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api.context import actor, ctx
from registry.api.relay import connection, decode_cursor, page_size, uuid_arg
from registry.notifications import service
from registry.notifications.types import NotificationConnection, WebhookSetup


class NotificationQueries(graphene.ObjectType):
    notifications = graphene.Field(
        NotificationConnection, required=True, first=graphene.Int(), after=graphene.String(),
        agency_id=graphene.ID(),
        description="Final orders, sustained findings and separations under investigation "
                    "recorded about officers an agency's background checks returned (within "
                    "REGISTRY_NOTIFY_WINDOW_DAYS), newest first. An agency key reads its own "
                    "agency's; POST staff and administrators one agency's (agencyId) or all.")

    @staticmethod
    async def resolve_notifications(_root: Any, info: GraphQLResolveInfo,
                                    first: int | None = None, after: str | None = None,
                                    agency_id: str | None = None) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        position = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        async with c.read() as session:
            rows = await service.page(
                session=session, actor=actor(info),
                agency_id=uuid_arg(agency_id, "agencyId") if agency_id else None,
                limit=limit + 1, after=position)  # type: ignore[arg-type]
        return connection(NotificationConnection, rows, limit,
                          lambda r: (r.created_at.isoformat(), r.id))


class SetNotificationWebhook(graphene.Mutation):
    """Where the registry POSTs the agency's notifications, signed (agency keys, for their own
    agency). Returns a new secret, shown once; setting it again replaces the URL and rotates
    the secret."""

    class Arguments:
        url = graphene.String(required=True, description="An http(s) URL, at most 2000 "
                                                         "characters.")

    Output = graphene.NonNull(WebhookSetup)

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, url: str) -> Any:
        async with ctx(info).write() as session:
            return await service.set_webhook(session=session, actor=actor(info), url=url)


class RemoveNotificationWebhook(graphene.Mutation):
    """Stop webhook deliveries for the agency (notifications stay readable); false when it
    had no webhook."""

    Output = graphene.NonNull(graphene.Boolean)

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo) -> Any:
        async with ctx(info).write() as session:
            return await service.remove_webhook(session=session, actor=actor(info))


class NotificationMutations(graphene.ObjectType):
    set_notification_webhook = SetNotificationWebhook.Field()
    remove_notification_webhook = RemoveNotificationWebhook.Field()
