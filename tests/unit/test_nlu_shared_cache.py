"""Workers sharing a data folder train each NLU model once; the others load it from the cache."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from parley.bots.loader import load_bot
from parley.bots.models import Bot
from parley.nlu import service as service_module
from parley.nlu.service import NluService
from tests.conftest import TEMPLATES, shared_or_skip


async def test_two_services_on_one_cache_train_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared_or_skip()
    bot = load_bot(TEMPLATES / "small-talk")
    assert isinstance(bot, Bot)
    real_train = service_module.LanguageModel.train
    calls: list[int] = []
    guard = threading.Lock()

    def counting_train(*args: Any, **kwargs: Any) -> Any:
        with guard:
            calls.append(1)
        time.sleep(0.3)  # long enough for the other worker to arrive while this one trains
        return real_train(*args, **kwargs)

    monkeypatch.setattr(service_module.LanguageModel, "train", staticmethod(counting_train))
    cache = tmp_path / "nlu"
    first, second = NluService(cache), NluService(cache)
    try:
        await asyncio.gather(first.train(bot), second.train(bot))
    finally:
        first.close()
        second.close()
    assert len(calls) == len(bot.config.languages)
    assert first.status()[bot.id] == second.status()[bot.id] == "ready"
