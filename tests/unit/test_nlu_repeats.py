"""Repeated messages reuse their prediction; anything that depends on the current time is predicted again."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import pytest

from parley.engine.state import default_nlu
from parley.nlu.repeats import RepeatedPredictions
from tests.conftest import TEMPLATES, trained_nlu


def _event(text: str, contexts: list[str] | None = None, **payload: Any) -> dict[str, Any]:
    nlu = default_nlu()
    if contexts is not None:
        nlu["includedContexts"] = contexts
    return {"type": "text", "preview": text, "payload": {"type": "text", "text": text, **payload},
            "state": {"user": {}}, "nlu": nlu}


def test_kept_predictions_are_fresh_copies_and_bounded() -> None:
    cache = RepeatedPredictions(max_entries=2)
    result = {"intent": {"name": "hello", "confidence": 0.9}, "entities": []}
    key = cache.key("m1", "hi", ["global"], None)
    cache.put(key, result)
    first = cache.get(key)
    assert first == result
    assert first is not None
    first["intent"]["name"] = "changed"  # a caller changing its copy changes nothing kept
    assert cache.get(key) == result
    assert cache.get(cache.key("m1", "hi", ["other"], None)) is None  # other contexts: another prediction
    assert cache.get(cache.key("m2", "hi", ["global"], None)) is None  # other models
    assert cache.get(cache.key("m1", "hi", ["global"], "fr")) is None  # a user whose language is known
    cache.put(cache.key("m1", "b", ["global"], None), result)
    cache.put(cache.key("m1", "c", ["global"], None), result)
    assert len(cache) == 2 and cache.get(key) is None  # the oldest went first
    assert cache.key("m1", "hi", [{"not": "a string"}], None) is None


def test_the_kept_understandings_are_bounded_in_bytes_too() -> None:
    """A bot of 150 intents has 13 kB understandings: the store holds what fits, oldest out first."""
    cache = RepeatedPredictions(max_entries=100, max_bytes=10_000)
    big = {"intents": [{"label": f"intent_{i}", "confidence": 0.001} for i in range(60)]}  # ≈ 3 kB
    for i in range(10):
        cache.put(cache.key("m", f"message {i}", ["global"], None), big)
    assert 0 < len(cache) < 10 and cache.bytes <= 10_000
    assert cache.get(cache.key("m", "message 9", ["global"], None)) == big  # the newest stays
    assert cache.get(cache.key("m", "message 0", ["global"], None)) is None  # the oldest went
    cache.put(cache.key("m", "huge", ["global"], None), {"x": "y" * 20_000})  # bigger than the whole store
    assert cache.get(cache.key("m", "huge", ["global"], None)) is None and cache.bytes <= 10_000
    cache.clear()
    assert cache.bytes == 0 and len(cache) == 0


def test_predictions_with_a_time_are_not_kept() -> None:
    cache = RepeatedPredictions()
    timed = {"entities": [{"name": "time", "type": "system.time", "data": {"value": "2026-12-07T19:00:00.000+00:00"}}]}
    key = cache.key("m", "tomorrow at 7pm", ["global"], None)
    cache.put(key, timed)
    assert cache.get(key) is None and len(cache) == 0


async def test_a_repeated_message_gets_the_same_understanding(tmp_path: Path) -> None:
    async with trained_nlu(TEMPLATES / "small-talk", tmp_path / "nlu") as (bot, service):
        first = service.understand(bot, _event("who bulit you"))
        assert first is not None and first["spellChecked"] == "who built you"
        second = service.understand(bot, _event("who bulit you"))
        assert second is not None and service.repeats.hits == 1
        for result in (first, second):
            del result["ms"]
        assert second == first
        first["intent"]["name"] = "tampered"  # the first caller's copy is its own
        third = service.understand(bot, _event("who bulit you"))
        assert third is not None and third["intent"]["name"] == second["intent"]["name"] != "tampered"
        # the same text with other contexts is predicted for those contexts
        service.understand(bot, _event("who bulit you", contexts=["nothing-here"]))
        assert service.repeats.hits == 2
        # a time is read anew for each message: the same words in two time zones, two times
        values = []
        for tz in (-5, 9):
            result = service.understand(bot, _event("remind me tomorrow at 7pm", timezone=tz))
            assert result is not None
            values += [e["data"]["value"] for e in result["entities"] if e["name"] == "time"]
        assert len(values) == 2 and values[0].endswith("-05:00") and values[1].endswith("+09:00")


class _EndOfJune(datetime):
    """The last hour of June in UTC, already July 1st in Tokyo."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _EndOfJune:
        moment = cls(2026, 6, 30, 23, 0, tzinfo=UTC)
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


async def test_a_message_whose_dates_depend_on_the_day_is_read_anew(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """At the same instant it is still June in London and already July in Tokyo: "this month" (and
    whether "the 31st" of it exists) differs, however often the message is said."""
    import parley.nlu.service as service_module

    monkeypatch.setattr(service_module, "datetime", _EndOfJune)
    async with trained_nlu(TEMPLATES / "small-talk", tmp_path / "nlu") as (bot, service):
        text = "remind me on the 31st of this month"

        def times(result: dict[str, Any] | None) -> list[str]:
            assert result is not None
            return [e["data"]["value"] for e in result["entities"] if e["type"] == "system.time"]

        london = times(service.understand(bot, _event(text, timezone=0)))
        tokyo = times(service.understand(bot, _event(text, timezone=9)))
        assert london and all(t.startswith("2026-06") for t in london), london  # still June in London
        assert tokyo and all(t.startswith("2026-07") for t in tokyo), tokyo
        assert times(service.understand(bot, _event(text, timezone=0))) == london


async def test_a_pattern_cut_short_by_its_time_limit_is_tried_again(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A pattern entity that ran out of time on a busy moment finds its match the next time."""
    from parley import bounded_regex
    from tests.unit.test_nlu import write_shop

    async with trained_nlu(write_shop(tmp_path), tmp_path / "nlu") as (bot, service):
        text = "where is my order ORD-1234"
        monkeypatch.setattr(bounded_regex, "TIME_LIMIT", 1e-9)  # every match times out
        busy = service.understand(bot, _event(text))
        monkeypatch.setattr(bounded_regex, "TIME_LIMIT", 0.05)
        calm = service.understand(bot, _event(text))
        assert busy is not None and calm is not None
        assert "order_number" not in [e["name"] for e in busy["entities"]]
        assert "order_number" in [e["name"] for e in calm["entities"]]
