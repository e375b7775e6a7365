"""The per-conversation turn: lock, load, run, save.

This is the only place that joins the engine to the store. A conversation's turns never overlap
(the lock), state is loaded fresh for each turn, and the new state is written in one transaction
before the answer leaves, so an answer the user saw is always remembered.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from parley.bots.models import Bot
from parley.bots.registry import BotRegistry
from parley.engine.durations import parse_duration
from parley.engine.runtime import EngineOptions
from parley.engine.state import JSONDict, Memory, new_session
from parley.engine.turn import TurnResult, Understand, run_timeout, run_turn
from parley.settings import Settings
from parley.store.base import ConversationKey, Loaded, Saved, Store
from parley.store.locks import LocalLocks, Locks

log = logging.getLogger("parley.conversations")

DEFAULT_CONTEXT_TIMEOUT = "25m"
DEFAULT_SESSION_TIMEOUT = "30m"
DEFAULT_CONVERSE_TIMEOUT = "5s"
DEFAULT_LOG_RETENTION = "1 week"
PRUNE_INTERVAL = 3600.0
ANSWER_RETENTION = 86400.0  # a retry of a message is answered from storage for a day


@dataclass
class TurnStats:
    """Counters of this process: how long turns waited for their conversation's lock, and ran."""

    turns: int = 0
    lock_wait_seconds: float = 0.0
    turn_seconds: float = 0.0

    def record(self, waited: float, ran: float) -> None:
        self.turns += 1
        self.lock_wait_seconds += waited
        self.turn_seconds += ran

    def as_dict(self) -> dict[str, float]:
        return {"turns": self.turns, "lockWaitSeconds": round(self.lock_wait_seconds, 6),
                "turnSeconds": round(self.turn_seconds, 6)}


class Conversations:
    def __init__(
        self,
        settings: Settings,
        registry: BotRegistry,
        store: Store,
        locks: Locks | None = None,
        understand: Understand | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.locks: Locks = locks or LocalLocks()
        self.understand = understand
        self.rng = rng or random.Random()
        self.stats = TurnStats()

    # ------------------------------------------------------------------------------- configuration

    def config(self, bot: Bot, *path: str) -> Any:
        """A bot value, else the global one. Like Botpress, a falsy bot value falls back."""
        return bot.config.get(*path) or self.settings.global_value(*path)

    def seconds(self, bot: Bot, *path: str, default: str) -> float:
        key = ("seconds", path, default)
        cached = bot.cache.get(key)
        if cached is None:
            value = parse_duration(self.config(bot, *path))
            cached = value if value is not None and value > 0 else float(parse_duration(default) or 0)
            bot.cache[key] = cached
        return float(cached)

    def options(self, bot: Bot) -> EngineOptions:
        options = bot.cache.get("options")
        if options is None:
            options = EngineOptions(
                action_timeout=self.seconds(bot, "converse", "timeout", default=DEFAULT_CONVERSE_TIMEOUT),
                external_url=self.settings.external_url,
                no_repeat_policy=bool(self.settings.global_value("noRepeatPolicy")),
            )
            bot.cache["options"] = options
        assert isinstance(options, EngineOptions)
        return options

    def max_message_length(self, bot: Bot) -> int:
        value = self.config(bot, "converse", "maxMessageLength")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 360

    # ------------------------------------------------------------------------------------- turns

    def _expiries(self, bot: Bot, now: float) -> tuple[float, float]:
        context = self.seconds(bot, "dialog", "timeoutInterval", default=DEFAULT_CONTEXT_TIMEOUT)
        session = self.seconds(bot, "dialog", "sessionTimeoutInterval", default=DEFAULT_SESSION_TIMEOUT)
        return now + context, now + session

    @staticmethod
    def _fresh(loaded: Loaded, now: float) -> Memory:
        memory = loaded.memory
        if loaded.session_expiry is not None and loaded.session_expiry < now:
            memory.context, memory.session, memory.temp = {}, new_session(), {}
        return memory

    async def converse(
        self,
        bot: Bot,
        user_id: str,
        payload: JSONDict,
        *,
        included_contexts: list[str] | None = None,
        credentials: Any = None,
        channel: str = "api",
        message_id: str | None = None,
    ) -> TurnResult:
        """Run one turn. With a `message_id`, a retry of a message already answered gets the stored
        answer again instead of running the turn twice (also across workers: the check is made under
        the conversation's lock, and the answer is saved in the turn's transaction)."""
        key = ConversationKey(bot.id, channel, user_id)
        options = self.options(bot)
        asked = time.perf_counter()
        async with self.locks.hold(key.session_id):
            started = time.perf_counter()
            try:
                return await self._turn(bot, key, payload, options, included_contexts, credentials, message_id)
            finally:
                self.stats.record(started - asked, time.perf_counter() - started)

    async def _turn(self, bot: Bot, key: ConversationKey, payload: JSONDict, options: EngineOptions,
                    included_contexts: list[str] | None, credentials: Any, message_id: str | None) -> TurnResult:
        user_id = key.user_id
        now = time.time()
        if message_id is not None:
            stored = await self.store.find_answer(key, message_id)
            if stored is not None:
                return TurnResult.from_answer(stored)
        loaded = await self.store.load(key)
        user_before = copy.deepcopy(loaded.memory.user)
        memory = self._fresh(loaded, now)
        events: list[JSONDict] = []
        if memory.context and loaded.context_expiry is not None and loaded.context_expiry < now:
            # The janitor has not fired this timeout yet: fire it now, before the new message.
            timed_out = await run_timeout(bot, memory, user_id=user_id, options=options, rng=self.rng)
            memory = timed_out.memory
            events.append({"eventId": timed_out.event_id, "direction": "proactive", "payload": timed_out.responses})
            self._log_proactive(key, timed_out)
        result = await run_turn(
            bot,
            memory,
            payload,
            user_id=user_id,
            included_contexts=included_contexts,
            credentials=credentials,
            options=options,
            understand=self.understand,
            rng=self.rng,
        )
        context_expiry, session_expiry = self._expiries(bot, time.time())
        events += [
            {"eventId": result.event_id, "direction": "incoming", "payload": payload},
            {"eventId": result.event_id, "direction": "outgoing", "payload": result.responses},
        ]
        answer = result.answer() if message_id is not None else None
        await self.store.save(
            key, Saved(result.memory, context_expiry, session_expiry, events, user_before, message_id, answer)
        )
        result.memory.bot_kv_writes = {}
        return result

    @staticmethod
    def _log_proactive(key: ConversationKey, result: TurnResult) -> None:
        if result.responses:
            log.info("%s: timeout handler produced %d message(s) outside a request", key.session_id,
                     len(result.responses))

    # ----------------------------------------------------------------------------------- janitor

    async def fire_timeouts(self, now: float | None = None) -> int:
        """Run the timeout handler of every conversation whose context expired. Returns how many.

        One conversation failing (a handler or its memory that cannot be saved) is logged and
        does not keep the others from timing out."""
        now = time.time() if now is None else now
        await self.store.delete_expired_sessions(now)
        fired = 0
        # Only bots being served: conversations of a removed or broken bot must not crowd out the rest.
        served = [b.id for b in self.registry.bots.values() if isinstance(b, Bot)]
        for key in await self.store.expired_contexts(now, bot_ids=served):
            bot = self.registry.get(key.bot_id)
            if not isinstance(bot, Bot):
                continue
            try:
                fired += await self._fire_timeout(bot, key, now)
            except Exception:
                log.exception("%s: the timeout handler failed", key.session_id)
        return fired

    async def _fire_timeout(self, bot: Bot, key: ConversationKey, now: float) -> int:
        async with self.locks.hold(key.session_id):
            loaded = await self.store.load(key)
            user_before = copy.deepcopy(loaded.memory.user)
            if not loaded.memory.context or loaded.context_expiry is None or loaded.context_expiry >= now:
                return 0  # a message arrived meanwhile
            result = await run_timeout(bot, loaded.memory, user_id=key.user_id, options=self.options(bot),
                                       rng=self.rng)
            context_expiry, session_expiry = self._expiries(bot, time.time())
            events = [{"eventId": result.event_id, "direction": "proactive", "payload": result.responses}]
            await self.store.save(key, Saved(result.memory, context_expiry, session_expiry, events, user_before))
            self._log_proactive(key, result)
            return 1

    async def prune(self, now: float | None = None) -> int:
        """Apply the retention of the event log (`logs.expiration`, bot then global, default 1 week)
        and of stored retry answers (one day)."""
        now = time.time() if now is None else now
        removed = 0
        for bot in [b for b in self.registry.bots.values() if isinstance(b, Bot)]:
            keep = self.seconds(bot, "logs", "expiration", default=DEFAULT_LOG_RETENTION)
            removed += await self.store.prune(bot.id, now - keep, now - ANSWER_RETENTION)
        return removed

    async def janitor(self, stop: asyncio.Event) -> None:
        interval = parse_duration(self.settings.global_value("dialog", "janitorInterval")) or 10.0
        last_prune = 0.0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
            if stop.is_set():
                return
            try:
                await self.fire_timeouts()
                if time.monotonic() - last_prune > PRUNE_INTERVAL:
                    last_prune = time.monotonic()
                    await self.prune()
            except Exception:
                log.exception("janitor run failed")
