"""Per-conversation locks: one turn at a time per (bot, user), in arrival order.

asyncio.Lock wakes waiters first-in first-out, so concurrent requests of one user are processed in
the order they arrived, and each gets its own answer. Locks of idle conversations are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class LocalLocks:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def waiting(self, key: str) -> int:
        entry = self._locks.get(key)
        return entry[1] if entry else 0
