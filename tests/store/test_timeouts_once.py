"""With several workers, each expired conversation's timeout handler runs exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from pathlib import Path

import pytest

from parley.bots.registry import BotRegistry
from parley.conversations import Conversations
from parley.settings import Settings
from parley.store.base import ConversationKey
from parley.store.redis_locks import RedisLocks
from parley.store.sql import SQLiteStore

MAIN = {
    "version": "0.0.1",
    "startNode": "ask",
    "catchAll": {},
    "nodes": [
        {
            "id": "ask-node",
            "name": "ask",
            "onEnter": ['say #builtin_text {"text":"name?"}'],
            "onReceive": [],
            "next": [{"condition": "true", "node": "END"}],
        }
    ],
}
TIMEOUT = {
    "version": "0.0.1",
    "startNode": "entry",
    "catchAll": {},
    "nodes": [
        {
            "id": "t-node",
            "name": "entry",
            "onEnter": [
                'builtin/incrementNumberOfConversations {"output":"n"}',
                'say #builtin_text {"text":"timed out {{temp.n}}"}',
            ],
            "onReceive": None,
            "next": [],
        }
    ],
}


def make_bot(data: Path) -> None:
    bot = data / "bots" / "t"
    (bot / "flows").mkdir(parents=True)
    (bot / "bot.config.json").write_text(json.dumps({"defaultLanguage": "en", "dialog": {"timeoutInterval": "1s"}}))
    (bot / "flows" / "main.flow.json").write_text(json.dumps(MAIN))
    (bot / "flows" / "timeout.flow.json").write_text(json.dumps(TIMEOUT))


REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS_URL, reason="PARLEY_TEST_REDIS_URL is not set")
async def test_two_workers_fire_each_timeout_once(tmp_path: Path) -> None:
    """Two workers in one test process: own store connection, own registry, own Redis lock client.
    (File locks belong to a process, so they are tested with real processes elsewhere.)"""
    assert REDIS_URL
    data = tmp_path / "data"
    make_bot(data)
    db = data / "storage" / "parley.sqlite"
    workers = []
    lock_clients = []
    for _ in range(2):
        settings = Settings.from_env(data, env={"PARLEY_NLU": "off"})
        registry = BotRegistry(data)
        registry.load_all()
        store = SQLiteStore(db)
        await store.open()
        locks = RedisLocks(REDIS_URL, ttl=5.0)  # a stalled loop keeps its lock
        await locks.open()
        lock_clients.append(locks)
        workers.append(Conversations(settings, registry, store, locks=locks, rng=random.Random(1)))
    try:
        bot = workers[0].registry.get("t")
        users = [f"u{i}-{uuid.uuid4().hex[:6]}" for i in range(10)]
        for u in users:
            await workers[0].converse(bot, u, {"type": "text", "text": "hi"})  # type: ignore[arg-type]
        later = time.time() + 5
        fired = await asyncio.gather(*(w.fire_timeouts(now=later) for w in workers))
        assert sum(fired) == len(users)
        for w in workers:
            await w.event_log.flush()  # the log is written in batches
        for u in users:
            events = await workers[1].store.events(ConversationKey("t", "api", u))
            proactive = [e for e in events if e["direction"] == "proactive"]
            assert len(proactive) == 1
            assert [p.get("text") for p in proactive[0]["payload"]] == ["timed out 0"]
        # Nothing is left to fire.
        assert sum(await asyncio.gather(*(w.fire_timeouts(now=later + 10) for w in workers))) == 0
    finally:
        for w in workers:
            await w.store.close()
        for lk in lock_clients:
            await lk.close()
