"""The event log (incoming, outgoing and proactive events of every conversation), written in batches.

Botpress's event collector keeps events in memory and writes them every `collectionInterval`
(`eventCollector` in botpress.config.json, default 1 s). parley does the same: the log is for
analytics and debugging, not conversation state, and writing it with each turn cost about a sixth of
a turn (the events table, its index and its sequence page in every commit, measured: ≈50 µs of
≈300). What a turn must keep (its state, retry answer, outbox, schedule) still commits with the turn;
a crash loses at most the last interval of log entries, as in Botpress.

- `eventCollector.enabled: false`: no event log at all.
- `eventCollector.collectionInterval: "0"`: each turn writes its events in its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

import orjson

from parley.engine.durations import parse_duration
from parley.engine.state import JSONDict
from parley.store.base import ConversationKey, EventRow

log = logging.getLogger("parley.events")

DEFAULT_INTERVAL = 1.0
CHUNK = 200  # rows per transaction (≈ 1.5 ms on SQLite)
# a store that cannot take the log for a long while must not take the process's memory with it
MAX_BUFFERED = 50_000



class EventStore(Protocol):
    async def append_events(self, rows: list[EventRow]) -> None: ...


class EventLog:
    def __init__(self, store: EventStore, *, enabled: bool = True, interval: float = DEFAULT_INTERVAL) -> None:
        self.store = store
        self.enabled = enabled
        self.interval = max(0.0, interval)
        self._rows: list[EventRow] = []
        self._pending: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self.dropped = 0

    @classmethod
    def from_config(cls, store: EventStore, config: Any) -> EventLog:
        """From the global `eventCollector` section (a dict, or anything else for the defaults)."""
        section = config if isinstance(config, dict) else {}
        interval = parse_duration(section.get("collectionInterval"))
        return cls(store, enabled=section.get("enabled", True) is not False,
                   interval=DEFAULT_INTERVAL if interval is None else interval)

    @property
    def in_turn(self) -> bool:
        """Events go into the turn's own transaction (interval 0) instead of the batch."""
        return self.enabled and self.interval == 0

    def add(self, key: ConversationKey, events: list[JSONDict], now: float | None = None) -> None:
        """Queue a committed turn's events; the next flush writes them."""
        if not self.enabled or not events:
            return
        at = time.time() if now is None else now
        self._rows.extend((key.bot_id, key.channel, key.user_id, str(e.get("eventId", "")),
                           str(e.get("direction", "")), orjson.dumps(e.get("payload")).decode(), at)
                          for e in events)
        if len(self._rows) > MAX_BUFFERED:
            excess = len(self._rows) - MAX_BUFFERED
            del self._rows[:excess]
            self.dropped += excess
            log.warning("event log: the store is not keeping up; %d oldest entries dropped", excess)
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self.interval)
        finally:
            self._pending = None
        await self.flush()

    async def flush(self) -> int:
        """Write what is queued, CHUNK rows per transaction with the event loop free in between: one
        transaction of a busy second's events (thousands of rows, ≈ 20 ms on SQLite) held up every
        request behind it. Flushes run one at a time, in order; on a failure the rows not yet
        written stay queued for the next try."""
        async with self._flushing:
            rows, self._rows = self._rows, []
            written = 0
            while written < len(rows):
                chunk = rows[written:written + CHUNK]
                try:
                    await self.store.append_events(chunk)
                except Exception:
                    log.exception("event log: writing %d entries failed; retrying later", len(rows) - written)
                    self._rows[:0] = rows[written:]
                    if self._pending is None:
                        self._pending = asyncio.get_running_loop().create_task(self._flush_later())
                    break
                written += len(chunk)
                if written < len(rows):
                    await asyncio.sleep(0)
            return written

    async def close(self) -> None:
        """Write the rest now (at shutdown)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        await self.flush()
