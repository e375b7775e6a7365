"""Per-conversation locks across processes, against a real Redis (PARLEY_TEST_REDIS_URL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from parley.store.redis_locks import RedisLocks
from tests.conftest import until

REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="PARLEY_TEST_REDIS_URL is not set (no Redis to test against)")
# the heartbeat renews a held lock every ttl/3: long enough for an event loop that stalls a second on a loaded
# machine to keep its lock (a lost lock would let two turns overlap), short enough for the expiry test
TTL = 3.0


@pytest.fixture
async def locks() -> AsyncIterator[RedisLocks]:
    assert REDIS_URL
    lk = RedisLocks(REDIS_URL, ttl=TTL)
    await lk.open()
    yield lk
    await lk.close()


async def test_turns_of_one_conversation_run_one_at_a_time_in_arrival_order(locks: RedisLocks) -> None:
    key = f"test-{uuid.uuid4()}"
    queue = f"parley:lock:q:{key}"
    entered: list[int] = []
    inside = 0
    overlap = False
    first_holds = asyncio.Event()
    let_go = asyncio.Event()

    async def turn(i: int) -> None:
        nonlocal inside, overlap
        async with locks.hold(key):
            inside += 1
            overlap = overlap or inside > 1
            entered.append(i)
            if i == 0:
                first_holds.set()
                await let_go.wait()
            await asyncio.sleep(0.005)
            inside -= 1

    tasks = [asyncio.create_task(turn(0))]
    await first_holds.wait()
    for i in range(1, 15):
        tasks.append(asyncio.create_task(turn(i)))
        # Arrival is when the ticket reaches Redis: wait for it, so the order is defined.
        async def queued(n: int = i + 1) -> bool:
            return bool(await locks.redis.llen(queue) >= n)

        assert await until(queued, seconds=10, step=0.001), f"turn {i}'s ticket never reached Redis"
    let_go.set()
    await asyncio.gather(*tasks)
    assert not overlap
    assert entered == list(range(15))


async def test_two_processes_never_lose_an_update() -> None:
    """Two lock clients (as two workers would have) doing read-modify-write on one counter."""
    assert REDIS_URL
    a, b = RedisLocks(REDIS_URL, ttl=TTL), RedisLocks(REDIS_URL, ttl=TTL)
    await a.open()
    await b.open()
    key = f"test-{uuid.uuid4()}"
    counter = {"n": 0}

    async def bump(lk: RedisLocks) -> None:
        async with lk.hold(key):
            n = counter["n"]
            await asyncio.sleep(0.002)
            counter["n"] = n + 1

    try:
        await asyncio.gather(*(bump(a if i % 2 else b) for i in range(40)))
    finally:
        await a.close()
        await b.close()
    assert counter["n"] == 40


async def test_different_conversations_do_not_wait_for_each_other(locks: RedisLocks) -> None:
    slow_key, fast_key = f"test-{uuid.uuid4()}", f"test-{uuid.uuid4()}"
    order: list[str] = []
    slow_holds, fast_done = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        async with locks.hold(slow_key):
            slow_holds.set()
            # held until the other conversation's turn is over: if that turn waited for this lock, the
            # wait would time out here (no timing race on a loaded machine)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fast_done.wait(), 10)
            order.append("slow")

    async def fast() -> None:
        await slow_holds.wait()
        async with locks.hold(fast_key):
            order.append("fast")
        fast_done.set()

    await asyncio.gather(slow(), fast())
    assert order == ["fast", "slow"]


HOLDER = """
import asyncio, sys
from parley.store.redis_locks import RedisLocks
from tests.conftest import until
async def main():
    lk = RedisLocks(sys.argv[1], ttl=1.0)
    await lk.open()
    async with lk.hold(sys.argv[2]):
        print("held", flush=True)
        await asyncio.sleep(3600)
asyncio.run(main())
"""


async def test_a_lock_held_by_a_killed_process_expires(locks: RedisLocks) -> None:
    assert REDIS_URL
    key = f"test-{uuid.uuid4()}"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, REDIS_URL, key], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == b"held"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        start = time.monotonic()
        async with locks.hold(key):
            waited = time.monotonic() - start
        # Not a timing assertion on speed: a bound that proves the lock was not held forever.
        assert waited < 30
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_closing_does_not_hang_when_redis_never_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shutdown is bounded: a connection that never completes its close is left behind, logged."""
    assert REDIS_URL
    from parley.store import redis_locks

    monkeypatch.setattr(redis_locks, "CLOSE_TIMEOUT", 0.2)
    lk = RedisLocks(REDIS_URL, ttl=TTL)
    await lk.open()
    real_close = lk.redis.aclose
    released = False

    async def stuck() -> None:  # never completes, and ignores being cancelled
        while not released:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.01)

    monkeypatch.setattr(lk.redis, "aclose", stuck)
    try:
        await asyncio.wait_for(asyncio.shield(lk.close()), 10)  # without the bound: a TimeoutError here
        assert lk._heartbeat is not None and lk._heartbeat.done()
    finally:
        released = True
        await real_close()


async def test_a_turn_waits_longer_than_the_clients_read_timeout() -> None:
    """A turn queued behind one that takes 5.5 s gets the lock (redis-py gives up reading after 5 s:
    a blocking wait longer than that failed the waiting turn)."""
    assert REDIS_URL
    lk = RedisLocks(REDIS_URL, ttl=12.0)
    await lk.open()
    key = f"test-{uuid.uuid4()}"
    order: list[str] = []
    first_holds = asyncio.Event()

    async def slow() -> None:
        async with lk.hold(key):
            first_holds.set()
            await asyncio.sleep(5.5)
            order.append("slow")

    async def waiting() -> None:
        await first_holds.wait()
        async with lk.hold(key):
            order.append("next")

    try:
        await asyncio.gather(slow(), waiting())
    finally:
        await lk.close()
    assert order == ["slow", "next"]
