"""Throttling of the Converse API: per-user and per-bot rate limits, and a bound on queued turns.

Botpress 12 cannot throttle its Converse API. parley reads `converse.rateLimit` from bot.config.json
(falling back, key by key, to botpress.config.json), e.g. `{"perUser": "20/minute", "perBot":
"600/minute"}`, and answers 429 with `Retry-After` past a limit. Windows are fixed and counted in
Redis when it is configured (so every worker shares them), else in the process.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parley.http.errors import ApiError, PlainError
from parley.store.redis_client import redis_from_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

_RATE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$", re.I)
_UNIT = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
         "d": 86400, "day": 86400}

DEFAULT_MAX_QUEUED_TURNS = 20

# Count one hit in the current window; returns [count, milliseconds left in the window].
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: float


def parse_rate(value: Any) -> Rate | None:
    """`"20/minute"`, `"600 per hour"`, `"5/10s"` -> Rate; anything else (or 0) -> no limit."""
    if not isinstance(value, str):
        return None
    m = _RATE.match(value)
    if not m:
        return None
    limit, count, unit = int(m.group(1)), int(m.group(2) or 1), m.group(3).lower()
    return Rate(limit, count * _UNIT[unit]) if limit > 0 else None


def too_many(retry_after: float, what: str) -> ApiError:
    seconds = max(1, math.ceil(retry_after))
    return ApiError(429, "TooManyRequests", f"Too many requests, please slow down ({what}).",
                    headers={"Retry-After": str(seconds)})


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.redis: Redis | None = redis_from_url(redis_url, decode_responses=True) if redis_url else None
        self._hit: Any = self.redis.register_script(_HIT) if self.redis is not None else None
        self._windows: dict[str, tuple[float, int]] = {}

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    async def count(self, key: str, rate: Rate) -> tuple[int, float]:
        """Count a request in its window: (requests in the window so far, seconds until it reopens)."""
        if self._hit is not None:
            count, pttl = await self._hit(keys=[f"parley:rate:{key}"], args=[int(rate.seconds * 1000)])
            return int(count), max(int(pttl), 0) / 1000
        now = time.monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= rate.seconds:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 100_000:  # forget windows that are over
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < rate.seconds}
        return count, start + rate.seconds - now

    async def hit(self, key: str, rate: Rate) -> float:
        """Count a request; return 0 when allowed, else the seconds until the window reopens."""
        count, left = await self.count(key, rate)
        return 0.0 if count <= rate.limit else left

    async def check_client(self, address: str, rate: Rate) -> list[tuple[bytes, bytes]]:
        """`httpServer.rateLimit`, as Botpress's express-rate-limit (v5) answers it: the headers for the
        answer (`X-RateLimit-Limit`, `-Remaining`, `-Reset` in epoch seconds), or, past the limit, its plain
        message with `Retry-After` set to the whole window."""
        count, left = await self.count(f"client:{address}", rate)
        headers = {"X-RateLimit-Limit": str(rate.limit), "X-RateLimit-Remaining": str(max(0, rate.limit - count)),
                   "X-RateLimit-Reset": str(math.ceil(time.time() + left))}
        if count > rate.limit:
            raise PlainError(429, "Too many requests, please slow down.",
                             headers={**headers, "Retry-After": str(max(1, math.ceil(rate.seconds)))})
        return [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def check(self, bot_id: str, user_id: str, per_user: Rate | None, per_bot: Rate | None) -> None:
        if per_user is not None:
            wait = await self.hit(f"user:{bot_id}:{user_id}", per_user)
            if wait:
                raise too_many(wait, "per-user limit")
        if per_bot is not None:
            wait = await self.hit(f"bot:{bot_id}", per_bot)
            if wait:
                raise too_many(wait, "per-bot limit")
