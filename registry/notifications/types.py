from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.agencies.dataloaders import AgencyById
from registry.agencies.types import Agency
from registry.api.context import ctx
from registry.notifications.service import DeliveryStatus, Kind
from registry.officers.dataloaders import PersonById

NotificationKind = graphene.Enum.from_enum(
    Kind, name="NotificationKind",
    description="What was recorded about an officer the agency checked.")
WebhookDeliveryStatus = graphene.Enum.from_enum(
    DeliveryStatus, name="WebhookDeliveryStatus",
    description="pending (being tried), delivered (a 2xx answer) or failed (attempts used up, "
                "or the webhook was removed).")


class WebhookDelivery(graphene.ObjectType):
    """The notification's delivery to the agency's webhook."""

    id = graphene.ID(required=True, description="Sent as the X-Registry-Delivery header.")
    status = graphene.Field(WebhookDeliveryStatus, required=True)
    attempts = graphene.Int(required=True)
    next_attempt_at = graphene.DateTime(description="When a pending delivery is tried next.")
    last_status_code = graphene.Int(description="The HTTP status of the last answer.")
    last_error = graphene.String(description="Why the last attempt failed.")
    delivered_at = graphene.DateTime()


class Notification(graphene.ObjectType):
    """A later event about an officer the agency's background check returned: a pointer to
    read the record with, not the facts of the case."""

    id = graphene.ID(required=True)
    kind = graphene.Field(NotificationKind, required=True)
    summary = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    agency = graphene.Field(Agency, required=True, description="The agency notified.")
    check_id = graphene.ID(required=True,
                           description="The agency's latest check that returned the officer.")
    entity_type = graphene.String(required=True,
                                  description="finding, stint or final_order.")
    entity_id = graphene.ID(required=True)
    delivery = graphene.Field(WebhookDelivery,
                              description="Null when the agency had no webhook then.")

    @staticmethod
    async def resolve_officer(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)

    @staticmethod
    async def resolve_agency(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(AgencyById).load(root.agency_id)

    @staticmethod
    def resolve_delivery(root: Any, _info: GraphQLResolveInfo) -> Any:
        if root.delivery_id is None:
            return None
        return WebhookDelivery(
            id=root.delivery_id, status=root.delivery_status, attempts=root.delivery_attempts,
            next_attempt_at=(root.delivery_next_attempt_at
                             if root.delivery_status == DeliveryStatus.PENDING.value else None),
            last_status_code=root.delivery_status_code, last_error=root.delivery_error,
            delivered_at=root.delivery_delivered_at)


class NotificationConnection(graphene.relay.Connection):
    class Meta:
        node = Notification


class WebhookSetup(graphene.ObjectType):
    """The agency's webhook as just set. The secret is shown this once: keep it to verify the
    X-Registry-Signature header of each delivery (t=<unix seconds>,v1=<hex HMAC-SHA256 keyed
    with the secret over "<t>.<raw body>">). Setting the webhook again rotates it."""

    id = graphene.ID(required=True, description="The agency's id (one webhook per agency).")
    agency = graphene.Field(Agency, required=True)
    url = graphene.String(required=True)
    secret = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_id(root: Any, _info: GraphQLResolveInfo) -> Any:
        return root.agency_id

    @staticmethod
    async def resolve_agency(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(AgencyById).load(root.agency_id)
