"""Notifications to agencies that checked an officer: when a later final order, sustained
finding or separation under investigation is recorded for the officer, every agency whose
background check returned the person within ``notify_window_days`` is told, in the same
transaction as the event, and through its webhook when it has one (``webhooks.py``).

Rules:
- "The person": any of the officer's records (merged records count as one officer), so a
  check that returned a record later merged into the person still counts.
- One notification per agency and event (the database's unique key): an amendment that
  sustains a finding again, or a retried report, tells nobody twice. It points at the
  agency's latest check of the person in the window.
- The agency the event comes from is not told about its own report: the agency that reported
  a sustained finding (whether it or POST staff on its behalf entered it) and the agency the
  officer separated from. A final order comes from the board: every checking agency is told.
- Checks run by POST staff (no agency) notify nobody.
- A notification is a pointer, not the facts of the case: what happened, when, and who to
  ask; the agency reads the record with its key.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_role
from registry.agencies import repository as agencies
from registry.cases.models import Case, FinalOrder, Outcome
from registry.employment.models import SeparationReason, Stint
from registry.errors import Forbidden, InvalidInput
from registry.findings.models import Disposition, Finding
from registry.keys.models import Role
from registry.notifications import repository
from registry.officers import repository as officers
from registry.settings import Settings

MAX_URL = 2000
UNDER_INVESTIGATION = frozenset({SeparationReason.RESIGNED_UNDER_INVESTIGATION.value,
                                 SeparationReason.RETIRED_UNDER_INVESTIGATION.value})
READERS = (Role.AGENCY, Role.POST_STAFF, Role.ADMIN)


class Kind(StrEnum):
    FINAL_ORDER = "final_order"
    SUSTAINED_FINDING = "sustained_finding"
    SEPARATION_UNDER_INVESTIGATION = "separation_under_investigation"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


async def notify_checkers(*, session: AsyncSession, actor: Actor, settings: Settings,
                          officer_id: uuid.UUID, kind: Kind | str, entity_type: str,
                          entity_id: uuid.UUID, summary: str,
                          exclude_agency_id: uuid.UUID | None = None) -> int:
    """Tell every agency that checked the officer (any of the person's records) within the
    window, except ``exclude_agency_id``; queue a webhook delivery for each that has a
    webhook. In the caller's transaction; how many agencies were newly notified. One audit
    event (``notification.notify``) for the batch when there is one."""
    person = await officers.person_of(session, officer_id)
    if person is None:
        return 0
    records = (await officers.records_of_people(session, [person])).get(person, [])
    kind = Kind(kind)
    rows = await repository.notify(
        session, person=person, records=records, days=settings.notify_window_days,
        exclude=exclude_agency_id, kind=kind.value, entity_type=entity_type,
        entity_id=entity_id, summary=summary)
    if rows:
        await audit.record(session, actor=actor, operation="notification.notify",
                           entity_type="notification", entity_id=entity_id, after={
                               "kind": kind.value, "entity_type": entity_type,
                               "entity_id": entity_id, "officer_id": person,
                               "summary": summary,
                               "notifications": [
                                   {"id": r.id, "agency_id": r.agency_id,
                                    "check_id": r.check_id,
                                    "webhook_delivery_id": r.delivery_id} for r in rows]})
    return len(rows)


# --- the events (one call from each domain's service) ------------------------------------

def _words(value: str) -> str:
    return value.replace("_", " ")


async def _agency_name(session: AsyncSession, agency_id: uuid.UUID) -> str:
    agency = await agencies.get(session, agency_id)
    return agency.name if agency is not None else str(agency_id)


async def finding_sustained(*, session: AsyncSession, actor: Actor, settings: Settings,
                            finding: Finding, before: Finding | None = None) -> int:
    """A finding reported sustained, or amended to sustained from another disposition (an
    amendment of an already sustained finding tells nobody again)."""
    sustained = Disposition.SUSTAINED.value
    if finding.final_disposition != sustained or (
            before is not None and before.final_disposition == sustained):
        return 0
    summary = (f"Sustained finding ({_words(finding.category)}) reported by "
               f"{await _agency_name(session, finding.agency_id)}")
    return await notify_checkers(
        session=session, actor=actor, settings=settings, officer_id=finding.officer_id,
        kind=Kind.SUSTAINED_FINDING, entity_type="finding", entity_id=finding.id,
        summary=summary, exclude_agency_id=finding.agency_id)


async def separated(*, session: AsyncSession, actor: Actor, settings: Settings,
                    stint: Stint) -> int:
    """A separation reported with a reason "resigned/retired under investigation"."""
    if stint.separation_reason not in UNDER_INVESTIGATION:
        return 0
    summary = (f"Separation while under investigation from "
               f"{await _agency_name(session, stint.agency_id)} "
               f"({_words(stint.separation_reason or '')}, {stint.ended_on})")
    return await notify_checkers(
        session=session, actor=actor, settings=settings, officer_id=stint.officer_id,
        kind=Kind.SEPARATION_UNDER_INVESTIGATION, entity_type="stint", entity_id=stint.id,
        summary=summary, exclude_agency_id=stint.agency_id)


async def final_order(*, session: AsyncSession, actor: Actor, settings: Settings, case: Case,
                      order: FinalOrder) -> int:
    """A board's final order other than no action."""
    if order.outcome == Outcome.NO_ACTION.value:
        return 0
    until = f" until {order.suspended_until}" if order.suspended_until else ""
    summary = (f"Final order: {_words(order.outcome)}{until} effective {order.effective_on} "
               f"(case {case.number})")
    return await notify_checkers(
        session=session, actor=actor, settings=settings, officer_id=case.officer_id,
        kind=Kind.FINAL_ORDER, entity_type="final_order", entity_id=order.id, summary=summary)


# --- reading ------------------------------------------------------------------------------

async def page(*, session: AsyncSession, actor: Actor, agency_id: uuid.UUID | None,
               limit: int, after: tuple[datetime, uuid.UUID] | None) -> list[Any]:
    """Notifications newest first. An agency key reads its own agency's; POST staff and
    administrators read one agency's (``agency_id``) or everyone's."""
    require_role(actor, *READERS, to="read notifications")
    if actor.role is Role.AGENCY:
        if agency_id is not None and agency_id != actor.agency_id:
            raise Forbidden("An agency key reads only its own agency's notifications.",
                            role=actor.role.value)
        agency_id = actor.agency_id
    return await repository.page(session, agency_id=agency_id, limit=limit, after=after)


# --- webhooks -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WebhookSetup:
    agency_id: uuid.UUID
    url: str
    secret: str  # shown once, to the agency that set the webhook
    created_at: datetime


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host, at most MAX_URL characters."""
    url = (value or "").strip()
    if not url:
        raise InvalidInput("Give the URL the registry should POST notifications to.",
                           field="url")
    if len(url) > MAX_URL:
        raise InvalidInput(f"The URL is longer than {MAX_URL} characters.", field="url")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput("The URL contains spaces or control characters; percent-encode "
                           "them.", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise InvalidInput(f"'{url[:100]}' is not a valid URL.", field="url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput("The URL must start with https:// (or http://); other schemes "
                           "are not delivered to.", field="url")
    if not parts.hostname:
        raise InvalidInput("The URL has no host; give an absolute URL such as "
                           "https://example.org/registry-webhook.", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("The URL must not carry a user name or password (they would be "
                           "kept in the audit trail); verify the X-Registry-Signature header "
                           "instead.", field="url")
    return parts.scheme.lower() + url[len(parts.scheme):]


def _own_agency(actor: Actor, *, to: str) -> uuid.UUID:
    require_role(actor, Role.AGENCY, to=to)
    assert actor.agency_id is not None, "agency keys belong to an agency"
    return actor.agency_id


async def set_webhook(*, session: AsyncSession, actor: Actor, url: str) -> WebhookSetup:
    """Set (or replace) the agency's webhook with a new secret, returned once. Replacing a
    webhook rotates the secret: deliveries still pending are signed with the new one."""
    agency_id = _own_agency(actor, to="set a notification webhook")
    clean_url = check_url(url)
    before = await repository.webhook_of(session, agency_id, for_update=True)
    secret = secrets.token_urlsafe(32)
    row = await repository.put_webhook(session, agency_id=agency_id, url=clean_url,
                                       secret=secret, created_by=actor.label)
    # Never the secret: the audit trail is readable by more people than the agency.
    await audit.record(session, actor=actor, operation="webhook.set", entity_type="webhook",
                       entity_id=agency_id, before=_public(before),
                       after={**_public(row), "secret_rotated": True})
    return WebhookSetup(agency_id=agency_id, url=row.url, secret=secret,
                        created_at=row.created_at)


async def remove_webhook(*, session: AsyncSession, actor: Actor) -> bool:
    """Remove the agency's webhook (false when it had none: nothing is written). Pending
    deliveries fail; the notifications stay readable with the ``notifications`` query."""
    agency_id = _own_agency(actor, to="remove a notification webhook")
    before = await repository.webhook_of(session, agency_id, for_update=True)
    if before is None:
        return False
    dropped = await repository.delete_webhook(session, agency_id)
    await audit.record(session, actor=actor, operation="webhook.remove", entity_type="webhook",
                       entity_id=agency_id, before=_public(before),
                       after={"pending_deliveries_failed": dropped})
    return True


def _public(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"agency_id": row.agency_id, "url": row.url, "created_at": row.created_at,
            "created_by": row.created_by}
