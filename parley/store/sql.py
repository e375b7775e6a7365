"""The embedded SQLite store.

Every operation is one synchronous function run on the store's own thread, so a transaction begins
and commits inside that function and is never held across an `await` (other coroutines cannot
interleave statements into it). WAL mode with `BEGIN IMMEDIATE` keeps several processes on one file
safe; writes wait for each other through SQLite's busy timeout instead of failing.

Checkpoints (copying the WAL back into the database file) run on the store's thread, every
`checkpoint_every` seconds when something was written, not in the turn whose commit crosses SQLite's
threshold: that turn used to wait 2-3 ms for a thousand pages to be copied and synced (the 1-client
p99, measured: 2.9-3.3 ms with checkpoints in the turn, 1.35-1.4 ms with them on the store's thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from parley.engine.state import Memory, new_session
from parley.security import users as collaborators
from parley.security.users import USERS_SCHEMA, User
from parley.store.base import ConversationKey, EventRow, Loaded, Saved, user_changes
from parley.store.locks import FileLocks
from parley.store.rows import RowCache

T = TypeVar("T")

log = logging.getLogger("parley.store")

CHECKPOINT_EVERY = 0.5  # seconds between background checkpoints, when something was written
# The store's connections checkpoint by themselves only past this many WAL pages (40 MB): a safety
# net for when the background ones fall behind (SQLite's default, 1000, is what they replace).
AUTOCHECKPOINT_PAGES = 10_000
# The page cache of the event loop's connection, in KiB (SQLite's default is 2 MB): a turn reads and
# rewrites its conversation's page, and with the default a thousand conversations of 2 kB already
# outgrew it, so most loads read their page again from the file.
CACHE_KIB = 32_768

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE IF NOT EXISTS conversations (
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        context TEXT NOT NULL DEFAULT '{}',
        session TEXT NOT NULL DEFAULT '{}',
        temp TEXT NOT NULL DEFAULT '{}',
        kv TEXT NOT NULL DEFAULT '{}',
        context_expiry REAL,
        session_expiry REAL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (bot_id, channel, user_id)
    );
    CREATE INDEX IF NOT EXISTS conversations_context_expiry ON conversations (context_expiry);
    CREATE INDEX IF NOT EXISTS conversations_session_expiry ON conversations (session_expiry);
    CREATE TABLE IF NOT EXISTS chat_users (
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (channel, user_id)
    );
    CREATE TABLE IF NOT EXISTS bot_kv (
        bot_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (bot_id, key)
    );
    CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_conversation ON events (bot_id, channel, user_id, id);
    """,
    # 2: collaborators (users who log in)
    USERS_SCHEMA,
    # 3: answers of turns that carried a client message id (retry-safe messages)
    """
    CREATE TABLE IF NOT EXISTS turn_answers (
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        answer TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (bot_id, channel, user_id, message_id)
    );
    CREATE INDEX IF NOT EXISTS turn_answers_created ON turn_answers (created_at);
    """,
    # 4: the outbox (messages produced outside a request) and messages scheduled by actions
    """
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        source TEXT NOT NULL,
        responses TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_conversation ON outbox (bot_id, channel, user_id, id);
    CREATE INDEX IF NOT EXISTS outbox_created ON outbox (bot_id, created_at);
    CREATE TABLE IF NOT EXISTS scheduled (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        due_at REAL NOT NULL,
        payloads TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS scheduled_due ON scheduled (due_at);
    CREATE INDEX IF NOT EXISTS scheduled_conversation ON scheduled (bot_id, channel, user_id, due_at);
    """,
    # 5: expiries found through coarse buckets (`_due`): the exact expiries change with every turn,
    # and rewriting their index entries cost more than the rest of a turn's write
    """
    ALTER TABLE conversations ADD COLUMN context_due INTEGER;
    ALTER TABLE conversations ADD COLUMN session_due INTEGER;
    UPDATE conversations SET
        context_due = CASE WHEN context = '{}' THEN NULL ELSE CAST(context_expiry / 60 AS INTEGER) END,
        session_due = CAST(session_expiry / 60 AS INTEGER);
    DROP INDEX IF EXISTS conversations_context_expiry;
    DROP INDEX IF EXISTS conversations_session_expiry;
    CREATE INDEX IF NOT EXISTS conversations_context_due ON conversations (context_due);
    CREATE INDEX IF NOT EXISTS conversations_session_due ON conversations (session_due);
    """,
    # the retention's DELETE of a bot's old events read the whole log under the write lock (hourly)
    """
    CREATE INDEX IF NOT EXISTS events_created ON events (bot_id, created_at);
    """,
    # 7: no index of the event log by conversation. Nothing on a request's path reads the log by
    # conversation, and the index cost every turn more than anything else the log writes: each batch
    # inserted its entries at as many places as there were conversations (a page written to the WAL,
    # and later to the database, for each), ≈ 12 µs an entry against ≈ 4 µs without it.
    """
    DROP INDEX IF EXISTS events_conversation;
    """,
]

# Width in seconds of the expiry buckets the janitor looks up (migration 5 fills them with the same
# width). A conversation's bucket columns are rewritten about once per this long, not at every turn.
DUE_SECONDS = 60


def _bucket(moment: float) -> int:
    """`_bucket(t) * DUE_SECONDS <= t`: every expiry before `now` is in a bucket at most `_bucket(now)`."""
    return math.floor(moment / DUE_SECONDS)


def _due(expiry: float | None) -> int | None:
    return None if expiry is None else _bucket(expiry)


def _loads(raw: Any, default: Any) -> Any:
    if raw is None:
        return default
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return default


@contextlib.contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: BEGIN IMMEDIATE (fails at once if the lock is taken and busy_timeout is
    0), COMMIT at the end, ROLLBACK on any error. Never spans an await: the caller is synchronous."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _only_bots(bot_ids: list[str] | None) -> tuple[str, list[str]]:
    """An `AND bot_id IN (…)` clause for the janitor's queries (None: every bot)."""
    if bot_ids is None:
        return "", []
    if not bot_ids:
        return " AND 0", []
    return f" AND bot_id IN ({','.join('?' * len(bot_ids))})", list(bot_ids)


def _busy(exc: sqlite3.OperationalError) -> bool:
    """The write lock is held by another connection (BEGIN IMMEDIATE did not get it at once)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


# A turn's reads in one statement: the conversation row, the user's attributes and the bot's
# key/values as one JSON object (a value that is not valid JSON is left out).
_LOAD = """
SELECT c.context, c.session, c.temp, c.kv, c.context_expiry, c.session_expiry, c.bot_id, u.attributes, u.user_id,
       (SELECT json_group_object(key, json(value)) FROM bot_kv WHERE bot_id = ?1 AND json_valid(value)),
       c.context_due, c.session_due
FROM (SELECT 1)
LEFT JOIN conversations c ON c.bot_id = ?1 AND c.channel = ?2 AND c.user_id = ?3
LEFT JOIN chat_users u ON u.channel = ?2 AND u.user_id = ?3
"""


def _save_conversation(context_due: bool, session_due: bool) -> str:
    """The conversation's upsert; a bucket column is in the SET list only when it changes (SQLite
    rewrites the index entry of every column set, whether its value changed or not)."""
    dues = "".join(f", {c}=excluded.{c}" for c, on in (("context_due", context_due), ("session_due", session_due))
                   if on)
    return (
        "INSERT INTO conversations (bot_id, channel, user_id, context, session, temp, kv, "
        "context_expiry, session_expiry, updated_at, context_due, session_due) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (bot_id, channel, user_id) DO UPDATE SET context=excluded.context, "
        "session=excluded.session, temp=excluded.temp, kv=excluded.kv, "
        "context_expiry=excluded.context_expiry, session_expiry=excluded.session_expiry, "
        f"updated_at=excluded.updated_at{dues}"
    )


_SAVE_CONVERSATION = {(c, s): _save_conversation(c, s) for c in (False, True) for s in (False, True)}




def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SQLiteStore:
    def __init__(self, path: Path, *, checkpoint_every: float = CHECKPOINT_EVERY) -> None:
        self.path = path
        self.checkpoint_every = checkpoint_every
        self._writes = 0  # commits of turns and event log batches, on either connection
        self._checkpointer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-sqlite")
        self._db: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._executor_closed = False
        self._rows = RowCache()  # the rows of the conversations this process saved last

    def locks(self) -> FileLocks:
        """Conversation locks shared by every process using this file (`serve --workers N`, `chat`)."""
        return FileLocks(self.path.with_name(self.path.name + ".locks"))

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, db)

    async def run_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a short synchronous function on the store's connection (users, admin tasks)."""
        return await self._run(fn)

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._enable_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")  # saves fall back to this one
            self._migrate(db)
            return db

        if self._executor_closed:  # opened again after close()
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-sqlite")
            self._executor_closed = False
        loop = asyncio.get_running_loop()
        self._db = await loop.run_in_executor(self._executor, connect)
        # Reads and turn saves run right on the event loop, on one connection of their own:
        # - in WAL mode a read never waits for a writer, and a query of one row costs less than the
        #   hand-off to the store's thread would;
        # - a save runs here when the write lock is free at once (always, with one process); when another
        #   connection holds it, the save goes to the store's thread, which waits without blocking the loop;
        # - one connection, not a reader and a writer: SQLite drops a connection's page cache whenever
        #   another connection has written, so a separate reader re-read every page after each turn's save
        #   (≈15 `pread`s per turn, measured with strace).
        self._writer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._reader = self._writer
        self._writer.execute("PRAGMA busy_timeout=0")
        self._writer.execute("PRAGMA synchronous=NORMAL")  # per connection, like the store thread's
        self._writer.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        self._writer.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._checkpointer = loop.create_task(self._checkpoints())

    async def _checkpoints(self) -> None:
        done = 0
        while True:
            await asyncio.sleep(self.checkpoint_every)
            written = self._writes
            if written == done:
                continue
            try:
                await self.checkpoint()
            except Exception:  # the next round tries again; the connections' own threshold is the net
                log.warning("SQLite checkpoint failed", exc_info=True)
            else:
                done = written

    async def checkpoint(self) -> tuple[int, int, int]:
        """Copy what the WAL holds into the database file, on the store's thread, without waiting for
        readers or writers (PASSIVE: another process's checkpoint or a reader may leave some for the
        next round). Returns SQLite's (busy, pages in the WAL, pages copied)."""
        def q(db: sqlite3.Connection) -> tuple[int, int, int]:
            busy, pages, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return int(busy), int(pages), int(copied)

        return await self._run(q)

    @staticmethod
    def _enable_wal(db: sqlite3.Connection) -> None:
        """Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is locked"
        at once (without waiting for the busy timeout) when another process is doing the same."""
        for attempt in range(100):
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        with _immediate(db):
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, sql in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for statement in sql.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    async def close(self) -> None:
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpointer
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._rows.clear()
        db, self._db = self._db, None
        if db is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=False)
        self._executor_closed = True

    async def load(self, key: ConversationKey) -> Loaded:
        def q(db: sqlite3.Connection) -> Loaded:
            rows = self._rows
            rows.check(db.execute("PRAGMA data_version").fetchone()[0])
            row = rows.take(key)
            if row is None:
                row = db.execute(_LOAD, (key.bot_id, key.channel, key.user_id)).fetchone()
            rows.loaded(key, row)
            memory = Memory(user=_loads(row[7], {}), bot_kv=_loads(row[9], {}))
            if row[6] is None:
                return Loaded(memory, user_found=row[8] is not None)
            memory.context = _loads(row[0], {})
            memory.session = _loads(row[1], None) or new_session()
            memory.temp = _loads(row[2], {})
            memory.kv = _loads(row[3], {})
            return Loaded(memory, row[4], row[5], user_found=row[8] is not None, stored_dues=(row[10], row[11]))

        if self._reader is None:
            raise RuntimeError("store is not open")
        return q(self._reader)

    async def save(self, key: ConversationKey, saved: Saved) -> list[int]:
        m = saved.memory
        now = time.time()
        # nothing to time out in an empty context: a new row gets no bucket
        context_due = _due(saved.context_expiry) if m.context else None
        session_due = _due(saved.session_expiry)
        before = saved.stored_dues
        # The janitor forgets expired sessions without the conversation's lock (one UPDATE for them
        # all), clearing their buckets: a session that may have expired since the load gets its
        # buckets written again. (The margin of a bucket covers another host's clock running ahead.)
        if before is not None and (before[1] is None or before[1] <= _bucket(now) + 1):
            before = None
        if before is None:
            write_context_due = True
        elif m.context:
            # a dialog that starts or goes on: its bucket is written when it moves, and when the stored
            # one is due (the janitor clears due buckets of ended dialogs without the conversation's lock)
            write_context_due = before[0] is None or before[0] != context_due or before[0] <= _bucket(now) + 1
        else:
            # A dialog that ended keeps its bucket: the janitor's look-up skips empty contexts and clears
            # their buckets once due. Clearing it here, and writing it again when the next dialog starts,
            # moved the index entry between two pages on most turns of a short dialog.
            write_context_due = False
        dues = (write_context_due, before is None or before[1] != session_due)
        upsert = _SAVE_CONVERSATION[dues]
        conv = (
            key.bot_id, key.channel, key.user_id, _dumps(m.context), _dumps(m.session), _dumps(m.temp),
            _dumps(m.kv), saved.context_expiry, saved.session_expiry, now, context_due, session_due,
        )
        user = (key.channel, key.user_id, _dumps(m.user), now, now)
        changes = None if saved.user_before is None else user_changes(saved.user_before, m.user)
        kv = [(key.bot_id, k, _dumps(v)) for k, v in m.bot_kv_writes.items() if v is not None]
        kv_deleted = [(key.bot_id, k) for k, v in m.bot_kv_writes.items() if v is None]
        events = [
            (key.bot_id, key.channel, key.user_id, str(e.get("eventId", "")), str(e.get("direction", "")),
             _dumps(e.get("payload")), now)
            for e in saved.events
        ]
        conversation = (key.bot_id, key.channel, key.user_id)
        outbox = [
            (*conversation, str(o.get("eventId", "")), str(o.get("source", "")), _dumps(o.get("responses") or []),
             float(o.get("createdAt") or now))
            for o in saved.outbox
        ]
        schedule = [(*conversation, float(s["due"]), _dumps(s.get("payloads") or []), now) for s in saved.schedule]
        unschedule = [(*conversation, i) for i in saved.unschedule]

        write_user = changes is None or bool(changes[0] or changes[1]) or not saved.user_found
        alone = not (write_user or kv or kv_deleted or saved.message_id is not None or events or outbox
                     or schedule or unschedule)

        user_written: list[str | None] = []  # the attributes the transaction wrote, as JSON

        def tx(db: sqlite3.Connection) -> list[int]:
            if alone:  # most turns: one statement, its own transaction (no BEGIN/COMMIT round)
                db.execute(upsert, conv)
                return []
            with _immediate(db):
                db.execute(upsert, conv)
                if changes is None:
                    self._write_user(db, user)
                    user_written[:] = [user[2]]
                elif write_user:
                    user_written[:] = [self._merge_user(db, key, *changes, now)]
                if kv:
                    db.executemany(
                        "INSERT INTO bot_kv (bot_id, key, value) VALUES (?,?,?) "
                        "ON CONFLICT (bot_id, key) DO UPDATE SET value=excluded.value",
                        kv,
                    )
                if kv_deleted:
                    db.executemany("DELETE FROM bot_kv WHERE bot_id=? AND key=?", kv_deleted)
                if saved.message_id is not None:
                    db.execute(
                        "INSERT INTO turn_answers (bot_id, channel, user_id, message_id, answer, created_at) "
                        "VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                        (key.bot_id, key.channel, key.user_id, saved.message_id, _dumps(saved.answer), now),
                    )
                if events:
                    db.executemany(
                        "INSERT INTO events (bot_id, channel, user_id, event_id, direction, payload, created_at) "
                        "VALUES (?,?,?,?,?,?,?)",
                        events,
                    )
                ids = [
                    int(db.execute(
                        "INSERT INTO outbox (bot_id, channel, user_id, event_id, source, responses, created_at) "
                        "VALUES (?,?,?,?,?,?,?) RETURNING id",
                        o,
                    ).fetchone()[0])
                    for o in outbox
                ]
                if schedule:
                    db.executemany(
                        "INSERT INTO scheduled (bot_id, channel, user_id, due_at, payloads, created_at) "
                        "VALUES (?,?,?,?,?,?)",
                        schedule,
                    )
                if unschedule:
                    db.executemany("DELETE FROM scheduled WHERE bot_id=? AND channel=? AND user_id=? AND id=?",
                                   unschedule)
                return ids

        # (the generations go up after the commit: on the store's thread, another connection, the commit
        # changes `data_version`, which covers a load made before they do)
        ids = await self._commit(tx, rows_kept=True)
        self._rows.saved(key, conv, dues, user_written[0] if user_written else None, bool(kv or kv_deleted))
        return ids

    async def _commit(self, tx: Callable[[sqlite3.Connection], T], *, rows_kept: bool = False) -> T:
        """A write transaction: right here on the event loop's connection when the write lock is free
        at once (always, with one process), else on the store's thread, which waits for it. Counted
        for the background checkpoints. The rows kept for the next loads are dropped unless the caller
        says it keeps them right (`rows_kept`): SQLite's `data_version` does not see a connection's
        own writes, so one made here by anything else would go unseen."""
        if self._writer is not None:
            try:
                result = tx(self._writer)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
            else:
                self._writes += 1
                if not rows_kept:
                    self._rows.clear()
                return result
        result = await self._run(tx)  # another connection: `data_version` tells the next load
        self._writes += 1
        return result

    @staticmethod
    def _write_user(db: sqlite3.Connection, user: tuple[Any, ...]) -> None:
        db.execute(
            "INSERT INTO chat_users (channel, user_id, attributes, created_at, updated_at) "
            "VALUES (?,?,?,?,?) ON CONFLICT (channel, user_id) DO UPDATE SET "
            "attributes=excluded.attributes, updated_at=excluded.updated_at",
            user,
        )

    @staticmethod
    def _merge_user(db: sqlite3.Connection, key: ConversationKey, changed: dict[str, Any], removed: list[str],
                    now: float) -> str | None:
        """Apply a turn's attribute changes to the row as it is now (inside the write transaction), so
        a concurrent turn of another bot for the same user keeps what it wrote. Returns the attributes
        written, as JSON (None: nothing to write)."""
        row = db.execute(
            "SELECT attributes FROM chat_users WHERE channel=? AND user_id=?", (key.channel, key.user_id)
        ).fetchone()
        if row is not None and not changed and not removed:
            return None
        current = _loads(row[0], {}) if row else {}
        if not isinstance(current, dict):
            current = {}
        for k in removed:
            current.pop(k, None)
        current.update(changed)
        attributes = _dumps(current)
        SQLiteStore._write_user(db, (key.channel, key.user_id, attributes, now, now))
        return attributes

    async def expired_contexts(self, now: float, limit: int = 250,
                               bot_ids: list[str] | None = None) -> list[ConversationKey]:
        def q(db: sqlite3.Connection) -> list[ConversationKey]:
            only, bots = _only_bots(bot_ids)
            params: list[Any] = [_bucket(now), now, *bots]
            rows = db.execute(
                "SELECT bot_id, channel, user_id FROM conversations WHERE context_due <= ? AND context_expiry < ? "
                f"AND context != '{{}}'{only} ORDER BY updated_at LIMIT ?",
                (*params, limit),
            ).fetchall()
            return [ConversationKey(*r) for r in rows]

        return await self._run(q)

    async def append_events(self, rows: list[EventRow]) -> None:
        """One transaction (the event log hands over short batches)."""

        def tx(db: sqlite3.Connection) -> None:
            with _immediate(db):
                db.executemany(
                    "INSERT INTO events (bot_id, channel, user_id, event_id, direction, payload, created_at) "
                    "VALUES (?,?,?,?,?,?,?)",
                    rows,
                )

        if rows:
            await self._commit(tx, rows_kept=True)  # the log's table only

    async def prune(self, bot_id: str, events_before: float, answers_before: float) -> int:
        """Retention: drop a bot's old event log and outbox entries and stored retry answers."""

        def q(db: sqlite3.Connection) -> int:
            with _immediate(db):
                n = db.execute("DELETE FROM events WHERE bot_id=? AND created_at < ?", (bot_id, events_before)).rowcount
                n += db.execute(
                    "DELETE FROM turn_answers WHERE bot_id=? AND created_at < ?", (bot_id, answers_before)
                ).rowcount
                n += db.execute(
                    "DELETE FROM outbox WHERE bot_id=? AND created_at < ?", (bot_id, events_before)
                ).rowcount
                return int(n)

        return await self._run(q)

    async def delete_expired_sessions(self, now: float) -> int:
        """Forget session, context and temp of idle conversations; user memory and kv survive. Clears
        the due buckets that ended dialogs kept."""

        def q(db: sqlite3.Connection) -> int:
            with _immediate(db):
                cur = db.execute(
                    "UPDATE conversations SET context='{}', session='{}', temp='{}', context_expiry=NULL, "
                    "session_expiry=NULL, context_due=NULL, session_due=NULL "
                    "WHERE session_due <= ? AND session_expiry < ?",
                    (_bucket(now), now),
                )
                # the buckets ended dialogs kept (`save`), once due: the look-up of expired contexts
                # would otherwise pass over them on every round
                db.execute("UPDATE conversations SET context_due=NULL WHERE context_due <= ? AND context = '{}'",
                           (_bucket(now),))
                return cur.rowcount

        return await self._run(q)

    async def events(self, key: ConversationKey, limit: int = 100) -> list[dict[str, Any]]:
        """A conversation's last entries of the event log, for inspection: read newest first through
        the log, which has no index by conversation (migration 7), so never on a request's path."""
        def q(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows: list[Any] = db.execute(
                "SELECT id, event_id, direction, payload, created_at FROM events WHERE bot_id=? AND channel=? "
                "AND user_id=? ORDER BY id DESC LIMIT ?",
                (key.bot_id, key.channel, key.user_id, limit),
            ).fetchall()
            return [
                {"id": r[0], "eventId": r[1], "direction": r[2], "payload": _loads(r[3], None), "createdAt": r[4]}
                for r in rows[::-1]
            ]

        return await self._run(q)


    async def find_answer(self, key: ConversationKey, message_id: str) -> dict[str, Any] | None:
        def q(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute(
                "SELECT answer FROM turn_answers WHERE bot_id=? AND channel=? AND user_id=? AND message_id=?",
                (key.bot_id, key.channel, key.user_id, message_id),
            ).fetchone()
            value = _loads(row[0], None) if row else None
            return value if isinstance(value, dict) else None

        return await self._run(q)

    # ------------------------------------------------------------------------ outbox, schedule

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read on the event loop (WAL: never waits for a writer), like `load`."""
        if self._reader is None:
            raise RuntimeError("store is not open")
        return fn(self._reader)

    async def outbox(self, key: ConversationKey, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._read(lambda db: db.execute(
            "SELECT id, event_id, source, created_at, responses FROM outbox WHERE bot_id=? AND channel=? "
            "AND user_id=? AND id > ? ORDER BY id LIMIT ?",
            (key.bot_id, key.channel, key.user_id, after, limit),
        ).fetchall())
        return [
            {"id": r[0], "eventId": r[1], "source": r[2], "createdAt": r[3], "responses": _loads(r[4], [])}
            for r in rows
        ]

    async def outbox_id_of(self, key: ConversationKey, event_id: str) -> int | None:
        row = self._read(lambda db: db.execute(
            "SELECT MIN(id) FROM outbox WHERE bot_id=? AND channel=? AND user_id=? AND event_id=?",
            (key.bot_id, key.channel, key.user_id, event_id),
        ).fetchone())
        return int(row[0]) if row and row[0] is not None else None

    async def last_outbox_id(self, key: ConversationKey) -> int:
        row = self._read(lambda db: db.execute(
            "SELECT MAX(id) FROM outbox WHERE bot_id=? AND channel=? AND user_id=?",
            (key.bot_id, key.channel, key.user_id),
        ).fetchone())
        return int(row[0] or 0)

    async def due_conversations(self, now: float, limit: int = 250,
                                bot_ids: list[str] | None = None) -> list[ConversationKey]:
        def q(db: sqlite3.Connection) -> list[ConversationKey]:
            only, bots = _only_bots(bot_ids)
            params: list[Any] = [now, *bots]
            rows = db.execute(
                f"SELECT bot_id, channel, user_id, MIN(due_at) AS due FROM scheduled WHERE due_at <= ?{only} "
                "GROUP BY bot_id, channel, user_id ORDER BY due LIMIT ?",
                (*params, limit),
            ).fetchall()
            return [ConversationKey(r[0], r[1], r[2]) for r in rows]

        return self._read(q)

    async def due_messages(self, key: ConversationKey, now: float) -> list[tuple[int, list[dict[str, Any]]]]:
        rows = self._read(lambda db: db.execute(
            "SELECT id, payloads FROM scheduled WHERE bot_id=? AND channel=? AND user_id=? AND due_at <= ? "
            "ORDER BY due_at, id",
            (key.bot_id, key.channel, key.user_id, now),
        ).fetchall())
        return [(int(r[0]), _loads(r[1], [])) for r in rows]

    # ---------------------------------------------------------------------------- collaborators

    async def get_user(self, email: str) -> User | None:
        return await self._run(lambda db: collaborators.get_user(db, email))

    async def list_users(self) -> list[User]:
        return await self._run(collaborators.list_users)

    async def put_user(self, user: User) -> None:
        await self._run(lambda db: collaborators.put_user(db, user))

    async def delete_user(self, email: str) -> bool:
        return await self._run(lambda db: collaborators.delete_user(db, email))

    async def create_first_user(self, user: User) -> bool:
        """Create `user` only if no user exists yet (several workers may start at once)."""

        def tx(db: sqlite3.Connection) -> bool:
            with _immediate(db):
                if collaborators.count_users(db) > 0:
                    return False  # nothing written: the commit ends an empty transaction
                collaborators.put_user(db, user)
                return True

        return await self._run(tx)


def open_store(url: str) -> Any:
    """The store for a database URL: `sqlite:///path` (embedded) or `postgresql://…` (production)."""
    if url.startswith("sqlite:///"):
        return SQLiteStore(Path(url[len("sqlite:///"):]))
    if url.startswith("sqlite://"):
        return SQLiteStore(Path(url[len("sqlite://"):]))
    if url.startswith(("postgresql://", "postgres://")):
        from parley.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unsupported database URL {url!r} (expected sqlite:///path or postgresql://…)")
