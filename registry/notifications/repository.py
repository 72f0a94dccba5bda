"""SQL of notifications: who checked an officer, the notifications themselves, agencies'
webhooks and the deliveries that carry notifications to them.

``notifications`` is append-only (a fact: "agency X was told"); its unique key
``(agency_id, kind, entity_id)`` makes telling an agency about the same event twice a no-op.
``webhook_deliveries`` is a work queue: claimed with ``FOR UPDATE SKIP LOCKED`` and leased by
moving ``next_attempt_at`` forward, so several workers never send the same delivery at once
and a worker that dies mid-send leaves the delivery to be retried when the lease ends.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.database import run_sql

# One row per agency that checked the person in the window (its latest check), minus the
# agency the event comes from; a notification for each (unless it exists), and a delivery for
# each new notification whose agency has a webhook.
NOTIFY_SQL = """
WITH latest AS (
  SELECT DISTINCT ON (h.agency_id) h.agency_id, h.check_id
  FROM background_check_hits h
  WHERE h.officer_id = ANY(CAST(:records AS uuid[]))
    AND h.run_at >= now() - make_interval(days => :days)
    AND h.agency_id IS NOT NULL
    AND h.agency_id IS DISTINCT FROM CAST(:exclude AS uuid)
  ORDER BY h.agency_id, h.run_at DESC, h.check_id DESC
), inserted AS (
  INSERT INTO notifications (agency_id, officer_id, check_id, kind, entity_type, entity_id,
                             summary)
  SELECT l.agency_id, :person, l.check_id, :kind, :entity_type, :entity_id, :summary
  FROM latest l
  ORDER BY l.agency_id
  ON CONFLICT (agency_id, kind, entity_id) DO NOTHING
  RETURNING id, agency_id, check_id
), deliveries AS (
  INSERT INTO webhook_deliveries (notification_id, agency_id)
  SELECT i.id, i.agency_id FROM inserted i JOIN webhooks w ON w.agency_id = i.agency_id
  RETURNING id, notification_id
)
SELECT i.id, i.agency_id, i.check_id, d.id AS delivery_id
FROM inserted i LEFT JOIN deliveries d ON d.notification_id = i.id
ORDER BY i.agency_id
"""


async def notify(session: AsyncSession, *, person: uuid.UUID, records: list[uuid.UUID],
                 days: int, exclude: uuid.UUID | None, kind: str, entity_type: str,
                 entity_id: uuid.UUID, summary: str) -> list[Any]:
    """Insert the notifications of one event; the rows added (id, agency_id, check_id,
    delivery_id or None)."""
    return list(await run_sql(session, NOTIFY_SQL, {
        "records": records, "days": days, "exclude": exclude, "person": person, "kind": kind,
        "entity_type": entity_type, "entity_id": entity_id, "summary": summary}))


PAGE_COLUMNS = """n.id, n.agency_id, n.officer_id, n.check_id, n.kind, n.entity_type,
  n.entity_id, n.summary, n.created_at,
  d.id AS delivery_id, d.status AS delivery_status, d.attempts AS delivery_attempts,
  d.next_attempt_at AS delivery_next_attempt_at, d.last_status_code AS delivery_status_code,
  d.last_error AS delivery_error, d.delivered_at AS delivery_delivered_at"""


async def page(session: AsyncSession, *, agency_id: uuid.UUID | None, limit: int,
               after: tuple[datetime, uuid.UUID] | None) -> list[Any]:
    """Notifications newest first, keyset-paged on (created_at DESC, id ASC): the order of the
    ``notifications_agency`` index, so a page is one range scan of it."""
    where, params = [], {"limit": limit}
    if agency_id is not None:
        where.append("n.agency_id = :agency_id")
        params["agency_id"] = agency_id
    if after is not None:
        where.append("n.created_at <= :after_at AND (n.created_at < :after_at "
                     "OR n.id > :after_id)")
        params["after_at"], params["after_id"] = after
    sql = (f"SELECT {PAGE_COLUMNS} FROM notifications n "
           "LEFT JOIN webhook_deliveries d ON d.notification_id = n.id "
           f"{'WHERE ' + ' AND '.join(where) if where else ''} "
           "ORDER BY n.created_at DESC, n.id LIMIT :limit")
    return list(await run_sql(session, sql, params))


# --- webhooks -------------------------------------------------------------------------------

async def webhook_of(session: AsyncSession, agency_id: uuid.UUID, *, for_update: bool = False
                     ) -> Any:
    lock = " FOR UPDATE" if for_update else ""
    return (await run_sql(session, "SELECT agency_id, url, created_at, created_by "
                                   f"FROM webhooks WHERE agency_id = :a{lock}",
                          {"a": agency_id})).one_or_none()


async def put_webhook(session: AsyncSession, *, agency_id: uuid.UUID, url: str, secret: str,
                      created_by: str) -> Any:
    """Create or replace the agency's webhook (a replacement has a new secret)."""
    return (await run_sql(session, """
        INSERT INTO webhooks (agency_id, url, secret, created_by)
        VALUES (:a, :url, :secret, :by)
        ON CONFLICT (agency_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret,
          created_at = now(), created_by = EXCLUDED.created_by
        RETURNING agency_id, url, created_at, created_by""",
                          {"a": agency_id, "url": url, "secret": secret, "by": created_by})
            ).one()


async def delete_webhook(session: AsyncSession, agency_id: uuid.UUID) -> int:
    """Remove the webhook; its pending deliveries fail (nowhere to send them). How many
    deliveries were pending."""
    failed = (await run_sql(session, """
        WITH failed AS (
          UPDATE webhook_deliveries SET status = 'failed', last_error = 'webhook removed'
          WHERE agency_id = :a AND status = 'pending' RETURNING 1
        )
        SELECT count(*) FROM failed""", {"a": agency_id})).scalar_one()
    await run_sql(session, "DELETE FROM webhooks WHERE agency_id = :a", {"a": agency_id})
    return failed


# --- deliveries -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    """A delivery taken for one attempt, with what it needs to be sent."""

    id: uuid.UUID
    attempts: int  # before this attempt
    url: str | None  # None: the agency's webhook is gone
    secret: str | None
    notification: dict[str, Any]


CLAIM_SQL = """
WITH due AS (
  SELECT d.id FROM webhook_deliveries d
  WHERE d.status = 'pending' AND d.next_attempt_at <= now()
  ORDER BY d.next_attempt_at, d.id
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
), leased AS (
  UPDATE webhook_deliveries d
  SET next_attempt_at = now() + make_interval(secs => :lease)
  FROM due WHERE d.id = due.id
  RETURNING d.id, d.attempts, d.notification_id, d.agency_id
)
SELECT l.id, l.attempts, w.url, w.secret,
       n.id AS notification_id, n.agency_id, n.officer_id, n.check_id, n.kind, n.entity_type,
       n.entity_id, n.summary, n.created_at
FROM leased l
JOIN notifications n ON n.id = l.notification_id
LEFT JOIN webhooks w ON w.agency_id = l.agency_id
ORDER BY l.id
"""


async def claim_due(connection: AsyncConnection, *, limit: int, lease_seconds: float
                    ) -> list[Claimed]:
    """Take up to ``limit`` due deliveries: rows another worker holds are skipped, and each
    taken row's next attempt moves ``lease_seconds`` ahead, so that no other worker takes it
    while this one sends it (and one that crashed leaves it to be retried then)."""
    rows = await connection.execute(text(CLAIM_SQL), {"limit": limit, "lease": lease_seconds})
    return [Claimed(id=r.id, attempts=r.attempts, url=r.url, secret=r.secret,
                    notification={
                        "id": str(r.notification_id), "agencyId": str(r.agency_id),
                        "officerId": str(r.officer_id), "checkId": str(r.check_id),
                        "kind": r.kind, "entityType": r.entity_type,
                        "entityId": str(r.entity_id), "summary": r.summary,
                        "createdAt": r.created_at.isoformat()})
            for r in rows]


async def record_attempt(connection: AsyncConnection, *, delivery_id: uuid.UUID,
                         claimed_attempts: int, delivered: bool, status_code: int | None,
                         error: str | None, max_attempts: int, first_retry_seconds: float
                         ) -> str | None:
    """Write one attempt's outcome; the delivery's new status, or None when the delivery is no
    longer the one this worker claimed (its lease ran out and another worker took it)."""
    return (await connection.execute(text("""
        UPDATE webhook_deliveries SET
          attempts = attempts + 1,
          last_status_code = :code,
          last_error = :error,
          status = CASE WHEN :delivered THEN 'delivered'
                        WHEN attempts + 1 >= :max THEN 'failed' ELSE 'pending' END,
          delivered_at = CASE WHEN :delivered THEN now() END,
          next_attempt_at = CASE WHEN :delivered OR attempts + 1 >= :max THEN next_attempt_at
            ELSE now() + make_interval(secs => :first * power(2, attempts)) END
        WHERE id = :id AND status = 'pending' AND attempts = :claimed
        RETURNING status"""), {
        "id": delivery_id, "claimed": claimed_attempts, "delivered": delivered,
        "code": status_code, "error": error, "max": max_attempts,
        "first": first_retry_seconds})).scalar_one_or_none()
