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
import functools
import hashlib
import os
from contextlib import AbstractAsyncContextManager
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

    def hold(self, key: str, limit: int | None = None) -> _LocalHold:
        if limit is not None and self.waiting(key) >= limit:
            raise QueueFull(key)
        return _LocalHold(self, key)

    def waiting(self, key: str) -> int:
        entry = self._locks.get(key)
        return entry[1] if entry else 0


class _LocalHold:
    """`LocalLocks.hold` (a class rather than an `asynccontextmanager`: every turn takes one, and a
    generator-based manager costs several times as much)."""

    __slots__ = ("locks", "key", "lock")

    def __init__(self, locks: LocalLocks, key: str) -> None:
        self.locks = locks
        self.key = key
        lock, users = locks._locks.get(key) or (asyncio.Lock(), 0)
        locks._locks[key] = (lock, users + 1)
        self.lock = lock

    def _leave(self) -> None:
        table = self.locks._locks
        lock, users = table[self.key]
        if users <= 1:
            del table[self.key]
        else:
            table[self.key] = (lock, users - 1)

    async def __aenter__(self) -> None:
        try:
            await self.lock.acquire()
        except BaseException:  # cancelled while waiting: no longer a user of the lock
            self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.lock.release()
        self._leave()


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
    @functools.lru_cache(maxsize=1 << 16)  # a conversation's turns come in runs: hashed once per run
    def offset(key: str) -> int:
        # 56 bits: distinct conversations practically never share a byte (off_t is 63 bits).
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=7).digest(), "big")

    def hold(self, key: str, limit: int | None = None) -> _FileHold:
        return _FileHold(self, key, self.local.hold(key, limit))

    def waiting(self, key: str) -> int:
        return self.local.waiting(key)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


class _FileHold:
    """`FileLocks.hold`: this process's turn first (`LocalLocks`), then the byte of the lock file,
    polled while another process holds it."""

    __slots__ = ("locks", "key", "local", "fd", "offset")

    def __init__(self, locks: FileLocks, key: str, local: _LocalHold) -> None:
        self.locks = locks
        self.key = key
        self.local = local
        self.fd: int | None = None
        self.offset = 0

    async def __aenter__(self) -> None:
        await self.local.__aenter__()
        try:
            fd = self.locks._file()
            if fd is None:
                return
            offset = self.locks.offset(self.key)
            delay = self.locks.FIRST_POLL
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                    break
                except OSError:  # held by another process (EAGAIN / EACCES)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.locks.MAX_POLL)
            self.fd, self.offset = fd, offset
        except BaseException:
            await self.local.__aexit__(None, None, None)
            raise

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.fd is not None:
                fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, self.offset)
        finally:
            await self.local.__aexit__(None, None, None)
