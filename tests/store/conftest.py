"""`store`: the same store tests on each backend — SQLite (a file in tmp) and PostgreSQL
(PARLEY_TEST_DATABASE_URL, in a schema of its own; skipped when it is not set)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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
