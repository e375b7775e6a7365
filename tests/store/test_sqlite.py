"""The embedded SQLite store and the conversation locks, used directly."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.engine.state import Memory, new_session
from parley.store.base import ConversationKey, Saved
from parley.store.locks import FileLocks, LocalLocks, QueueFull
from parley.store.sql import MIGRATIONS, SQLiteStore, open_store
from tests.store.conftest import check_log_read_by_conversation

KEY = ConversationKey("bot-a", "api", "user-1")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "storage" / "parley.sqlite")
    await s.open()
    yield s
    await s.close()


def memory(**kw: object) -> Memory:
    m = Memory(
        user={"name": "Ada", "tags": ["a", "é", "😀"]},
        context={"currentFlow": "main.flow.json", "currentNode": "entry", "queue": {"instructions": []}},
        session={"lastMessages": [{"user": "hi"}], "workflows": {}, "custom": 1.5},
        temp={"n": 3, "nested": {"x": None, "y": True}},
        kv={"numberOfConversations": 2},
    )
    for k, v in kw.items():
        setattr(m, k, v)
    return m


def saved(m: Memory, *, context_expiry: float | None = None, session_expiry: float | None = None,
          events: list[dict[str, object]] | None = None) -> Saved:
    now = time.time()
    return Saved(m, context_expiry or now + 60, session_expiry or now + 120, events or [])


# ------------------------------------------------------------------------------------ round trip


async def test_a_new_conversation_loads_empty(store: SQLiteStore) -> None:
    loaded = await store.load(KEY)
    assert loaded.memory.user == {} and loaded.memory.context == {} and loaded.memory.temp == {}
    assert loaded.memory.session == new_session()
    assert loaded.context_expiry is None and loaded.session_expiry is None


async def test_save_then_load_round_trips_every_part(store: SQLiteStore) -> None:
    m = memory()
    m.bot_kv_writes = {"global": {"open": True}, "var:x": {"value": 1, "expiresAt": None}}
    events = [{"eventId": "1", "direction": "incoming", "payload": {"type": "text", "text": "hi"}},
              {"eventId": "1", "direction": "outgoing", "payload": [{"type": "text", "text": "Hello"}]}]
    await store.save(KEY, Saved(m, 1000.5, 2000.25, events))

    loaded = await store.load(KEY)
    assert loaded.memory.user == m.user
    assert loaded.memory.context == m.context
    assert loaded.memory.session == m.session
    assert loaded.memory.temp == m.temp
    assert loaded.memory.kv == m.kv
    assert loaded.memory.bot_kv == {"global": {"open": True}, "var:x": {"value": 1, "expiresAt": None}}
    assert (loaded.context_expiry, loaded.session_expiry) == (1000.5, 2000.25)
    assert [(e["eventId"], e["direction"], e["payload"]) for e in await store.events(KEY)] == [
        ("1", "incoming", {"type": "text", "text": "hi"}),
        ("1", "outgoing", [{"type": "text", "text": "Hello"}]),
    ]


async def test_bot_kv_is_per_bot_and_deleted_by_none(store: SQLiteStore) -> None:
    m = memory()
    m.bot_kv_writes = {"a": 1, "b": 2}
    await store.save(KEY, saved(m))
    other_bot = ConversationKey("bot-b", "api", "user-1")
    assert (await store.load(other_bot)).memory.bot_kv == {}
    assert (await store.load(ConversationKey("bot-a", "api", "someone"))).memory.bot_kv == {"a": 1, "b": 2}
    m.bot_kv_writes = {"a": None}
    await store.save(KEY, saved(m))
    assert (await store.load(KEY)).memory.bot_kv == {"b": 2}


async def test_user_memory_is_per_channel_and_user_not_per_bot(store: SQLiteStore) -> None:
    await store.save(KEY, saved(memory()))
    assert (await store.load(ConversationKey("bot-b", "api", "user-1"))).memory.user["name"] == "Ada"
    assert (await store.load(ConversationKey("bot-b", "web", "user-1"))).memory.user == {}
    other = await store.load(ConversationKey("bot-b", "api", "user-1"))
    assert other.memory.context == {} and other.memory.kv == {}


async def test_user_changes_merge_with_concurrent_writers(store: SQLiteStore) -> None:
    """Two turns loaded the same attributes; each writes only what it changed."""
    base = memory(user={"name": "Ada", "city": "Paris", "old": 1})
    await store.save(KEY, saved(base))
    before = {"name": "Ada", "city": "Paris", "old": 1}
    first = memory(user={"name": "Ada", "city": "London", "old": 1})
    second = memory(user={"name": "Ada L.", "city": "Paris"})
    other_key = ConversationKey("bot-b", "api", "user-1")
    await store.save(KEY, Saved(first, time.time() + 60, time.time() + 60, [], dict(before)))
    await store.save(other_key, Saved(second, time.time() + 60, time.time() + 60, [], dict(before)))
    assert (await store.load(KEY)).memory.user == {"name": "Ada L.", "city": "London"}


# --------------------------------------------------------------------------------- expiry queries


async def test_expired_contexts_and_sessions(store: SQLiteStore) -> None:
    now = time.time()
    await store.save(KEY, saved(memory(), context_expiry=now - 1, session_expiry=now + 100))
    idle = ConversationKey("bot-a", "api", "idle")
    await store.save(idle, saved(memory(), context_expiry=now - 1, session_expiry=now - 1))
    fresh = ConversationKey("bot-a", "api", "fresh")
    await store.save(fresh, saved(memory(), context_expiry=now + 100, session_expiry=now + 100))
    no_context = ConversationKey("bot-a", "api", "no-context")
    await store.save(no_context, saved(memory(context={}), context_expiry=now - 1, session_expiry=now + 100))

    assert set(await store.expired_contexts(now)) == {KEY, idle}
    assert await store.delete_expired_sessions(now) == 1
    forgotten = await store.load(idle)
    assert forgotten.memory.context == {} and forgotten.memory.temp == {}
    assert forgotten.memory.session == new_session()
    assert forgotten.memory.user["name"] == "Ada", "user memory outlives the session"
    assert forgotten.memory.kv == {"numberOfConversations": 2}, "so does the conversation counter"
    assert await store.expired_contexts(now) == [KEY]


def _future_bucket() -> float:
    """The start of an expiry bucket a day ahead: far enough that no session could have expired."""
    return (math.floor(time.time() / 60) + 24 * 60) * 60.0


async def test_expiries_moved_within_one_bucket_are_still_found_at_the_right_time(store: SQLiteStore) -> None:
    """Turns a few seconds apart move the expiry without rewriting its bucket (the saves pass on what
    they loaded): the janitor must still see the latest expiry, neither earlier nor later."""
    start = _future_bucket()
    await store.save(KEY, saved(memory(), context_expiry=start + 5, session_expiry=start + 50))
    for step in (10, 20, 30):  # later turns of the same conversation, same buckets
        loaded = await store.load(KEY)
        await store.save(KEY, Saved(loaded.memory, start + step, start + 50 + step, stored_dues=loaded.stored_dues))
    assert await store.expired_contexts(start + 29) == []
    assert await store.expired_contexts(start + 31) == [KEY]
    loaded = await store.load(KEY)  # a turn that moves the expiry into the next bucket
    await store.save(KEY, Saved(loaded.memory, start + 70, start + 120, stored_dues=loaded.stored_dues))
    assert await store.expired_contexts(start + 69) == []
    assert await store.expired_contexts(start + 71) == [KEY]
    assert await store.delete_expired_sessions(start + 119) == 0
    assert await store.delete_expired_sessions(start + 121) == 1
    assert await store.expired_contexts(start + 1000) == []


async def test_a_dialog_that_starts_or_ends_within_one_bucket_is_timed_out_only_while_it_runs(
        store: SQLiteStore) -> None:
    start = _future_bucket()
    await store.save(KEY, saved(memory(context={}), context_expiry=start + 5, session_expiry=start + 50))
    for step, context in ((10, {"currentFlow": "main.flow.json"}), (20, {}), (30, {"currentFlow": "main.flow.json"})):
        loaded = await store.load(KEY)  # a later turn of the same bucket starts or ends the dialog
        loaded.memory.context = context
        await store.save(KEY, Saved(loaded.memory, start + step, start + 60, stored_dues=loaded.stored_dues))
        assert await store.expired_contexts(start + step - 1) == []
        assert await store.expired_contexts(start + step + 1) == ([KEY] if context else [])


def _context_due(store: SQLiteStore) -> int | None:
    with sqlite3.connect(store.path) as db:
        row = db.execute("SELECT context_due FROM conversations WHERE user_id=?", (KEY.user_id,)).fetchone()
        return None if row[0] is None else int(row[0])


async def test_an_ended_dialog_keeps_its_bucket_until_the_janitor_clears_it(store: SQLiteStore) -> None:
    """Ending a dialog does not move the conversation's index entry (a short dialog would move it on
    most turns); it is never timed out for it, and the janitor clears the bucket once it is due."""
    start = _future_bucket()
    await store.save(KEY, saved(memory(), context_expiry=start + 5, session_expiry=start + 600))
    loaded = await store.load(KEY)
    loaded.memory.context = {}
    await store.save(KEY, Saved(loaded.memory, start + 10, start + 600, stored_dues=loaded.stored_dues))
    assert _context_due(store) == math.floor(start / 60)
    assert await store.expired_contexts(start + 100) == []
    assert await store.delete_expired_sessions(start + 100) == 0
    assert _context_due(store) is None


async def test_a_dialog_started_while_the_janitor_clears_its_old_bucket_still_times_out(store: SQLiteStore) -> None:
    """A turn loads an ended dialog whose kept bucket is due, the janitor clears that bucket, and the
    turn starts a dialog expiring in the same bucket: the bucket is written again, not assumed."""
    due = (math.floor(time.time() / 60) - 1) * 60.0  # the previous minute: due now
    await store.save(KEY, saved(memory(), context_expiry=due + 1, session_expiry=time.time() + 3600))
    loaded = await store.load(KEY)
    loaded.memory.context = {}
    await store.save(KEY, Saved(loaded.memory, due + 2, time.time() + 3600, stored_dues=loaded.stored_dues))
    loaded = await store.load(KEY)  # a message starts a new dialog...
    await store.delete_expired_sessions(time.time())  # ...while the janitor runs
    loaded.memory.context = {"currentFlow": "main.flow.json"}
    await store.save(KEY, Saved(loaded.memory, due + 3, time.time() + 3600, stored_dues=loaded.stored_dues))
    assert await store.expired_contexts(time.time()) == [KEY]


async def test_a_session_forgotten_by_the_janitor_during_a_turn_is_still_found(store: SQLiteStore) -> None:
    """The janitor clears expired sessions without the conversation's lock. A turn that loaded the
    conversation just before, and saves its expiries back, must leave it findable again."""
    now = time.time()
    await store.save(KEY, saved(memory(), context_expiry=now + 1, session_expiry=now + 2))
    loaded = await store.load(KEY)
    assert await store.delete_expired_sessions(now + 3) == 1  # meanwhile, the janitor
    await store.save(KEY, Saved(loaded.memory, loaded.context_expiry, loaded.session_expiry,
                                stored_dues=loaded.stored_dues))
    assert await store.expired_contexts(now + 1_000) == [KEY]
    assert await store.delete_expired_sessions(now + 1_000) == 1


async def test_conversations_of_an_older_schema_still_time_out(tmp_path: Path) -> None:
    """A database written before the expiry buckets (schema 4) is upgraded in place: its waiting
    conversations are found by the janitor and its idle sessions forgotten."""
    path = tmp_path / "storage" / "parley.sqlite"
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, sql in enumerate(MIGRATIONS[:4], start=1):
        db.executescript(sql)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    insert = ("INSERT INTO conversations (bot_id, channel, user_id, context, session, context_expiry, session_expiry, "
              "updated_at) VALUES ('bot-a', 'api', ?, ?, '{}', ?, ?, 0)")
    db.execute(insert, ("waiting", '{"currentFlow": "main.flow.json"}', 1000.0, 5000.0))
    db.execute(insert, ("ended", "{}", 1000.0, 2000.0))
    db.close()
    s = SQLiteStore(path)
    await s.open()
    try:
        assert await s.expired_contexts(999.0) == []
        assert await s.expired_contexts(1001.0) == [ConversationKey("bot-a", "api", "waiting")]
        assert await s.delete_expired_sessions(2001.0) == 1
        assert (await s.load(ConversationKey("bot-a", "api", "waiting"))).memory.context == {
            "currentFlow": "main.flow.json"}
    finally:
        await s.close()


# ---------------------------------------------------------------------------------------- schema


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")]


async def test_open_creates_the_schema_and_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "parley.sqlite"
    s = SQLiteStore(path)
    await s.open()
    await s.save(KEY, saved(memory()))
    await s.close()
    assert {"conversations", "chat_users", "bot_kv", "events", "schema_version"} <= _tables(path)
    assert _versions(path) == list(range(1, len(MIGRATIONS) + 1))
    for _ in range(2):  # migrations are idempotent
        again = SQLiteStore(path)
        await again.open()
        assert (await again.load(KEY)).memory.user["name"] == "Ada"
        await again.close()
    assert _versions(path) == list(range(1, len(MIGRATIONS) + 1))


async def test_the_event_log_is_written_through_one_index_and_still_read_by_conversation(tmp_path: Path) -> None:
    """Migration 7 drops the log's index by conversation (each turn paid for it; nothing on a request's
    path reads it); a conversation's entries are still found, in order, among other conversations'."""
    path = tmp_path / "parley.sqlite"
    with sqlite3.connect(path) as db:  # a file of schema 6, with the index
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, sql in enumerate(MIGRATIONS[:6], start=1):
            db.executescript(sql)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    await check_log_read_by_conversation(SQLiteStore(path))
    with sqlite3.connect(path) as db:
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='events'")}
    assert indexes == {"events_created"}


async def test_a_closed_store_can_be_opened_again(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "parley.sqlite")
    await s.open()
    await s.save(KEY, saved(memory()))
    await s.close()
    await s.open()
    try:
        assert (await s.load(KEY)).memory.user["name"] == "Ada"
    finally:
        await s.close()


async def test_an_older_database_is_migrated_forward(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite"
    with sqlite3.connect(path) as db:  # a file written by the first release: schema version 1 only
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[0].split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute("INSERT INTO chat_users VALUES ('api', 'user-1', '{\"name\":\"Old\"}', 0, 0)")
    s = SQLiteStore(path)
    await s.open()
    try:
        assert (await s.load(KEY)).memory.user == {"name": "Old"}
    finally:
        await s.close()
    assert _versions(path) == list(range(1, len(MIGRATIONS) + 1))


def test_open_store_reads_sqlite_urls(tmp_path: Path) -> None:
    assert open_store(f"sqlite:///{tmp_path}/a.sqlite").path == tmp_path / "a.sqlite"
    with pytest.raises(ValueError):
        open_store("mysql://localhost/parley")


# ----------------------------------------------------------------------------------- checkpoints

WAL_FRAME = 4096 + 24  # a page and its frame header


async def _save_turns(store: SQLiteStore, n: int, users: int = 100) -> None:
    for i in range(n):
        await store.save(ConversationKey("bot-a", "api", f"u{i % users}"), saved(memory()))


def _wal_pages(path: Path) -> int:
    return (path.with_name(path.name + "-wal").stat().st_size) // WAL_FRAME


async def test_turns_leave_the_checkpoint_to_the_store_thread(tmp_path: Path) -> None:
    """A turn whose commit takes the WAL past SQLite's threshold (1,000 pages) used to copy the whole
    WAL into the database file before answering; now the store's thread does it."""
    path = tmp_path / "parley.sqlite"
    s = SQLiteStore(path, checkpoint_every=3600)  # no background round during this test
    await s.open()
    try:
        await _save_turns(s, 400)
        pages = _wal_pages(path)
        assert pages > 1100  # no save checkpointed: at SQLite's own threshold the WAL stops near 1,000 pages
        busy, in_wal, copied = await s.checkpoint()
        assert busy == 0 and in_wal == copied == pages
        await _save_turns(s, 100)
        assert _wal_pages(path) == pages  # written again from its start: checkpointed pages are reused
        assert (await s.load(ConversationKey("bot-a", "api", "u7"))).memory.temp == memory().temp
    finally:
        await s.close()


async def test_the_wal_stays_bounded_by_background_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite"
    s = SQLiteStore(path, checkpoint_every=0.05)
    await s.open()
    try:
        for _ in range(10):  # about 8,000 pages written in all
            await _save_turns(s, 200)
            await asyncio.sleep(0.2)
        assert _wal_pages(path) < 3000
    finally:
        await s.close()


# ------------------------------------------------------------------------- rows kept between turns


async def _turn(store: SQLiteStore, key: ConversationKey, **changes: object) -> None:
    """A turn as the conversation layer runs it: load, change, save what it loaded plus `changes`."""
    loaded = await store.load(key)
    m = loaded.memory
    before = dict(m.user)
    for name, value in changes.items():
        setattr(m, name, value)
    await store.save(key, Saved(m, time.time() + 60, time.time() + 120, [], before, user_found=loaded.user_found,
                                stored_dues=loaded.stored_dues))


def _as_loaded(loaded: object) -> object:
    from dataclasses import asdict

    return asdict(loaded)  # type: ignore[call-overload]


async def test_a_conversations_next_turn_does_not_read_its_row_again(store: SQLiteStore) -> None:
    await _turn(store, KEY, context={"currentFlow": "main.flow.json", "currentNode": "a"})
    statements: list[str] = []
    assert store._writer is not None
    store._writer.set_trace_callback(statements.append)
    loaded = await store.load(KEY)
    store._writer.set_trace_callback(None)
    assert loaded.memory.context == {"currentFlow": "main.flow.json", "currentNode": "a"}
    assert not [s for s in statements if "FROM (SELECT 1)" in s]


async def test_kept_rows_load_exactly_what_the_database_holds(tmp_path: Path) -> None:
    """Turns of two bots with two users, changing the user's attributes, the bot's key/values, expiries
    and the dialog: what each turn loads equals what a second store on the file, which keeps nothing,
    reads at that moment."""
    path = tmp_path / "parley.sqlite"
    s, truth = SQLiteStore(path), SQLiteStore(path)
    await asyncio.gather(s.open(), truth.open())
    try:
        keys = [ConversationKey(b, "api", u) for b in ("bot-a", "bot-b") for u in ("u1", "u2")]
        for i in range(60):
            key = keys[(i * 7 + i // 5) % len(keys)]
            loaded = await s.load(key)
            assert _as_loaded(loaded) == _as_loaded(await truth.load(key)), i
            m = loaded.memory
            before = dict(m.user)
            m.context = {"currentNode": f"n{i}"} if i % 5 else {}
            if i % 3 == 0:
                m.user = {**m.user, f"seen-{i % 2}": i}
            if i % 4 == 0:
                m.bot_kv_writes = {"k": i} if i % 8 else {"k": None}
            expiry = time.time() + (3600 if i % 2 else -1)
            await s.save(key, Saved(m, expiry, expiry + 60, [], before, user_found=loaded.user_found,
                                    stored_dues=loaded.stored_dues))
            m.bot_kv_writes = {}
    finally:
        await s.close()
        await truth.close()


async def test_a_kept_row_gives_way_to_another_connections_write(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite"
    a, b = SQLiteStore(path), SQLiteStore(path)
    await asyncio.gather(a.open(), b.open())
    try:
        await _turn(a, KEY, temp={"from": "a"})
        await _turn(b, KEY, temp={"from": "b"}, user={"name": "Grace"})
        loaded = (await a.load(KEY)).memory
        assert loaded.temp == {"from": "b"} and loaded.user == {"name": "Grace"}
    finally:
        await a.close()
        await b.close()


async def test_a_kept_row_gives_way_to_another_bots_change_of_the_users_attributes(store: SQLiteStore) -> None:
    other_bot = ConversationKey("bot-b", "api", KEY.user_id)
    await _turn(store, KEY)
    await _turn(store, other_bot, user={"name": "Grace", "tags": ["a", "é", "😀"]})
    assert (await store.load(KEY)).memory.user["name"] == "Grace"


async def test_a_turn_that_loaded_before_another_bots_change_of_the_user_keeps_nothing_stale(
        store: SQLiteStore) -> None:
    other_bot = ConversationKey("bot-b", "api", KEY.user_id)
    await _turn(store, KEY)
    first = await store.load(KEY)  # a turn of bot-a is running ...
    await _turn(store, other_bot, user={"name": "Grace"})  # ... when one of bot-b changes the user
    await store.save(KEY, Saved(first.memory, time.time() + 60, time.time() + 120, [], dict(first.memory.user),
                                user_found=True, stored_dues=first.stored_dues))
    assert (await store.load(KEY)).memory.user == {"name": "Grace"}


async def test_a_kept_row_gives_way_to_a_change_of_the_bots_key_values(store: SQLiteStore) -> None:
    await _turn(store, KEY)
    someone = ConversationKey(KEY.bot_id, "api", "someone-else")
    loaded = await store.load(someone)
    loaded.memory.bot_kv_writes = {"global": {"open": False}}
    await store.save(someone, saved(loaded.memory))
    assert (await store.load(KEY)).memory.bot_kv == {"global": {"open": False}}


async def test_a_kept_row_gives_way_to_any_other_write_on_the_same_connection(store: SQLiteStore) -> None:
    """`data_version` does not see the loading connection's own commits: a write made there other than a
    turn's save (none today) must drop the kept rows itself."""
    await _turn(store, KEY, user={"name": "Ada"})
    await _turn(store, KEY)
    await store._commit(lambda db: db.execute("UPDATE chat_users SET attributes='{\"name\":\"Grace\"}'"))
    assert (await store.load(KEY)).memory.user == {"name": "Grace"}


async def test_a_kept_row_gives_way_to_the_janitor(store: SQLiteStore) -> None:
    loaded = await store.load(KEY)
    await store.save(KEY, Saved(memory(), time.time() - 5000, time.time() - 4000, [], None,
                                stored_dues=loaded.stored_dues))
    assert await store.delete_expired_sessions(time.time()) == 1
    forgotten = (await store.load(KEY)).memory
    assert forgotten.context == {} and forgotten.temp == {} and forgotten.session == new_session()


# ------------------------------------------------------------------------------------- atomicity


async def test_a_value_that_cannot_be_serialized_changes_nothing(store: SQLiteStore) -> None:
    await store.save(KEY, saved(memory(), events=[{"eventId": "1", "direction": "incoming", "payload": {}}]))
    broken = memory(user={"name": "Bob"}, temp={"t": 1})
    broken.bot_kv_writes = {"fine": 1, "bad": {1, 2, 3}}  # a set is not JSON
    with pytest.raises(TypeError):
        await store.save(KEY, saved(broken, events=[{"eventId": "2", "direction": "incoming", "payload": {}}]))
    loaded = await store.load(KEY)
    assert loaded.memory.user["name"] == "Ada"
    assert loaded.memory.temp == memory().temp
    assert loaded.memory.bot_kv == {}
    assert [e["eventId"] for e in await store.events(KEY)] == ["1"]


async def test_a_failure_mid_transaction_rolls_back_every_write(store: SQLiteStore) -> None:
    m = memory()
    m.bot_kv_writes = {"global": {"v": 1}}
    await store.save(KEY, saved(m, events=[{"eventId": "1", "direction": "incoming", "payload": "ok"}]))

    def add_trigger(db: sqlite3.Connection) -> None:  # fails on the last statement of the transaction
        db.execute(
            "CREATE TRIGGER no_boom BEFORE INSERT ON events WHEN NEW.payload LIKE '%boom%' "
            "BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
        )

    await store.run_sync(add_trigger)
    changed = memory(user={"name": "Changed"}, context={"currentFlow": "other.flow.json"}, temp={})
    changed.bot_kv_writes = {"global": {"v": 2}, "extra": 1}
    with pytest.raises(sqlite3.DatabaseError, match="boom refused"):
        await store.save(KEY, saved(changed, events=[{"eventId": "2", "direction": "incoming", "payload": "boom"}]))

    loaded = await store.load(KEY)
    assert loaded.memory.user["name"] == "Ada"
    assert loaded.memory.context["currentFlow"] == "main.flow.json"
    assert loaded.memory.temp == memory().temp
    assert loaded.memory.bot_kv == {"global": {"v": 1}}
    assert [e["eventId"] for e in await store.events(KEY)] == ["1"]
    # and the store still works afterwards
    await store.save(KEY, saved(changed))
    assert (await store.load(KEY)).memory.user["name"] == "Changed"


# ----------------------------------------------------------------------------- several processes


async def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite"
    a, b = SQLiteStore(path), SQLiteStore(path)
    await asyncio.gather(a.open(), b.open())
    try:
        await a.save(KEY, saved(memory()))
        assert (await b.load(KEY)).memory.user["name"] == "Ada"
        m = memory(user={"name": "Grace"})
        m.bot_kv_writes = {"from-b": True}
        await b.save(KEY, saved(m))
        loaded = await a.load(KEY)
        assert loaded.memory.user["name"] == "Grace" and loaded.memory.bot_kv == {"from-b": True}

        # many writes from both at once: none fails with "database is locked", none is lost
        async def write(store: SQLiteStore, who: str, i: int) -> None:
            await store.save(ConversationKey("bot-a", "api", f"{who}-{i}"),
                             saved(memory(), events=[{"eventId": str(i), "direction": "incoming", "payload": i}]))

        await asyncio.gather(*(write(s, name, i) for i in range(25) for s, name in ((a, "a"), (b, "b"))))
        for i in range(25):
            for s, name in ((a, "b"), (b, "a")):
                assert (await s.load(ConversationKey("bot-a", "api", f"{name}-{i}"))).memory.context
    finally:
        await a.close()
        await b.close()


HOLDER = """
import asyncio, sys
from pathlib import Path
from parley.store.locks import FileLocks

async def main():
    locks = FileLocks(Path(sys.argv[1]))
    async with locks.hold(sys.argv[2]):
        print("locked", flush=True)
        sys.stdin.readline()

asyncio.run(main())
"""


async def _acquires(locks: FileLocks, key: str, within: float) -> bool:
    async def take() -> None:
        async with locks.hold(key):
            pass

    try:
        await asyncio.wait_for(take(), within)
    except TimeoutError:
        return False
    return True


async def test_file_locks_exclude_other_processes_and_die_with_them(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite.locks"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), "bot::api::u1"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    locks = FileLocks(path)
    try:
        assert holder.stdout is not None
        assert await asyncio.to_thread(holder.stdout.readline) == "locked\n"
        assert await _acquires(locks, "bot::api::u2", 2.0), "another conversation is free"
        assert not await _acquires(locks, "bot::api::u1", 0.3), "the other process holds this one"
        holder.kill()  # a worker that dies mid-turn releases its locks
        await asyncio.to_thread(holder.wait)
        assert await _acquires(locks, "bot::api::u1", 2.0)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        locks.close()


async def test_file_locks_keep_arrival_order_within_a_process(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path / "x.locks")
    order: list[int] = []

    async def turn(i: int) -> None:
        async with locks.hold("k"):
            await asyncio.sleep(0)
            order.append(i)

    await asyncio.gather(*(turn(i) for i in range(20)))
    locks.close()
    assert order == list(range(20))
    assert locks.waiting("k") == 0


@pytest.mark.parametrize("kind", ["local", "file"])
async def test_a_turn_cancelled_while_waiting_leaves_the_lock_as_it_was(tmp_path: Path, kind: str) -> None:
    """A client that goes away while its turn waits: the turn leaves the queue, the holder keeps the
    lock, the next turn gets it, and nothing of the conversation stays counted afterwards."""
    locks: LocalLocks | FileLocks = LocalLocks() if kind == "local" else FileLocks(tmp_path / "x.locks")
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("k"):
            held.set()
            await release.wait()

    first = asyncio.create_task(holder())
    await held.wait()
    waiter = asyncio.create_task(_acquires(locks, "k", 10.0))
    await asyncio.sleep(0.01)
    assert locks.waiting("k") == 2
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert locks.waiting("k") == 1
    with pytest.raises(QueueFull):
        async with locks.hold("k", limit=1):
            pass
    release.set()
    await first
    assert await _acquires(locks, "k", 2.0)
    assert locks.waiting("k") == 0
    if isinstance(locks, FileLocks):
        locks.close()


async def test_the_retention_finds_a_bots_old_events_through_an_index(store: SQLiteStore) -> None:
    """The hourly retention deletes a bot's events older than the log's expiration under the write lock;
    without an index on their time it read the whole log (80 ms a bot for 300,000 events, measured)."""
    def plan(db: sqlite3.Connection) -> str:
        rows = db.execute("EXPLAIN QUERY PLAN DELETE FROM events WHERE bot_id=? AND created_at < ?", ("b", 1.0))
        return " ".join(str(r[-1]) for r in rows)

    assert "events_created" in await store.run_sync(plan)
    now = time.time()
    await store.append_events([("b", "api", "u", "e1", "incoming", "{}", now - 10), ("b", "api", "u", "e2", "incoming",
                                                                                     "{}", now)])
    assert await store.prune("b", now - 5, now - 5) == 1
