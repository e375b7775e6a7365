"""Several parley processes on one PostgreSQL and one Redis behave as one server (issue: scale-out).

Every request gets its own answer, and each user's counts are exactly 0..k-1 — also when one worker
is killed with SIGKILL in the middle of the run (only requests to the dead worker may fail).
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server
from tests.reliability.counting import drive, pg_schema, write_counter_bot

DATABASE_URL = os.environ.get("PARLEY_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not (DATABASE_URL and REDIS_URL), reason="needs PARLEY_TEST_DATABASE_URL and PARLEY_TEST_REDIS_URL"
)


async def test_two_workers_lose_nothing_even_when_one_is_killed(tmp_path: Path) -> None:
    assert DATABASE_URL and REDIS_URL
    data = tmp_path / "data"
    write_counter_bot(data)
    async with pg_schema(DATABASE_URL) as db_url:
        # a lock TTL a stalled worker outlives with its lock (renewed every third of it)
        env = {"PARLEY_DATABASE_URL": db_url, "PARLEY_REDIS_URL": REDIS_URL, "PARLEY_LOCK_TTL": "5s"}
        servers = [start_server(data, tmp_path / f"w{i}.log", env=env) for i in range(2)]
        try:
            bases = [s.base for s in servers]
            # Phase 1: both workers alive, bursts of concurrent messages per user.
            first = await drive(bases, users=20, bursts=3, burst_size=4)
            assert first.failed_elsewhere == [] and first.failed_on_dead_worker == 0
            assert first.ok == first.sent == 20 * 3 * 4
            assert first.check() == (0, 0, 0)
            assert all(seq == list(range(12)) for seq in first.user_counts())

            # Phase 2: kill one worker with SIGKILL while users are sending.
            victim = servers[1]
            run = asyncio.create_task(drive(bases, users=20, bursts=4, burst_size=3, dead={victim.base}))
            await asyncio.sleep(0.3)
            victim.proc.send_signal(signal.SIGKILL)
            second = await run
            assert second.failed_elsewhere == [], second.failed_elsewhere[:5]
            assert second.ok + second.failed_on_dead_worker == second.sent
            # No gap, no duplicate: answered counts are distinct and each user's highest count is
            # below the number of messages that could have been counted.
            for seq in second.user_counts():
                assert len(seq) == len(set(seq))
                assert not seq or max(seq) < 12
            assert second.check()[1:] == (0, 0)

            # Phase 3: the survivor serves everybody; conversations are intact.
            third = await drive([servers[0].base], users=10, bursts=2, burst_size=3)
            assert third.failed_elsewhere == [] and third.check() == (0, 0, 0)
        finally:
            for s in servers:
                stop_server(s)
