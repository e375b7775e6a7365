"""What start-up builds is kept out of the collector's full passes; a reload gives it back."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from pathlib import Path

import pytest

from parley import heap
from parley.http import app as app_module
from tests.http.test_converse import make_data, say, serve, write_bot


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> _Node:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return a


def _walked(obj: object) -> bool:
    """Whether the collector's passes still look at `obj` (the permanent generation is not listed)."""
    return any(o is obj for o in gc.get_objects())


def test_settled_objects_leave_the_passes_and_unsettled_garbage_is_collected() -> None:
    try:
        kept = _cycle()
        dropped = _cycle()
        gone = weakref.ref(dropped)
        heap.settle()
        assert not _walked(kept) and gc.get_freeze_count() > 0
        del dropped
        gc.collect()
        assert gone() is not None  # a settled cycle is never collected...
        heap.unsettle()
        gc.collect()
        assert gone() is None  # ...until the heap is unsettled, as a reload does
        assert _walked(kept)
    finally:
        gc.unfreeze()


async def test_a_ready_server_keeps_its_bots_out_of_the_passes_and_again_after_a_reload(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_data(tmp_path)
    beta = write_bot(data, "beta", texts={"hello": "I am beta"})
    monkeypatch.setattr(app_module, "SETTLE_DELAY", 0)
    try:
        async with serve(data, PARLEY_NLU="on") as (client, app):
            registry = app.state.registry
            assert not _walked(registry.bots["beta"])
            nlu_when_settled: list[str | None] = []

            def settle() -> None:
                nlu_when_settled.append(app.state.nlu.status().get("beta"))
                real_settle()

            real_settle = heap.settle
            monkeypatch.setattr(heap, "settle", settle)
            config = json.loads((beta / "bot.config.json").read_text())
            (beta / "bot.config.json").write_text(json.dumps({**config, "description": "edited"}))
            registry.reload_folder(beta)  # what the file watcher does; the NLU trains the new bot
            reloaded = registry.bots["beta"]
            assert _walked(reloaded)  # unsettled by the reload, settled again once trained
            for _ in range(250):
                if not _walked(reloaded):
                    break
                await asyncio.sleep(0.02)
            assert not _walked(reloaded)
            assert nlu_when_settled and "training" not in nlu_when_settled  # settled once the bot was trained
            assert reloaded.config.get("description") == "edited"
            assert await say(client, "beta", "u", "hi") == ["I am beta"]
    finally:
        gc.unfreeze()
