"""`store`: the same store tests on each backend — SQLite (a file in tmp) and PostgreSQL
(PARLEY_TEST_DATABASE_URL, in a schema of its own; skipped when it is not set)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from parley.store.base import ConversationKey
from parley.store.postgres import PostgresStore
from parley.store.sql import SQLiteStore
from tests.reliability.counting import pg_schema

DATABASE_URL = os.environ.get("PARLEY_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        s: Any = SQLiteStore(tmp_path / "parley.sqlite")
        await s.open()
        yield s
        await s.close()
        return
    if not DATABASE_URL:
        pytest.skip("PARLEY_TEST_DATABASE_URL is not set (no PostgreSQL)")
    async with pg_schema(DATABASE_URL) as url:
        s = PostgresStore(url)
        await s.open()
        yield s
        await s.close()


async def check_log_read_by_conversation(store: Any) -> None:
    """Open `store` (its migrations run), then entries of three conversations, interleaved: one
    conversation's are read back in order, the newest `limit` of them with a limit (the log has no
    index by conversation: this reads through it)."""
    await store.open()
    try:
        rows = [("b", "api", f"u{i % 3}", f"e{i}", "incoming", f'{{"n":{i}}}', 1000.0 + i) for i in range(30)]
        await store.append_events(rows)
        key = ConversationKey("b", "api", "u1")
        assert [e["payload"]["n"] for e in await store.events(key)] == list(range(1, 30, 3))
        assert [e["payload"]["n"] for e in await store.events(key, limit=2)] == [25, 28]
    finally:
        await store.close()
