"""The NLU model cache on disk: models no bot uses any more are removed once they are old enough."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from parley.bots.loader import load_bot
from parley.bots.models import Bot
from parley.nlu.cache import DEFAULT_MAX_AGE, LEFTOVER_AGE, max_age_from_env, prune
from parley.nlu.service import NluService
from tests.conftest import TEMPLATES, shared_or_skip


def _model_ids(cache: Path) -> set[str]:
    return {p.name for p in cache.iterdir() if not p.name.startswith(".") and p.name.count(".") == 3}


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


USED, RECENT, OLD = (f"{c * 16}.{'0' * 16}.42.en" for c in "abc")


def test_prune_keeps_models_in_use_and_recent_ones(tmp_path: Path) -> None:
    for name in (USED, RECENT, OLD, "wordllama-l2-256-abc-123", "langid-1-2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.json").write_text("{}")
        if name != RECENT:
            _age(tmp_path / name, 30 * 86400)
    removed = prune(tmp_path, {USED}, max_age=7 * 86400)
    assert removed == [OLD]
    # the unpacked resources that share the folder are not models: never pruned
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([USED, RECENT, "wordllama-l2-256-abc-123",
                                                                 "langid-1-2"])


def test_prune_removes_leftovers_of_crashed_saves_and_orphan_locks(tmp_path: Path) -> None:
    (tmp_path / ".tmp-abc").mkdir()
    (tmp_path / ".tmp-new").mkdir()
    (tmp_path / ".langid-1-2.x7q").mkdir()  # an unpacked resource whose write crashed
    (tmp_path / ".gone.lock").write_text("")
    (tmp_path / f".{USED}.lock").write_text("")
    (tmp_path / USED).mkdir()
    for p in (tmp_path / ".tmp-abc", tmp_path / ".langid-1-2.x7q", tmp_path / ".gone.lock", tmp_path / f".{USED}.lock"):
        _age(p, LEFTOVER_AGE + 60)
    prune(tmp_path, {USED}, max_age=DEFAULT_MAX_AGE)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f".{USED}.lock", ".tmp-new", USED])


def test_prune_of_a_missing_folder_is_a_no_op(tmp_path: Path) -> None:
    assert prune(tmp_path / "nothing", set(), 0) == []


def test_max_age_setting() -> None:
    assert max_age_from_env({}) == DEFAULT_MAX_AGE
    assert max_age_from_env({"PARLEY_NLU_CACHE_DAYS": "0.5"}) == 43200
    assert max_age_from_env({"PARLEY_NLU_CACHE_DAYS": "soon"}) == DEFAULT_MAX_AGE


async def test_a_retrained_bot_leaves_its_old_model_to_the_pruning(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing a bot's intents makes a new model; the old one goes once unused for the cache age."""
    shared_or_skip()
    monkeypatch.setenv("PARLEY_NLU_CACHE_DAYS", "1")
    import shutil

    folder = tmp_path / "bot"
    shutil.copytree(TEMPLATES / "welcome-bot", folder)
    cache = tmp_path / "nlu"
    service = NluService(cache)
    try:
        first = load_bot(folder)
        assert isinstance(first, Bot)
        await service.train(first)
        old_ids = _model_ids(cache)
        assert old_ids
        for model_id in old_ids:  # unused for two days by the time the bot changes
            _age(cache / model_id, 2 * 86400)
        hello = folder / "intents" / "hello.json"
        intent = json.loads(hello.read_text())
        intent["utterances"]["en"].append("good evening to you")
        hello.write_text(json.dumps(intent))
        second = load_bot(folder)
        assert isinstance(second, Bot)
        await service.train(second)
        await asyncio.get_running_loop().run_in_executor(service._executor, lambda: None)  # pruning done
        new_ids = _model_ids(cache)
        assert new_ids and not (new_ids & old_ids)
        assert service.status()[second.id] == "ready"
    finally:
        service.close()
