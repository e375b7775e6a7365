"""Predictions of messages seen before, kept so that a repeated message costs a dictionary look-up.

Chat traffic repeats itself: quick replies, choice buttons, "hi", "yes", "no". What the NLU makes of
a message depends only on the model, the text and the included contexts, except for `time`
entities, which are read relative to the current time and the user's time zone: a prediction that
holds one anywhere (entities or slots) is never kept. (Botpress keeps Duckling's answers by text the
same way, but also its times, so "tomorrow" stays the day it was first said.)

A kept prediction is stored serialized and rebuilt on every hit: the caller gets a fresh object it
may change, and the cache holds no references into anyone's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

MAX_ENTRIES = 4096  # per server, all bots: a few kB each
_TIME = b'"system.time"'

Key = tuple[str, str, tuple[str, ...]]  # (model id, text, included contexts)


class RepeatedPredictions:
    """A bounded map (model id, text, contexts) -> (spell-checked text, prediction), oldest out first."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[Key, tuple[str, bytes]] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model_id: str, text: str, included: Sequence[object]) -> Key | None:
        """None when the contexts are not all strings (such a message is predicted, not kept)."""
        if not all(isinstance(c, str) for c in included):
            return None
        return (model_id, text, tuple(included))  # type: ignore[arg-type]

    def get(self, key: Key | None) -> tuple[str, dict[str, Any]] | None:
        if key is None:
            return None
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        return entry[0], orjson.loads(entry[1])

    def put(self, key: Key | None, checked: str, result: dict[str, Any]) -> None:
        """Keep `result` unless it depends on the current time (or cannot be serialized)."""
        if key is None or self.max_entries <= 0:
            return
        try:
            raw = orjson.dumps(result)
        except TypeError:
            return
        if _TIME in raw:
            return
        entries = self._entries
        if key not in entries and len(entries) >= self.max_entries:
            del entries[next(iter(entries))]
        entries[key] = (checked, raw)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
