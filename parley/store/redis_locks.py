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
from typing import TYPE_CHECKING, Any

from parley.store.locks import QueueFull
from parley.store.redis_client import redis_from_url

if TYPE_CHECKING:
    from redis.asyncio import Redis


log = logging.getLogger("parley.locks")

PREFIX = "parley:lock:"
CLOSE_TIMEOUT = 5.0  # seconds for each step of `close`
WAIT_STEP = 2.0  # seconds of one blocking wait for the lock

# KEYS: queue, wake prefix, alive prefix. Each script is one round trip and atomic.

# Take a ticket: mark it alive, queue it, and return the head (our own ticket: the lock is ours).
# With a limit (> 0), a queue already that long takes no ticket and the answer is nil.
_ENQUEUE = """
local q, ticket, ttl, limit = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if limit > 0 and redis.call('LLEN', q) >= limit then return false end
redis.call('SET', KEYS[3] .. ticket, '1', 'PX', ttl)
redis.call('RPUSH', q, ticket)
return redis.call('LINDEX', q, 0)
"""
# Return the head; a head whose `alive` key expired belongs to a dead process: drop it and wake
# the next ticket (repeatedly, if several died).
_HEAD = """
local q, ttl = KEYS[1], tonumber(ARGV[1])
local head = redis.call('LINDEX', q, 0)
while head and redis.call('EXISTS', KEYS[3] .. head) == 0 do
  redis.call('LPOP', q)
  head = redis.call('LINDEX', q, 0)
  if head then
    redis.call('RPUSH', KEYS[2] .. head, '1')
    redis.call('PEXPIRE', KEYS[2] .. head, ttl)
  end
end
return head
"""

# Leave: pop our ticket if it is the head and wake the next one (else just drop it from the queue),
# and forget our keys.
_RELEASE = """
local q, ticket, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('LINDEX', q, 0) == ticket then
  redis.call('LPOP', q)
  local nxt = redis.call('LINDEX', q, 0)
  if nxt then
    redis.call('RPUSH', KEYS[2] .. nxt, '1')
    redis.call('PEXPIRE', KEYS[2] .. nxt, ttl)
  end
else
  redis.call('LREM', q, 0, ticket)
end
redis.call('DEL', KEYS[3] .. ticket, KEYS[2] .. ticket)
return 1
"""


class RedisLocks:
    """The same `hold(key)` interface as `LocalLocks`, but across processes and hosts."""

    def __init__(self, url: str, *, ttl: float = 10.0) -> None:
        self.redis: Redis = redis_from_url(url, decode_responses=True, max_connections=512)
        self.ttl = ttl
        self._tickets: set[str] = set()
        self._local: dict[str, int] = {}  # turns of this process holding or waiting, per key
        self._heartbeat: asyncio.Task[None] | None = None
        self._enqueue: Any = self.redis.register_script(_ENQUEUE)
        self._head: Any = self.redis.register_script(_HEAD)
        self._release: Any = self.redis.register_script(_RELEASE)

    async def open(self) -> None:
        await self.redis.ping()
        self._heartbeat = asyncio.create_task(self._beat())

    async def close(self) -> None:
        """Stop beating and close the connections, each step bounded: a shutdown must not hang on
        Redis (a test run once hung here, the heartbeat cancelled mid-command and both connections idle)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.wait({self._heartbeat}, timeout=CLOSE_TIMEOUT)
        # not wait_for: it would wait for a cancelled close to finish, which a stuck one never does
        closing = asyncio.create_task(self.redis.aclose())
        done, _ = await asyncio.wait({closing}, timeout=CLOSE_TIMEOUT)
        if not done:
            closing.cancel()
            log.warning("closing the Redis connections took over %s s; left to the process's exit", CLOSE_TIMEOUT)
            return
        closing.result()  # a failure to close is raised, as before

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
    async def hold(self, key: str, limit: int | None = None) -> AsyncIterator[None]:
        queue = f"{PREFIX}q:{key}"
        keys = [queue, f"{PREFIX}wake:", f"{PREFIX}alive:"]
        ticket = secrets.token_hex(12)
        ms = int(self.ttl * 1000)
        self._tickets.add(ticket)
        self._local[key] = self._local.get(key, 0) + 1
        acquired = False
        try:
            # the queue bound counts every worker's turns: the queue is shared
            head = await self._enqueue(keys=keys, args=[ticket, ms, limit or 0])
            if head is None:
                raise QueueFull(key)
            while head != ticket:
                if head is None:  # our ticket was dropped (we stalled past the TTL): queue again
                    head = await self._enqueue(keys=keys, args=[ticket, ms, 0])
                    continue
                # Wait for our wake-up; the timeout only bounds how long a dead head can block us, and
                # stays under the client's read timeout (redis-py's default is 5 s: a longer BLPOP failed
                # a turn that waited more than 5 s for a slow one)
                await self.redis.blpop([keys[1] + ticket], timeout=min(self.ttl / 2, WAIT_STEP))
                head = await self._head(keys=keys, args=[ms])
            acquired = True
            yield
        finally:
            self._tickets.discard(ticket)
            left = self._local.get(key, 1) - 1
            if left > 0:
                self._local[key] = left
            else:
                self._local.pop(key, None)
            try:
                await asyncio.shield(self._release(keys=keys, args=[ticket, ms]))
            except Exception:  # the lock then expires through its TTL
                log.warning("releasing lock %s failed (acquired=%s)", key, acquired, exc_info=True)

    def waiting(self, key: str) -> int:
        """Turns of this process holding or waiting for `key`."""
        return self._local.get(key, 0)
