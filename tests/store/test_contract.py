"""The store contract, run on both backends: SQLite (a file in tmp) and PostgreSQL
(PARLEY_TEST_DATABASE_URL, in a schema of its own; skipped when it is not set)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from parley.engine.state import Memory
from parley.security.users import User
from parley.store.base import ConversationKey, Saved
from parley.store.postgres import PostgresStore
from tests.reliability.counting import pg_schema
from tests.store.conftest import check_log_read_by_conversation

DATABASE_URL = os.environ.get("PARLEY_TEST_DATABASE_URL")
needs_pg = pytest.mark.skipif(not DATABASE_URL, reason="PARLEY_TEST_DATABASE_URL is not set (no PostgreSQL)")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    if not DATABASE_URL:
        pytest.skip("PARLEY_TEST_DATABASE_URL is not set (no PostgreSQL)")
    async with pg_schema(DATABASE_URL) as url:
        yield url


KEY = ConversationKey("bot", "api", "alice")


async def test_a_saved_conversation_loads_back_with_key_order(store: Any) -> None:
    loaded = await store.load(KEY)
    assert loaded.memory.context == {} and loaded.context_expiry is None
    m = loaded.memory
    m.user["name"] = "Alice"
    m.context = {"currentFlow": "main.flow.json", "currentNode": "entry", "queue": {"instructions": []}}
    m.session = {"lastMessages": [{"eventId": "1"}], "workflows": {}, "slots": {}}
    m.temp = {"z": 1, "a": 2}
    m.kv = {"numberOfConversations": 3}
    m.bot_kv_writes = {"global": {"x": 1}}
    await store.save(KEY, Saved(m, 100.0, 200.0, [{"eventId": "1", "direction": "incoming", "payload": {"t": 1}}]))
    again = await store.load(KEY)
    assert again.memory.user == {"name": "Alice"}
    assert list(again.memory.context) == ["currentFlow", "currentNode", "queue"]
    assert list(again.memory.temp) == ["z", "a"]
    assert again.memory.kv == {"numberOfConversations": 3}
    assert again.memory.bot_kv == {"global": {"x": 1}}
    assert (again.context_expiry, again.session_expiry) == (100.0, 200.0)
    assert [e["payload"] for e in await store.events(KEY)] == [{"t": 1}]
    assert await store.expired_contexts(150.0) == [KEY]
    assert await store.delete_expired_sessions(250.0) == 1
    cleared = await store.load(KEY)
    assert cleared.memory.context == {} and cleared.memory.user == {"name": "Alice"}


async def test_reopening_runs_no_migration_twice(pg_url: str) -> None:
    for _ in range(2):
        s = PostgresStore(pg_url)
        await s.open()
        await s.close()
    conn = await asyncpg.connect(pg_url)
    try:
        versions = await conn.fetch("SELECT version FROM schema_version ORDER BY version")
    finally:
        await conn.close()
    assert [r["version"] for r in versions] == list(range(1, len(versions) + 1))


async def test_the_postgres_event_log_has_no_index_by_conversation_and_is_still_read_by_it(pg_url: str) -> None:
    """As SQLite's migration 7: a database made before it loses the index at the next start."""
    from parley.store.postgres import MIGRATIONS

    conn = await asyncpg.connect(pg_url)
    try:  # a database of the schema before the migration, with the index
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, sql in enumerate(MIGRATIONS[:-1], start=1):
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        assert "events_conversation" in await _event_indexes(conn)
        await check_log_read_by_conversation(PostgresStore(pg_url))
        assert await _event_indexes(conn) == {"events_pkey", "events_created"}
    finally:
        await conn.close()


async def _event_indexes(conn: Any) -> set[str]:
    rows = await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'events' "
                            "AND schemaname = current_schema()")
    return {r["indexname"] for r in rows}


async def test_a_failing_save_leaves_the_previous_state(store: Any) -> None:
    m = Memory(user={"n": 1}, context={"currentFlow": "a"})
    await store.save(KEY, Saved(m, 1.0, 2.0))
    broken = Memory(user={"n": 2}, context={"currentFlow": "b"})
    broken.bot_kv_writes = {"global": {"bad": {1, 2}}}  # a set cannot be encoded as JSON
    with pytest.raises((TypeError, asyncpg.DataError)):
        await store.save(KEY, Saved(broken, 1.0, 2.0))
    after = await store.load(KEY)
    assert after.memory.context == {"currentFlow": "a"} and after.memory.user == {"n": 1}


async def test_turns_of_two_bots_keep_each_others_user_attributes(store: Any) -> None:
    a, b = ConversationKey("a", "api", "u"), ConversationKey("b", "api", "u")
    la, lb = await store.load(a), await store.load(b)
    before_a, before_b = dict(la.memory.user), dict(lb.memory.user)
    la.memory.user["from_a"] = 1
    lb.memory.user["from_b"] = 2
    await store.save(a, Saved(la.memory, 1.0, 2.0, user_before=before_a))
    await store.save(b, Saved(lb.memory, 1.0, 2.0, user_before=before_b))
    assert (await store.load(a)).memory.user == {"from_a": 1, "from_b": 2}


async def test_a_first_turn_creates_the_user_and_a_turn_that_changes_nothing_keeps_it(store: Any) -> None:
    first = await store.load(KEY)
    assert not first.user_found
    # a first turn that sets no attribute still creates the user (Botpress's users table has them all)
    await store.save(KEY, Saved(first.memory, 1.0, 2.0, user_before={}, user_found=first.user_found))
    second = await store.load(KEY)
    assert second.user_found and second.memory.user == {}
    # another bot's turn sets an attribute; then this bot's turn, which loaded before it, changes nothing
    other = ConversationKey("other", "api", KEY.user_id)
    lo = await store.load(other)
    lo.memory.user["lang"] = "fr"
    await store.save(other, Saved(lo.memory, 1.0, 2.0, user_before={}, user_found=lo.user_found))
    second.memory.context = {"currentFlow": "main.flow.json"}
    await store.save(KEY, Saved(second.memory, 1.0, 2.0, user_before={}, user_found=True))
    again = await store.load(KEY)
    assert again.memory.user == {"lang": "fr"} and again.memory.context == {"currentFlow": "main.flow.json"}


async def test_bot_values_load_back_and_a_none_write_deletes(store: Any) -> None:
    m = Memory()
    m.bot_kv_writes = {"good": {"x": [1, "two"]}, "text": "s", "none": None}
    await store.save(KEY, Saved(m, 1.0, 2.0))
    assert (await store.load(KEY)).memory.bot_kv == {"good": {"x": [1, "two"]}, "text": "s"}


async def test_a_stored_answer_is_found_by_message_id(store: Any) -> None:
    await store.save(KEY, Saved(Memory(), 1.0, 2.0, message_id="m-1", answer={"responses": [{"type": "text"}]}))
    assert await store.find_answer(KEY, "m-1") == {"responses": [{"type": "text"}]}
    assert await store.find_answer(KEY, "m-2") is None


async def test_collaborators(store: Any) -> None:
    assert await store.create_first_user(User("Admin@X.io", "h", "admin", True, ["*"]))
    assert not await store.create_first_user(User("other@x.io", "h"))
    user = await store.get_user("ADMIN@x.io")
    assert user is not None and user.super_admin and user.bots == ["*"]
    user.token_version += 1
    await store.put_user(user)
    assert (await store.get_user("admin@x.io")).token_version == user.token_version  # type: ignore[union-attr]
    assert [u.email for u in await store.list_users()] == ["admin@x.io"]
    assert await store.delete_user("admin@x.io") and await store.get_user("admin@x.io") is None


async def test_advisory_locks_serialise_one_conversation_across_processes(pg_url: str) -> None:
    """Two stores (as two workers) doing read-modify-write on one counter under their locks."""
    s1, s2 = PostgresStore(pg_url), PostgresStore(pg_url)
    await s1.open()
    await s2.open()
    l1, l2 = s1.locks(), s2.locks()
    counter = {"n": 0}

    async def bump(locks: object) -> None:
        async with locks.hold("bot::api::u"):  # type: ignore[attr-defined]
            n = counter["n"]
            await asyncio.sleep(0.002)
            counter["n"] = n + 1

    try:
        await asyncio.gather(*(bump(l1 if i % 2 else l2) for i in range(30)))
    finally:
        await s1.close()
        await s2.close()
    assert counter["n"] == 30
