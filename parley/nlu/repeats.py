"""Understandings of messages seen before, kept so that a repeated message costs a dictionary look-up.

Chat traffic repeats itself: quick replies, choice buttons, "hi", "yes", "no". What the NLU makes of
a message (its language, intents, entities and slots) depends only on the bot's models, the text,
the included contexts and the user's language, except when an extraction depended on the moment:
dates are read relative to the current time and the user's time zone (and whether "the 31st" is a
date at all depends on the month), and a bot's pattern may run out of time on a busy moment. The
service keeps nothing computed while that happened (`parley.nlu.entities.moment_bound_count`), and
nothing holding a `time` entity. (Botpress keeps Duckling's answers by text the same way, but also its
times, so "tomorrow" stays the day it was first said.)

A kept understanding is stored serialized and rebuilt on every hit: the caller gets a fresh object it
may change, and the cache holds no references into anyone's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

MAX_ENTRIES = 4096  # per server, all bots
# and at most this many bytes: an understanding is 1-2 kB for a bot of a few intents, 13 kB for one of
# 150 (every intent of every context is listed), so the entries alone would not bound the memory
MAX_BYTES = 8 * 1024 * 1024
_TIME = b'"system.time"'

Key = tuple[str, str, tuple[str, ...], str | None]  # (models, text, included contexts, user's language)


class RepeatedPredictions:
    """A bounded map (models, text, contexts, user's language) -> understanding, oldest out first."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0  # of the kept understandings (serialized) and their texts
        self._entries: dict[Key, bytes] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(models: str, text: str, included: Sequence[object], language: str | None) -> Key | None:
        """None when the contexts are not all strings (such a message is predicted, not kept)."""
        for c in included:
            if not isinstance(c, str):
                return None
        return (models, text, tuple(included), language)  # type: ignore[arg-type]

    def get(self, key: Key | None) -> dict[str, Any] | None:
        if key is None:
            return None
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        result: dict[str, Any] = orjson.loads(entry)
        return result

    def put(self, key: Key | None, result: dict[str, Any]) -> None:
        """Keep `result` unless it depends on the current time (or cannot be serialized)."""
        if key is None or self.max_entries <= 0:
            return
        try:
            raw = orjson.dumps(result)
        except TypeError:
            return
        if _TIME in raw:
            return
        size = len(raw) + len(key[1])
        if size > self.max_bytes:
            return
        entries = self._entries
        old = entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old) + len(key[1])
        while entries and (len(entries) >= self.max_entries or self.bytes + size > self.max_bytes):
            oldest = next(iter(entries))
            self.bytes -= len(entries.pop(oldest)) + len(oldest[1])
        entries[key] = raw
        self.bytes += size

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
