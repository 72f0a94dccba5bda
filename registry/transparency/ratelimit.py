"""Per-address rate limit of the public side (``REGISTRY_PUBLIC_RATE_LIMIT``), with the
``limits`` library's sliding-window counter in memory. Its asyncio flavour: the threaded
memory storage starts a timer thread to expire keys, which under load means a thread start
every few requests (measured: most of the public endpoint's overhead).

Counted per worker process: with N uvicorn workers a client may get up to N times the
allowance (requests land on workers by the kernel's choice). A deployment that needs one
shared count puts the same limit in front of the service (its proxy or CDN), or points
``limits`` at a shared storage such as Redis. The address is the TCP peer's, which uvicorn
replaces with the client's from ``X-Forwarded-For`` only for proxies it trusts
(``--forwarded-allow-ips``), so a client cannot pick its own bucket.
"""

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.requests import Request


class RateLimitConfigError(ValueError):
    """REGISTRY_PUBLIC_RATE_LIMIT is not in the `limits` notation."""


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # whole seconds, at least 1
    limit: str


class RateLimiter:
    def __init__(self, spec: str) -> None:
        try:
            self.items: list[RateLimitItem] = parse_many(spec) if spec.strip() else []
        except ValueError as err:
            raise RateLimitConfigError(
                f"REGISTRY_PUBLIC_RATE_LIMIT={spec!r} is not a rate limit; write it as "
                f"'120/minute' or '10/second;300/hour' ({err}).") from None
        self.spec = spec
        self.strategy = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def hit(self, address: str) -> Refusal | None:
        """Count one request from ``address``; a Refusal when it is over an allowance."""
        for item in self.items:
            if not await self.strategy.hit(item, "public", address):
                stats = await self.strategy.get_window_stats(item, "public", address)
                reset = stats.reset_time
                wait = max(1, math.ceil(reset - time.time()))
                return Refusal(min(wait, item.get_expiry()), str(item))
        return None

    async def check(self, request: Request) -> Refusal | None:
        client = request.client
        return await self.hit(client.host if client else "unknown")
