"""The PostgreSQL store: the production path, behind the same protocol as the SQLite store.

A pooled asyncpg connection serves each operation; a turn's writes (conversation row, user memory,
bot key/values, event log) commit in one transaction, so a worker killed mid-turn leaves the
previous state intact. JSON goes in `json` columns encoded by orjson.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson

from parley.engine.state import JSONDict, Memory, new_session
from parley.security.users import User, normalize_email
from parley.store.base import ConversationKey, EventRow, Loaded, Saved, user_changes
from parley.store.locks import LocalLocks

MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS conversations (
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        context JSON NOT NULL DEFAULT '{}',
        session JSON NOT NULL DEFAULT '{}',
        temp JSON NOT NULL DEFAULT '{}',
        kv JSON NOT NULL DEFAULT '{}',
        context_expiry DOUBLE PRECISION,
        session_expiry DOUBLE PRECISION,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (bot_id, channel, user_id)
    );
    CREATE INDEX IF NOT EXISTS conversations_context_expiry ON conversations (context_expiry);
    CREATE INDEX IF NOT EXISTS conversations_session_expiry ON conversations (session_expiry);
    CREATE TABLE IF NOT EXISTS chat_users (
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        attributes JSON NOT NULL DEFAULT '{}',
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (channel, user_id)
    );
    CREATE TABLE IF NOT EXISTS bot_kv (
        bot_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value JSON NOT NULL,
        PRIMARY KEY (bot_id, key)
    );
    CREATE TABLE IF NOT EXISTS events (
        id BIGSERIAL PRIMARY KEY,
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        payload JSON NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_conversation ON events (bot_id, channel, user_id, id);
    """,
    """
    CREATE TABLE IF NOT EXISTS collaborators (
        email TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        super_admin INTEGER NOT NULL DEFAULT 0,
        bots TEXT NOT NULL DEFAULT '[]',
        token_version INTEGER NOT NULL DEFAULT 1,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS turn_answers (
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        answer JSON NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (bot_id, channel, user_id, message_id)
    );
    CREATE INDEX IF NOT EXISTS turn_answers_created ON turn_answers (created_at);
    """,
    """
    CREATE TABLE IF NOT EXISTS outbox (
        id BIGSERIAL PRIMARY KEY,
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        source TEXT NOT NULL,
        responses JSON NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_conversation ON outbox (bot_id, channel, user_id, id);
    CREATE INDEX IF NOT EXISTS outbox_created ON outbox (bot_id, created_at);
    CREATE TABLE IF NOT EXISTS scheduled (
        id BIGSERIAL PRIMARY KEY,
        bot_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        due_at DOUBLE PRECISION NOT NULL,
        payloads JSON NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS scheduled_due ON scheduled (due_at);
    CREATE INDEX IF NOT EXISTS scheduled_conversation ON scheduled (bot_id, channel, user_id, due_at);
    """,
    # the retention's DELETE of a bot's old events read the whole log (hourly)
    """
    CREATE INDEX IF NOT EXISTS events_created ON events (bot_id, created_at);
    """,
    # no index of the event log by conversation (as SQLite's migration 7): nothing on a request's path
    # reads the log by conversation, and each batch paid for it (measured: 13.8-14.1 -> 10.4-11.0 µs an
    # entry, batches of 200 over 1,000 conversations)
    """
    DROP INDEX IF EXISTS events_conversation;
    """,
]

_LOAD = """
SELECT c.bot_id IS NOT NULL AS found, c.context, c.session, c.temp, c.kv, c.context_expiry, c.session_expiry,
       (SELECT attributes FROM chat_users WHERE channel = $2 AND user_id = $3) AS attributes,
       (SELECT json_object_agg(key, value) FROM bot_kv WHERE bot_id = $1) AS bot_kv
FROM (SELECT 1) AS one
LEFT JOIN conversations c ON c.bot_id = $1 AND c.channel = $2 AND c.user_id = $3
"""

# $11 attributes (all, or only the changed ones when $12 merge), $13 removed attribute names,
# $14 bot key/values to set, $15 to delete, $16 events, $17/$18 retry answer, $19 outbox entries,
# $20 messages to schedule, $21 ids of scheduled messages delivered. Returns the new outbox ids.
_SAVE = """
WITH conv AS (
    INSERT INTO conversations (bot_id, channel, user_id, context, session, temp, kv, context_expiry,
                               session_expiry, updated_at)
    VALUES ($1, $2, $3, $4::text::json, $5::text::json, $6::text::json, $7::text::json, $8, $9, $10)
    ON CONFLICT (bot_id, channel, user_id) DO UPDATE SET context = excluded.context,
        session = excluded.session, temp = excluded.temp, kv = excluded.kv,
        context_expiry = excluded.context_expiry, session_expiry = excluded.session_expiry,
        updated_at = excluded.updated_at
    RETURNING 1
), usr AS (
    INSERT INTO chat_users (channel, user_id, attributes, created_at, updated_at)
    VALUES ($2, $3, $11::text::json, $10, $10)
    ON CONFLICT (channel, user_id) DO UPDATE SET
        attributes = CASE WHEN $12::bool
            THEN ((chat_users.attributes::jsonb - $13::text[]) || $11::text::jsonb)::json
            ELSE excluded.attributes END,
        updated_at = excluded.updated_at
    WHERE NOT $12::bool OR cardinality($13::text[]) > 0 OR $11::text::jsonb <> '{}'::jsonb
    RETURNING 1
), kv_set AS (
    INSERT INTO bot_kv (bot_id, key, value)
    SELECT $1, k, v FROM json_each($14::text::json) AS t(k, v)
    ON CONFLICT (bot_id, key) DO UPDATE SET value = excluded.value
    RETURNING 1
), kv_del AS (
    DELETE FROM bot_kv WHERE bot_id = $1 AND key = ANY($15::text[]) RETURNING 1
), ev AS (
    INSERT INTO events (bot_id, channel, user_id, event_id, direction, payload, created_at)
    SELECT $1, $2, $3, e->>'eventId', e->>'direction', e->'payload', $10
    FROM json_array_elements($16::text::json) AS e
    RETURNING 1
), answer AS (
    INSERT INTO turn_answers (bot_id, channel, user_id, message_id, answer, created_at)
    SELECT $1, $2, $3, $17::text, $18::text::json, $10 WHERE $17::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
), ob AS (
    INSERT INTO outbox (bot_id, channel, user_id, event_id, source, responses, created_at)
    SELECT $1, $2, $3, o->>'eventId', o->>'source', o->'responses', COALESCE((o->>'createdAt')::float8, $10)
    FROM json_array_elements($19::text::json) WITH ORDINALITY AS t(o, n)
    ORDER BY n
    RETURNING id
), sched AS (
    INSERT INTO scheduled (bot_id, channel, user_id, due_at, payloads, created_at)
    SELECT $1, $2, $3, (s->>'due')::float8, s->'payloads', $10
    FROM json_array_elements($20::text::json) AS s
    RETURNING 1
), unsched AS (
    DELETE FROM scheduled WHERE bot_id = $1 AND channel = $2 AND user_id = $3 AND id = ANY($21::bigint[])
    RETURNING 1
)
SELECT COALESCE(array_agg(id ORDER BY id), '{}'::bigint[]) FROM ob
"""

# Serialises concurrent migrations of several workers starting at once.
MIGRATION_LOCK_ID = 0x7061726C6579


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # `json` (not `jsonb`) keeps the key order of the documents, which the secured route shows.
    await conn.set_type_codec("json", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


class PostgresStore:
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        # Advisory locks hold a connection for a whole turn: a separate pool, so that turns waiting
        # for a lock can never starve the turn that holds it of a connection to save with.
        self._lock_pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url, min_size=self.min_size, max_size=self.max_size, init=_init_connection
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_ID)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            for version, sql in enumerate(MIGRATIONS, start=1):
                if version > current:
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)

    async def lock_pool(self) -> asyncpg.Pool:
        if self._lock_pool is None:
            self._lock_pool = await asyncpg.create_pool(self.url, min_size=0, max_size=64)
        return self._lock_pool

    async def close(self) -> None:
        pools, self._pool, self._lock_pool = (self._pool, self._lock_pool), None, None
        for pool in pools:
            if pool is not None:
                await pool.close()

    async def load(self, key: ConversationKey) -> Loaded:
        """One round trip: the conversation row, the user's attributes and the bot's key/values."""
        row = await self.pool.fetchrow(_LOAD, key.bot_id, key.channel, key.user_id)
        memory = Memory(user=row["attributes"] or {}, bot_kv=row["bot_kv"] or {})
        user_found = row["attributes"] is not None
        if not row["found"]:
            return Loaded(memory, user_found=user_found)
        memory.context = row["context"] or {}
        memory.session = row["session"] or new_session()
        memory.temp = row["temp"] or {}
        memory.kv = row["kv"] or {}
        return Loaded(memory, row["context_expiry"], row["session_expiry"], user_found=user_found)

    async def save(self, key: ConversationKey, saved: Saved) -> list[int]:
        """One statement, so one round trip and one implicit transaction: the conversation row, the
        user's changed attributes (merged onto the row as it is now, so another bot's concurrent
        turn keeps its own), bot key/values, the event log, a retry answer, outbox entries and
        scheduled messages all commit together."""
        m = saved.memory
        removed: list[str] = []
        if saved.user_before is None:
            merge, attributes = False, m.user
        else:
            changed, removed = user_changes(saved.user_before, m.user)
            merge, attributes = True, changed
        kv_set = {k: v for k, v in m.bot_kv_writes.items() if v is not None}
        kv_del = [k for k, v in m.bot_kv_writes.items() if v is None]
        events = [
            {"eventId": str(e.get("eventId", "")), "direction": str(e.get("direction", "")),
             "payload": e.get("payload")}
            for e in saved.events
        ]
        outbox = [
            {"eventId": str(o.get("eventId", "")), "source": str(o.get("source", "")),
             "responses": o.get("responses") or [], "createdAt": o.get("createdAt")}
            for o in saved.outbox
        ]
        schedule = [{"due": float(s["due"]), "payloads": s.get("payloads") or []} for s in saved.schedule]
        ids = await self.pool.fetchval(
            _SAVE,
            key.bot_id, key.channel, key.user_id,
            _dumps(m.context), _dumps(m.session), _dumps(m.temp), _dumps(m.kv),
            saved.context_expiry, saved.session_expiry, time.time(),
            _dumps(attributes), merge, removed,
            _dumps(kv_set), kv_del, _dumps(events),
            saved.message_id, _dumps(saved.answer),
            _dumps(outbox), _dumps(schedule), list(saved.unschedule),
        )
        return [int(i) for i in ids or []]

    async def expired_contexts(self, now: float, limit: int = 250,
                               bot_ids: list[str] | None = None) -> list[ConversationKey]:
        rows = await self.pool.fetch(
            "SELECT bot_id, channel, user_id FROM conversations WHERE context_expiry < $1 "
            "AND context::text <> '{}' AND ($3::text[] IS NULL OR bot_id = ANY($3::text[])) "
            "ORDER BY updated_at LIMIT $2",
            now, limit, bot_ids,
        )
        return [ConversationKey(r["bot_id"], r["channel"], r["user_id"]) for r in rows]

    async def prune(self, bot_id: str, events_before: float, answers_before: float) -> int:
        """Retention: drop a bot's old event log and outbox entries and stored retry answers."""
        async with self.pool.acquire() as conn, conn.transaction():
            a = await conn.execute("DELETE FROM events WHERE bot_id=$1 AND created_at < $2", bot_id, events_before)
            b = await conn.execute(
                "DELETE FROM turn_answers WHERE bot_id=$1 AND created_at < $2", bot_id, answers_before
            )
            c = await conn.execute("DELETE FROM outbox WHERE bot_id=$1 AND created_at < $2", bot_id, events_before)
        return int(a.split()[-1]) + int(b.split()[-1]) + int(c.split()[-1])

    async def delete_expired_sessions(self, now: float) -> int:
        status = await self.pool.execute(
            "UPDATE conversations SET context='{}', session='{}', temp='{}', context_expiry=NULL, "
            "session_expiry=NULL WHERE session_expiry < $1",
            now,
        )
        return int(status.split()[-1])

    async def append_events(self, rows: list[EventRow]) -> None:
        if not rows:
            return
        await self.pool.executemany(
            "INSERT INTO events (bot_id, channel, user_id, event_id, direction, payload, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6::text::json, $7)",
            rows,
        )

    async def events(self, key: ConversationKey, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT id, event_id, direction, payload, created_at FROM events WHERE bot_id=$1 AND channel=$2 "
            "AND user_id=$3 ORDER BY id DESC LIMIT $4",
            key.bot_id, key.channel, key.user_id, limit,
        )
        return [
            {"id": r["id"], "eventId": r["event_id"], "direction": r["direction"], "payload": r["payload"],
             "createdAt": r["created_at"]}
            for r in reversed(rows)
        ]

    async def find_answer(self, key: ConversationKey, message_id: str) -> JSONDict | None:
        value = await self.pool.fetchval(
            "SELECT answer FROM turn_answers WHERE bot_id=$1 AND channel=$2 AND user_id=$3 AND message_id=$4",
            key.bot_id, key.channel, key.user_id, message_id,
        )
        return value if isinstance(value, dict) else None

    # ------------------------------------------------------------------------ outbox, schedule

    async def outbox(self, key: ConversationKey, after: int = 0, limit: int = 100) -> list[JSONDict]:
        rows = await self.pool.fetch(
            "SELECT id, event_id, source, created_at, responses FROM outbox WHERE bot_id=$1 AND channel=$2 "
            "AND user_id=$3 AND id > $4 ORDER BY id LIMIT $5",
            key.bot_id, key.channel, key.user_id, after, limit,
        )
        return [
            {"id": r["id"], "eventId": r["event_id"], "source": r["source"], "createdAt": r["created_at"],
             "responses": r["responses"]}
            for r in rows
        ]

    async def outbox_id_of(self, key: ConversationKey, event_id: str) -> int | None:
        value = await self.pool.fetchval(
            "SELECT MIN(id) FROM outbox WHERE bot_id=$1 AND channel=$2 AND user_id=$3 AND event_id=$4",
            key.bot_id, key.channel, key.user_id, event_id,
        )
        return int(value) if value is not None else None

    async def last_outbox_id(self, key: ConversationKey) -> int:
        value = await self.pool.fetchval(
            "SELECT MAX(id) FROM outbox WHERE bot_id=$1 AND channel=$2 AND user_id=$3",
            key.bot_id, key.channel, key.user_id,
        )
        return int(value or 0)

    async def due_conversations(self, now: float, limit: int = 250,
                                bot_ids: list[str] | None = None) -> list[ConversationKey]:
        rows = await self.pool.fetch(
            "SELECT bot_id, channel, user_id, MIN(due_at) AS due FROM scheduled WHERE due_at <= $1 "
            "AND ($3::text[] IS NULL OR bot_id = ANY($3::text[])) GROUP BY bot_id, channel, user_id "
            "ORDER BY due LIMIT $2",
            now, limit, bot_ids,
        )
        return [ConversationKey(r["bot_id"], r["channel"], r["user_id"]) for r in rows]

    async def due_messages(self, key: ConversationKey, now: float) -> list[tuple[int, list[JSONDict]]]:
        rows = await self.pool.fetch(
            "SELECT id, payloads FROM scheduled WHERE bot_id=$1 AND channel=$2 AND user_id=$3 AND due_at <= $4 "
            "ORDER BY due_at, id",
            key.bot_id, key.channel, key.user_id, now,
        )
        return [(int(r["id"]), r["payloads"] or []) for r in rows]

    # ------------------------------------------------------------------------------ collaborators

    @staticmethod
    def _user(r: asyncpg.Record) -> User:
        return User(r["email"], r["password_hash"], r["role"], bool(r["super_admin"]),
                    [str(b) for b in orjson.loads(r["bots"] or "[]")], int(r["token_version"]))

    async def get_user(self, email: str) -> User | None:
        r = await self.pool.fetchrow(
            "SELECT email, password_hash, role, super_admin, bots, token_version FROM collaborators WHERE email=$1",
            normalize_email(email),
        )
        return self._user(r) if r else None

    async def list_users(self) -> list[User]:
        rows = await self.pool.fetch(
            "SELECT email, password_hash, role, super_admin, bots, token_version FROM collaborators ORDER BY email"
        )
        return [self._user(r) for r in rows]

    async def put_user(self, user: User) -> None:
        await self._put_user(self.pool, user)

    @staticmethod
    async def _put_user(conn: Any, user: User) -> None:
        now = time.time()
        await conn.execute(
            "INSERT INTO collaborators (email, password_hash, role, super_admin, bots, token_version, created_at, "
            "updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$7) ON CONFLICT (email) DO UPDATE SET "
            "password_hash=excluded.password_hash, role=excluded.role, super_admin=excluded.super_admin, "
            "bots=excluded.bots, token_version=excluded.token_version, updated_at=excluded.updated_at",
            normalize_email(user.email), user.password_hash, user.role, int(user.super_admin),
            _dumps(user.bots), user.token_version, now,
        )

    async def delete_user(self, email: str) -> bool:
        status = await self.pool.execute("DELETE FROM collaborators WHERE email=$1", normalize_email(email))
        return bool(status.endswith(" 1"))

    async def create_first_user(self, user: User) -> bool:
        """Create `user` only if no user exists yet (several workers may start at once)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE collaborators IN EXCLUSIVE MODE")
            if await conn.fetchval("SELECT COUNT(*) FROM collaborators"):
                return False
            await self._put_user(conn, user)
            return True

    # ------------------------------------------------------------------------------------- locks

    def locks(self) -> PgLocks:
        return PgLocks(self)


class PgLocks:
    """Per-conversation locks for several processes sharing one PostgreSQL, when there is no Redis.

    Within a process, `LocalLocks` queues turns in arrival order; across processes, the holder takes
    a session-level advisory lock on its own connection. PostgreSQL wakes the next waiter as soon as
    the lock is released, and releases it by itself if the holder's process dies.
    """

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.local = LocalLocks()

    @staticmethod
    def lock_id(key: str) -> int:
        import hashlib

        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)

    @contextlib.asynccontextmanager
    async def hold(self, key: str, limit: int | None = None) -> AsyncIterator[None]:
        pool = await self.store.lock_pool()
        async with self.local.hold(key, limit), pool.acquire() as conn:
            lock_id = self.lock_id(key)
            await conn.execute("SELECT pg_advisory_lock($1)", lock_id)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)

    def waiting(self, key: str) -> int:
        return self.local.waiting(key)

    def close(self) -> None:
        pass
