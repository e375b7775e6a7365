"""The event log is written in batches (Botpress's event collector), on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from parley.eventlog import EventLog, EventRow
from parley.store.base import ConversationKey
from tests.conftest import until

KEY = ConversationKey("bot", "api", "ada")


def turn_events(n: int) -> list[dict[str, Any]]:
    return [{"eventId": f"e{n}", "direction": "incoming", "payload": {"type": "text", "text": f"message {n}"}},
            {"eventId": f"e{n}", "direction": "outgoing", "payload": [{"type": "text", "text": f"answer {n}"}]}]


async def test_events_are_written_together_after_the_interval(store: Any) -> None:
    log = EventLog(store, interval=1.0)
    for n in range(3):
        log.add(KEY, turn_events(n))
    assert await store.events(KEY) == []  # not yet: they wait for the batch

    async def all_written() -> bool:
        return len(await store.events(KEY)) >= 6

    await until(all_written, seconds=15)  # no flush: the interval alone writes them
    events = await store.events(KEY)
    assert [(e["eventId"], e["direction"]) for e in events] == [
        (f"e{n}", d) for n in range(3) for d in ("incoming", "outgoing")]
    assert events[0]["payload"] == {"type": "text", "text": "message 0"}
    assert events[-1]["payload"] == [{"type": "text", "text": "answer 2"}]


async def test_closing_writes_what_is_left(store: Any) -> None:
    log = EventLog(store, interval=3600)
    log.add(KEY, turn_events(1))
    await log.close()
    assert len(await store.events(KEY)) == 2


async def test_a_large_batch_is_written_whole_and_in_order(store: Any) -> None:
    """A busy second's batch (written in several short transactions on SQLite) loses and reorders nothing."""
    log = EventLog(store, interval=3600)
    for n in range(700):
        log.add(KEY, turn_events(n))
    assert await log.flush() == 1400
    events = await store.events(KEY, limit=2000)
    assert [(e["eventId"], e["direction"]) for e in events] == [
        (f"e{n}", d) for n in range(700) for d in ("incoming", "outgoing")]


async def test_a_disabled_log_writes_nothing(store: Any) -> None:
    log = EventLog.from_config(store, {"enabled": False})
    log.add(KEY, turn_events(1))
    await log.close()
    assert await store.events(KEY) == []


def test_configuration_follows_botpress_event_collector() -> None:
    assert EventLog.from_config(None, None).interval == 1.0  # type: ignore[arg-type]
    assert EventLog.from_config(None, {"collectionInterval": "5s"}).interval == 5.0  # type: ignore[arg-type]
    in_turn = EventLog.from_config(None, {"collectionInterval": "0"})  # type: ignore[arg-type]
    assert in_turn.in_turn and in_turn.enabled


class FailingStore:
    """Fails one write (the `failing`-th), takes the others."""

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.calls = 0
        self.rows: list[EventRow] = []

    async def append_events(self, rows: list[EventRow]) -> None:
        self.calls += 1
        if self.calls == self.failing:
            raise OSError("disk full")
        self.rows += rows


async def test_a_failed_write_keeps_the_rows_for_the_next_flush(caplog: pytest.LogCaptureFixture) -> None:
    flaky = FailingStore(failing=1)
    log = EventLog(flaky, interval=3600)
    log.add(KEY, turn_events(1))
    assert await log.flush() == 0
    assert "retrying later" in caplog.text
    log.add(KEY, turn_events(2))
    await log.close()
    assert [row[3] for row in flaky.rows] == ["e1", "e1", "e2", "e2"]


async def test_a_write_failing_halfway_keeps_only_the_unwritten_rows() -> None:
    store = FailingStore(failing=3)
    log = EventLog(store, interval=3600)
    for n in range(700):
        log.add(KEY, turn_events(n))
    first = await log.flush()
    assert 0 < first < 1400  # some batches went in before the failure
    await log.close()
    assert [(row[3], row[4]) for row in store.rows] == [
        (f"e{n}", d) for n in range(700) for d in ("incoming", "outgoing")]  # each once, in order
