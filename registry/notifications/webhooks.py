"""Signed webhook deliveries of notifications, with retries.

What an agency's endpoint receives, once per notification (``setNotificationWebhook`` sets
the URL and returns the secret, once):

    POST <url>
    Content-Type: application/json
    X-Registry-Delivery: <delivery id>      the same on every retry: drop duplicates by it
    X-Registry-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

    {"notification": {"agencyId": ..., "checkId": ..., "createdAt": ..., "entityId": ...,
                      "entityType": ..., "id": ..., "kind": ..., "officerId": ...,
                      "summary": ...}}

How the receiver verifies it (``verify_signature`` below does exactly this):
1. Keep the raw body bytes; verify before parsing the JSON.
2. Split the header on "," into key=value pairs: ``t`` and one or more ``v1``.
3. Refuse when ``t`` is more than 5 minutes from the receiver's clock (a replayed request).
4. Compute HMAC-SHA256 keyed with the secret (its UTF-8 bytes, as returned) over the bytes
   ``<t>.`` followed by the body; compare its lowercase hex digest with each ``v1`` in
   constant time (``hmac.compare_digest``). A match means the registry sent this body.
5. Answer 2xx within ``REGISTRY_WEBHOOK_TIMEOUT_SECONDS``. Anything else (another status, a
   redirect, a timeout, no connection) is retried: the n-th failed attempt waits
   ``REGISTRY_WEBHOOK_FIRST_RETRY_SECONDS * 2^(n-1)``; after
   ``REGISTRY_WEBHOOK_MAX_ATTEMPTS`` attempts the delivery is marked failed (the
   ``notifications`` query still lists the notification, with the delivery's status).

Delivery is at least once: a receiver that answered but whose answer the registry did not
record (a crash in between) gets the delivery again, with the same X-Registry-Delivery.

Workers: every uvicorn worker runs ``run_deliveries`` (started by the app's lifespan), and
``registry notifications deliver`` runs one pass by hand. They share the queue safely: a
batch is claimed with ``FOR UPDATE SKIP LOCKED`` and leased (its next attempt moved past the
time sending it can take) in a short transaction, sent outside any transaction, and each
outcome written only if the delivery is still the one claimed.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import time
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.notifications import repository
from registry.notifications.repository import Claimed
from registry.settings import Settings

log = logging.getLogger("registry.webhooks")

BATCH = 50  # deliveries claimed at once
CONCURRENCY = 10  # of them sent at the same time
USER_AGENT = "officer-registry-webhooks/1"
SIGNATURE_HEADER = "X-Registry-Signature"
DELIVERY_HEADER = "X-Registry-Delivery"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Registry-Signature value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300, *,
                     now: float | None = None) -> bool:
    """Whether ``header`` (X-Registry-Signature) signs ``body`` with ``secret`` and was made
    within ``tolerance`` seconds of ``now``: what a receiver runs before trusting a body."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, s) for s in signatures)


def body_of(claimed: Claimed) -> bytes:
    return json.dumps({"notification": claimed.notification}, sort_keys=True,
                      separators=(",", ":")).encode()


@dataclass
class Counts:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    superseded: int = 0  # another worker recorded the attempt first (the lease ran out)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed + self.superseded


async def _send(client: httpx.AsyncClient, claimed: Claimed, settings: Settings
                ) -> tuple[bool, int | None, str | None]:
    """One POST: (delivered, status code, error). Never raises for the receiver's failures."""
    if claimed.url is None or claimed.secret is None:
        return False, None, "webhook removed"
    body = body_of(claimed)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               DELIVERY_HEADER: str(claimed.id),
               SIGNATURE_HEADER: sign(claimed.secret, body, int(time.time()))}
    try:
        # httpx's timeout is per phase; the outer one bounds the whole attempt.
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            async with client.stream("POST", claimed.url, content=body, headers=headers,
                                     timeout=settings.webhook_timeout_seconds,
                                     follow_redirects=False) as response:
                code = response.status_code  # the receiver's body is not read
    except (TimeoutError, httpx.TimeoutException):
        return False, None, f"no answer within {settings.webhook_timeout_seconds:g} seconds"
    except httpx.HTTPError as e:
        return False, None, f"{type(e).__name__}: {str(e)[:300]}"
    if 200 <= code < 300:
        return True, code, None
    reason = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    return False, code, reason


async def _attempt(engine: AsyncEngine, client: httpx.AsyncClient, claimed: Claimed,
                   settings: Settings, counts: Counts, gate: asyncio.Semaphore) -> None:
    async with gate:
        delivered, code, error = await _send(client, claimed, settings)
    gone = claimed.url is None
    async with engine.begin() as conn:
        status = await repository.record_attempt(
            conn, delivery_id=claimed.id, claimed_attempts=claimed.attempts,
            delivered=delivered, status_code=code, error=error,
            max_attempts=0 if gone else settings.webhook_max_attempts,
            first_retry_seconds=settings.webhook_first_retry_seconds)
    if status == "delivered":
        counts.delivered += 1
    elif status == "pending":
        counts.retrying += 1
    elif status == "failed":
        counts.failed += 1
        log.warning("webhook delivery %s failed for good after %d attempts: %s", claimed.id,
                    claimed.attempts + 1, error)
    else:
        counts.superseded += 1


async def deliver_due(engine: AsyncEngine, settings: Settings, *,
                      client: httpx.AsyncClient | None = None, limit: int = BATCH,
                      counts: Counts | None = None) -> int:
    """Send up to ``limit`` deliveries that are due (one claim); how many were attempted.
    ``counts``, when given, adds up what became of them."""
    counts = counts if counts is not None else Counts()
    lease = settings.webhook_timeout_seconds * math.ceil(limit / CONCURRENCY) + 30
    async with engine.begin() as conn:
        claimed = await repository.claim_due(conn, limit=limit, lease_seconds=lease)
    if not claimed:
        return 0
    before = counts.attempted
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(httpx.AsyncClient())
        gate = asyncio.Semaphore(CONCURRENCY)
        await asyncio.gather(*(_attempt(engine, client, c, settings, counts, gate)
                               for c in claimed))
    return counts.attempted - before


async def deliver_all_due(engine: AsyncEngine, settings: Settings, *,
                          client: httpx.AsyncClient | None = None) -> Counts:
    """Claim and send batches until nothing is due (the command line's one pass)."""
    counts = Counts()
    while await deliver_due(engine, settings, client=client, counts=counts) == BATCH:
        pass
    return counts


async def run_deliveries(engine: AsyncEngine, settings: Settings) -> None:
    """Poll for due deliveries every ``webhook_poll_seconds`` until cancelled (a full batch
    is followed by the next one at once)."""
    async with httpx.AsyncClient() as client:
        while True:
            try:
                sent = await deliver_due(engine, settings, client=client)
            except Exception as err:  # the database is down, say: keep polling
                log.warning("webhook deliveries: %s: %s", type(err).__name__, err)
                sent = 0
            if sent < BATCH:
                await asyncio.sleep(settings.webhook_poll_seconds)


def start(engine: AsyncEngine, settings: Settings) -> "asyncio.Task[None]":
    """Start the delivery loop in the running event loop (the app's lifespan)."""
    return asyncio.create_task(run_deliveries(engine, settings), name="webhook-deliveries")


async def stop(task: "asyncio.Task[None]") -> None:
    """Cancel the loop and wait for it; a delivery cut off mid-send is retried after its
    lease."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
