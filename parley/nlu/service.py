"""The NLU as the server uses it: train bots off the event loop, understand messages in microseconds.

`train(bot)` builds one model per bot language (or finds it in the cache folder: same training data,
same model id, no retraining) on a single background thread, so trainings never compete with each
other for the two cores. `understand(bot, event)` runs on the event loop: it detects the language,
predicts with the first model that works in Botpress's order (detected → user's → bot default),
and elects the intent (SPEC §3.4).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parley.bots.models import Bot
from parley.nlu.cache import mark_used, max_age_from_env, prune
from parley.nlu.embeddings import Embedder, load_embedder
from parley.nlu.entities import moment_bound_count
from parley.nlu.identifier import needed_by, start_loading
from parley.nlu.language import detect_language
from parley.nlu.model import LanguageModel, TrainingSet, predict_elected, training_sets
from parley.nlu.repeats import RepeatedPredictions

log = logging.getLogger("parley.nlu")

JSONDict = dict[str, Any]
# Botpress skips its NLU for these event types (SPEC §3.4).
SKIPPED_TYPES = frozenset({"session_reference", "session_reset", "bp_dialog_timeout", "visit", "say_something", ""})


@dataclass(frozen=True)
class BotModels:
    models: dict[str, LanguageModel]  # language -> model
    default_language: str

    @cached_property
    def identity(self) -> str:
        """Names these models (their ids and the default language): the key of their kept predictions."""
        return ",".join([self.default_language, *(self.models[lang].id for lang in sorted(self.models))])

    @cached_property  # both read on every message
    def languages(self) -> list[str]:
        return sorted(self.models)

    @cached_property
    def vocabularies(self) -> dict[str, frozenset[str]]:
        return {lang: m.vocabulary for lang, m in self.models.items()}


_blas_limited = False


def limit_blas_threads() -> None:
    """One BLAS thread: the NLU's products are small (one message) or already split over two threads
    by `linear.py`; OpenBLAS's own threads only add wake-up latency (measured: 80× slower training of
    a small bot on a busy 2-core machine)."""
    global _blas_limited
    if not _blas_limited:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(1, user_api="blas")
        except Exception:  # optional: only speed depends on it
            log.debug("threadpoolctl unavailable", exc_info=True)
        _blas_limited = True


def nlu_enabled_for(bot: Bot) -> bool:
    return bot.config.get("nlu", "enabled", default=True) is not False


@contextlib.contextmanager
def _training_lock(cache_dir: Path, model_id: str) -> Iterator[None]:
    """Workers sharing a data folder train each model once: the others wait here, then load it."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(cache_dir / f".{model_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # no writable cache: train without coordination
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class NluService:
    def __init__(self, cache_dir: Path, *, enabled: bool = True) -> None:
        self.cache_dir = cache_dir
        self.enabled = enabled
        self._bots: dict[str, BotModels] = {}
        self._status: dict[str, str] = {}
        self._generation: dict[str, int] = {}
        self._memory: dict[str, LanguageModel] = {}  # model id -> model, shared by bots with equal data
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="parley-nlu")
        self._lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._embedder_loaded = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._dates_warm = False
        self.cache_max_age = max_age_from_env()
        self.repeats = RepeatedPredictions()

    # ------------------------------------------------------------------------------------ training

    def _get_embedder(self) -> Embedder | None:
        if not self._embedder_loaded:
            self._embedder = load_embedder(self.cache_dir)
            self._embedder_loaded = True
        return self._embedder

    def _model_for(self, data: TrainingSet) -> LanguageModel:
        embedder = self._get_embedder()
        model_id = data.model_id(embedder)
        with self._lock:
            cached = self._memory.get(model_id)
        if cached is not None:
            return cached
        with _training_lock(self.cache_dir, model_id):
            model = self._load_or_train(data, embedder, model_id)
        with self._lock:
            self._memory[model_id] = model
        return model

    def _load_or_train(self, data: TrainingSet, embedder: Embedder | None, model_id: str) -> LanguageModel:
        folder = self.cache_dir / model_id
        model: LanguageModel | None = None
        if folder.is_dir():
            try:
                model = LanguageModel.load(folder, embedder)
                mark_used(folder)
                log.info("NLU model %s loaded from the cache", model_id)
            except Exception as exc:  # a damaged cache entry is rebuilt
                log.warning("NLU model %s unreadable (%s); training again", model_id, exc)
                model = None
        if model is None:
            started = time.perf_counter()
            model = LanguageModel.train(data, embedder)
            log.info("NLU model %s trained in %.2f s", model_id, time.perf_counter() - started)
            try:
                model.save(self.cache_dir)
            except OSError as unsaved:  # a read-only cache only costs a retraining next time
                log.warning("cannot save NLU model %s: %s", model_id, unsaved)
        return model

    def _identifier_loading(self) -> Future[Any]:
        """The language identifier, loading on a thread of its own (see `parley.nlu.identifier`)."""
        return start_loading(self.cache_dir)

    def _warm_dates(self) -> None:
        """Load dateparser's tables (about a second of pure Python) on a thread of their own, once the
        bots are ready: started earlier, it would take the GIL from the start-up half the time. A
        message mentioning a date meanwhile just waits for them."""
        from parley.nlu.entities.system import warm_up as warm_dates

        if not self._dates_warm:
            self._dates_warm = True
            threading.Thread(target=warm_dates, name="parley-dates-warmup", daemon=True).start()

    def _build_models(self, bot: Bot) -> BotModels:
        """Train (or load) every language model of `bot`; the language identifier may still be loading."""
        limit_blas_threads()
        if needed_by(bot.config):  # a one-language bot never asks the identifier
            self._identifier_loading()
        sets = training_sets(bot)
        models = {lang: self._model_for(data) for lang, data in sets.items()}
        return BotModels(models, bot.config.default_language)

    def build(self, bot: Bot) -> BotModels:
        """Train (or load) every language model of `bot`, and its language identifier, synchronously."""
        models = self._build_models(bot)
        if needed_by(bot.config):
            self._identifier_loading().result()
        return models

    async def train(self, bot: Bot) -> None:
        """(Re)train `bot` on the training thread; its previous models serve until the new ones are ready."""
        if not self.enabled or not nlu_enabled_for(bot):
            self._bots.pop(bot.id, None)
            self._status[bot.id] = "disabled"
            return
        generation = self._generation.get(bot.id, 0) + 1
        self._generation[bot.id] = generation
        self._status[bot.id] = "training"
        loop = asyncio.get_running_loop()
        try:
            models = await loop.run_in_executor(self._executor, self._build_models, bot)
            if needed_by(bot.config):  # not ready without it; the training thread meanwhile goes on to other bots
                await asyncio.wrap_future(self._identifier_loading())
        except Exception as exc:
            log.exception("bot %s: NLU training failed", bot.id)
            if self._generation.get(bot.id) == generation:
                self._status[bot.id] = f"failed: {type(exc).__name__}: {exc}"
            return
        if self._generation.get(bot.id) == generation:  # a newer training may have started meanwhile
            self._bots[bot.id] = models
            self._status[bot.id] = "ready"
            self._forget_unused()
            in_use = {m.id for b in self._bots.values() for m in b.models.values()}
            self._executor.submit(prune, self.cache_dir, in_use, self.cache_max_age)

    async def train_all(self, bots: Iterable[object]) -> None:
        """Train every loaded bot (broken ones are skipped). The trainings still run one after the other
        on the training thread, in this order; the language identifier, if a bot needs it, loads
        alongside from the start, and only the bots that need it wait for it."""
        trained = [bot for bot in bots if isinstance(bot, Bot)]
        if self.enabled and any(needed_by(bot.config) for bot in trained):
            self._identifier_loading()
        await asyncio.gather(*(self.train(bot) for bot in trained))
        if self.enabled and any(nlu_enabled_for(bot) for bot in trained):
            self._warm_dates()

    def on_reload(self, bot: object) -> None:
        """A `BotRegistry` listener: retrain a bot whose files changed, in the background."""
        if isinstance(bot, Bot):
            if self.enabled and nlu_enabled_for(bot):
                self._status[bot.id] = "training"  # from now on, not when the task first runs
                self._warm_dates()
            task = asyncio.get_running_loop().create_task(self.train(bot))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self.forget(str(getattr(bot, "id", "")))

    def forget(self, bot_id: str) -> None:
        self._bots.pop(bot_id, None)
        self._status.pop(bot_id, None)
        self._generation[bot_id] = self._generation.get(bot_id, 0) + 1
        self._forget_unused()

    def _forget_unused(self) -> None:
        used = {m.id for b in self._bots.values() for m in b.models.values()}
        with self._lock:
            for model_id in [k for k in self._memory if k not in used]:
                del self._memory[model_id]

    def status(self) -> dict[str, str]:
        return dict(self._status)

    async def trained(self) -> None:
        """Return once the trainings started by reloads have finished (whatever their outcome)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------------------ understanding

    def understand(self, bot: Bot, event: JSONDict) -> JSONDict | None:
        if not self.enabled or not nlu_enabled_for(bot):
            return None
        models = self._bots.get(bot.id)
        text = event.get("preview")
        if models is None or not isinstance(text, str) or not text or event.get("type", "text") in SKIPPED_TYPES:
            return None
        started = time.perf_counter()
        user = (event.get("state") or {}).get("user") or {}
        anticipated = user.get("language") if isinstance(user.get("language"), str) else None
        included = (event.get("nlu") or {}).get("includedContexts")
        if not isinstance(included, list):
            included = ["global"]
        key = self.repeats.key(models.identity, text, included, anticipated)
        result = self.repeats.get(key)
        if result is None:
            before = moment_bound_count()
            result = self._understand(bot, models, text, anticipated, included, user_now(event))
            if not result["errored"] and moment_bound_count() == before:  # see parley.nlu.repeats
                self.repeats.put(key, result)
        # whole milliseconds, as Botpress's `Date.now() - t0` (0 for most of parley's understandings)
        result["ms"] = int((time.perf_counter() - started) * 1000)
        return result

    @staticmethod
    def _understand(bot: Bot, models: BotModels, text: str, anticipated: str | None, included: list[Any],
                    now: datetime | None) -> JSONDict:
        """Detect the language, then predict with the first model that works (Botpress's order)."""
        detected = detect_language(text, models.languages, models.vocabularies)
        tried = ""
        seen: list[str] = []
        for lang in (detected, anticipated, models.default_language):
            if not lang or lang in seen:
                continue
            seen.append(lang)
            model = models.models.get(lang)
            if model is None:
                continue
            tried = lang
            try:
                checked, result = predict_elected(model, text, included, now)
            except Exception:  # Botpress logs and tries the next language
                log.exception("bot %s: NLU prediction failed in %s", bot.id, lang)
                continue
            result.update(modelId=model.id, errored=False, language=lang)
            result["detectedLanguage"] = detected or "n/a"
            result["spellChecked"] = checked
            return result
        return {"errored": True, "language": tried or models.default_language, "detectedLanguage": detected or "n/a"}


def user_now(event: JSONDict) -> datetime | None:
    """The user's current time when their time zone is known, so that "tomorrow at 5pm" is 5 pm for
    them: `timezone` in the message payload or in the user's attributes, as hours from UTC (what
    Botpress's webchat sends, e.g. `-5` or `5.5`) or an IANA name (`"Europe/Paris"`). None: the
    server's local time."""
    payload = event.get("payload")
    state = event.get("state")
    user = state.get("user") if isinstance(state, dict) else None
    raw = payload.get("timezone") if isinstance(payload, dict) else None
    if raw is None and isinstance(user, dict):
        raw = user.get("timezone")
    tz: tzinfo | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and -14 <= raw <= 14:
        tz = timezone(timedelta(hours=float(raw)))
    elif isinstance(raw, str) and raw.strip():
        try:
            tz = ZoneInfo(raw.strip())
        except (ZoneInfoNotFoundError, ValueError):
            tz = None
    return datetime.now(tz) if tz is not None else None
