"""Per-conversation locks: one turn at a time per (bot, user), in arrival order.

asyncio.Lock wakes waiters first-in first-out, so concurrent requests of one user are processed in
the order they arrived, and each gets its own answer. Locks of idle conversations are dropped.

`FileLocks` extends this to every process sharing one data folder (`parley serve --workers N`,
or `parley chat` next to a running server): waiters of one process queue on a `LocalLocks`, then
the holder takes a POSIX record lock on one byte of a shared lock file, at an offset derived from
the conversation key. The kernel drops the record locks of a process that dies, so a crashed worker
never leaves a conversation locked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per data folder
    fcntl = None  # type: ignore[assignment]


class QueueFull(Exception):
    """`limit` turns of this conversation are already running or waiting (`converse.maxQueuedTurns`)."""


class Locks(Protocol):
    def hold(self, key: str, limit: int | None = None) -> AbstractAsyncContextManager[None]:
        """Hold `key`'s lock (waiting in arrival order); QueueFull when `limit` turns already hold or
        wait for it, counted as widely as the locks reach (this process, or every worker with Redis)."""
        ...

    def waiting(self, key: str) -> int:
        """Turns of this process holding or waiting for `key` (bounds a user's queue)."""
        ...


class LocalLocks:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str, limit: int | None = None) -> AsyncIterator[None]:
        if limit is not None and self.waiting(key) >= limit:
            raise QueueFull(key)
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


class FileLocks:
    """`LocalLocks`, plus a byte-range lock of `path` shared with the other processes."""

    FIRST_POLL = 0.001
    MAX_POLL = 0.02

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = LocalLocks()
        self._fd: int | None = None

    def _file(self) -> int | None:
        if fcntl is None:
            return None
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    @staticmethod
    def offset(key: str) -> int:
        # 56 bits: distinct conversations practically never share a byte (off_t is 63 bits).
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=7).digest(), "big")

    @asynccontextmanager
    async def hold(self, key: str, limit: int | None = None) -> AsyncIterator[None]:
        async with self.local.hold(key, limit):
            fd = self._file()
            if fd is None:
                yield
                return
            offset = self.offset(key)
            delay = self.FIRST_POLL
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                    break
                except OSError:  # held by another process (EAGAIN / EACCES)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.MAX_POLL)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)

    def waiting(self, key: str) -> int:
        return self.local.waiting(key)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
