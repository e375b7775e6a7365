"""The outbox and the schedule of later messages, on both backends (PostgreSQL when
PARLEY_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from parley.engine.state import Memory
from parley.store.base import ConversationKey, Saved

DATABASE_URL = os.environ.get("PARLEY_TEST_DATABASE_URL")
KEY = ConversationKey("bot", "api", "alice")
OTHER = ConversationKey("bot", "api", "bob")


def entry(text: str, source: str = "timeout", created_at: float | None = None) -> dict[str, Any]:
    return {"eventId": f"e-{text}", "source": source, "responses": [{"type": "text", "text": text}],
            "createdAt": created_at if created_at is not None else time.time()}


async def test_outbox_entries_are_written_with_the_turn_and_read_after_an_id(store: Any) -> None:
    assert await store.last_outbox_id(KEY) == 0
    first = await store.save(KEY, Saved(Memory(), 1.0, 2.0, outbox=[entry("one"), entry("two")]))
    assert await store.save(KEY, Saved(Memory(), 1.0, 2.0)) == []
    other = await store.save(OTHER, Saved(Memory(), 1.0, 2.0, outbox=[entry("bob's")]))
    third = await store.save(KEY, Saved(Memory(), 1.0, 2.0, outbox=[entry("three", "event", 1234.5)]))
    ids = first + third
    assert ids == sorted(ids) and len(set(ids + other)) == 4
    got = await store.outbox(KEY)
    assert [e["id"] for e in got] == ids
    assert [e["responses"][0]["text"] for e in got] == ["one", "two", "three"]
    assert got[2] == {"id": ids[2], "eventId": "e-three", "source": "event", "createdAt": 1234.5,
                      "responses": [{"type": "text", "text": "three"}]}
    assert [e["id"] for e in await store.outbox(KEY, after=ids[0])] == ids[1:]
    assert [e["id"] for e in await store.outbox(KEY, after=ids[0], limit=1)] == ids[1:2]
    assert await store.outbox(KEY, after=ids[-1]) == []
    assert await store.last_outbox_id(KEY) == ids[-1]
    assert [e["responses"][0]["text"] for e in await store.outbox(OTHER)] == ["bob's"]
    # an entry found again by its event id (a retried proactive event), in its own conversation only
    assert await store.outbox_id_of(KEY, "e-two") == ids[1]
    assert await store.outbox_id_of(OTHER, "e-two") is None
    assert await store.outbox_id_of(KEY, "e-never") is None


async def test_a_failed_save_writes_no_outbox_entry(store: Any) -> None:
    broken = Memory(user={"bad": {1, 2}})  # a set is not JSON
    with pytest.raises(TypeError):
        await store.save(KEY, Saved(broken, 1.0, 2.0, outbox=[entry("lost")], schedule=[{"due": 0, "payloads": []}]))
    assert await store.outbox(KEY) == []
    assert await store.due_conversations(time.time()) == []


async def test_scheduled_messages_come_due_and_leave_the_schedule_when_delivered(store: Any) -> None:
    now = time.time()
    await store.save(KEY, Saved(Memory(), None, None, schedule=[
        {"due": now + 10, "payloads": [{"type": "text", "text": "soon"}]},
        {"due": now + 100, "payloads": [{"type": "text", "text": "later"}]},
    ]))
    await store.save(ConversationKey("other-bot", "api", "alice"), Saved(Memory(), None, None, schedule=[
        {"due": now + 10, "payloads": [{"type": "text", "text": "other bot"}]},
    ]))
    assert await store.due_conversations(now) == []
    assert set(await store.due_conversations(now + 20)) == {KEY, ConversationKey("other-bot", "api", "alice")}
    assert await store.due_conversations(now + 20, bot_ids=["bot"]) == [KEY]
    assert await store.due_conversations(now + 20, bot_ids=[]) == []
    due = await store.due_messages(KEY, now + 20)
    assert [p for _, p in due] == [[{"type": "text", "text": "soon"}]]
    ids = await store.save(KEY, Saved(Memory(), None, None, outbox=[entry("soon", "scheduled")],
                                      unschedule=[due[0][0]]))
    assert len(ids) == 1
    assert await store.due_messages(KEY, now + 20) == []
    assert [p[0]["text"] for _, p in await store.due_messages(KEY, now + 200)] == ["later"]


async def test_retention_drops_old_outbox_entries(store: Any) -> None:
    now = time.time()
    await store.save(KEY, Saved(Memory(), 1.0, 2.0, outbox=[entry("old", created_at=now - 1000), entry("new")]))
    removed = await store.prune("bot", now - 500, now - 500)
    assert removed >= 1
    assert [e["responses"][0]["text"] for e in await store.outbox(KEY)] == ["new"]
