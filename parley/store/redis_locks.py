"""Per-conversation locks shared by every worker process through Redis.

Each (bot, user) has a Redis list that is a FIFO queue of tickets: arriving requests append their
ticket, the ticket at the head holds the lock. Releasing pops the head and pushes a wake-up into the
next ticket's mailbox, on which that waiter is blocked with BLPOP — so the next turn starts at once,
with no polling interval, and in arrival order.

A process that dies must not block a conversation forever: every live ticket (holder or waiter) has
an `alive` key with a short TTL that a heartbeat task refreshes. A waiter that sees a head ticket
without its `alive` key removes that head and goes on, so a lock held by a killed worker expires
after at most `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger("parley.locks")

PREFIX = "parley:lock:"

# Pop the head if it is `ticket`, then wake the new head. Atomic, so two releasers never race.
_RELEASE = """
local q, ticket, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('LINDEX', q, 0) == ticket then
  redis.call('LPOP', q)
  local nxt = redis.call('LINDEX', q, 0)
  if nxt then
    redis.call('RPUSH', KEYS[2] .. nxt, '1')
    redis.call('PEXPIRE', KEYS[2] .. nxt, ttl)
  end
  return 1
end
redis.call('LREM', q, 0, ticket)
return 0
"""

# Remove a dead head (its `alive` key expired) and wake the next ticket.
_REAP = """
local q, head, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('LINDEX', q, 0) == head and redis.call('EXISTS', KEYS[3] .. head) == 0 then
  redis.call('LPOP', q)
  local nxt = redis.call('LINDEX', q, 0)
  if nxt then
    redis.call('RPUSH', KEYS[2] .. nxt, '1')
    redis.call('PEXPIRE', KEYS[2] .. nxt, ttl)
  end
  return 1
end
return 0
"""


class RedisLocks:
    """The same `hold(key)` interface as `LocalLocks`, but across processes and hosts."""

    def __init__(self, url: str, *, ttl: float = 10.0) -> None:
        self.redis: Redis = Redis.from_url(url, decode_responses=True, max_connections=512)
        self.ttl = ttl
        self._tickets: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._release: Any = self.redis.register_script(_RELEASE)
        self._reap: Any = self.redis.register_script(_REAP)

    async def open(self) -> None:
        await self.redis.ping()
        self._heartbeat = asyncio.create_task(self._beat())

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self.redis.aclose()

    async def _beat(self) -> None:
        """Keep every ticket of this process alive; a killed process stops beating."""
        ms = int(self.ttl * 1000)
        while True:
            await asyncio.sleep(self.ttl / 3)
            tickets = list(self._tickets)
            if not tickets:
                continue
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for t in tickets:
                        pipe.set(f"{PREFIX}alive:{t}", "1", px=ms)
                    await pipe.execute()
            except Exception:  # Redis hiccup: the next beat retries
                log.warning("lock heartbeat failed", exc_info=True)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        queue = f"{PREFIX}q:{key}"
        ticket = secrets.token_hex(12)
        ms = int(self.ttl * 1000)
        wake = f"{PREFIX}wake:"
        alive = f"{PREFIX}alive:"
        self._tickets.add(ticket)
        await self.redis.set(alive + ticket, "1", px=ms)
        await self.redis.rpush(queue, ticket)
        acquired = False
        try:
            while True:
                head = str(await self.redis.lindex(queue, 0) or "") or None
                if head == ticket:
                    acquired = True
                    break
                if head is None:  # our ticket vanished (reaped after a long stall): queue again
                    await self.redis.rpush(queue, ticket)
                    continue
                if not await self.redis.exists(alive + head):
                    await self._reap(keys=[queue, wake, alive], args=[head, ms])
                    continue
                # Wait for our wake-up; the timeout only bounds how long a dead head can block us.
                await self.redis.blpop([wake + ticket], timeout=self.ttl / 2)
            await self.redis.delete(wake + ticket)
            yield
        finally:
            self._tickets.discard(ticket)
            try:
                await asyncio.shield(self._release(keys=[queue, wake, alive], args=[ticket, ms]))
                await self.redis.delete(alive + ticket, wake + ticket)
            except Exception:  # the lock then expires through its TTL
                log.warning("releasing lock %s failed (acquired=%s)", key, acquired, exc_info=True)
