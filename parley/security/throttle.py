"""Failed-login windows: at most `limit` failures per key (an email, a client) in `seconds`.

In the process, or in Redis when it is configured, so that N workers allow the same number of
guesses as one (each worker counting alone would allow N times as many). An attempt is counted
before the password is checked (many concurrent guesses would otherwise all pass the check before
any failure is recorded) and taken back when it succeeds.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis


class FailureWindow(Protocol):
    async def try_add(self, key: str, now: float) -> tuple[float, str]:
        """(0, attempt id) after counting an attempt, or (seconds to wait, "") when the key is blocked."""
        ...

    async def discard(self, key: str, attempt: str) -> None:
        """Take one counted attempt back (it succeeded)."""
        ...

    async def clear(self, key: str) -> None: ...


class LocalWindow:
    MAX_KEYS: ClassVar[int] = 10_000

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.hits: dict[str, deque[tuple[float, str]]] = {}

    async def try_add(self, key: str, now: float) -> tuple[float, str]:
        q = self.hits.get(key)
        if q is not None:
            while q and q[0][0] <= now - self.seconds:
                q.popleft()
            # blocked until enough attempts fall out of the window to leave room for one more
            if len(q) >= self.limit:
                return q[len(q) - self.limit][0] + self.seconds - now, ""
        if len(self.hits) >= self.MAX_KEYS:
            self._sweep(now)
        attempt = uuid.uuid4().hex
        self.hits.setdefault(key, deque()).append((now, attempt))
        return 0.0, attempt

    async def discard(self, key: str, attempt: str) -> None:
        q = self.hits.get(key)
        if q is not None:
            for item in q:
                if item[1] == attempt:
                    q.remove(item)
                    break
            if not q:
                self.hits.pop(key, None)

    async def clear(self, key: str) -> None:
        self.hits.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Drop keys whose attempts are all out of the window, so random emails cannot grow memory forever."""
        for key in [k for k, q in self.hits.items() if not q or q[-1][0] <= now - self.seconds]:
            del self.hits[key]


# KEYS[1] the key's sorted set; ARGV: now (ms), window (ms), limit, attempt id.
# Returns 0 after adding the attempt, else the milliseconds until the key has room again.
_TRY_ADD = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RedisWindow:
    def __init__(self, redis: Redis, name: str, limit: int, seconds: float) -> None:
        self.redis = redis
        self.prefix = f"parley:login:{name}:"
        self.limit = limit
        self.seconds = seconds
        self._try_add: Any = redis.register_script(_TRY_ADD)

    async def try_add(self, key: str, now: float) -> tuple[float, str]:
        attempt = uuid.uuid4().hex
        wait_ms = await self._try_add(keys=[self.prefix + key],
                                      args=[int(now * 1000), int(self.seconds * 1000), self.limit, attempt])
        return (int(wait_ms) / 1000, "") if int(wait_ms) > 0 else (0.0, attempt)

    async def discard(self, key: str, attempt: str) -> None:
        await self.redis.zrem(self.prefix + key, attempt)

    async def clear(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)
