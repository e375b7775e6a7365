"""The per-conversation turn: lock, load, run, save.

This is the only place that joins the engine to the store. A conversation's turns never overlap
(the lock), state is loaded fresh for each turn, and the new state is written in one transaction
before the answer leaves, so an answer the user saw is always remembered.

Turns that no request waits for (a timeout handler, a proactive event, a message an action scheduled
for later) put what the bot says in the conversation's outbox, in that same transaction; once it is
committed, `on_outbox` hears of it (to wake streams and call webhooks).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import time as wall_clock  # a name of this module's own: tests move this clock (tests/conftest.py)
from typing import Any

from parley.bots.models import Bot
from parley.bots.registry import BotRegistry
from parley.engine.durations import parse_duration
from parley.engine.runtime import EngineOptions
from parley.engine.state import JSONDict, Memory, json_copy, new_event_id, new_session
from parley.engine.turn import TurnResult, Understand, run_proactive, run_timeout, run_turn
from parley.eventlog import EventLog
from parley.outbox import SOURCE_EVENT, SOURCE_SCHEDULED, SOURCE_TIMEOUT, new_entry
from parley.settings import Settings
from parley.store.base import ConversationKey, Loaded, Saved, Store
from parley.store.locks import LocalLocks, Locks

log = logging.getLogger("parley.conversations")

DEFAULT_CONTEXT_TIMEOUT = "25m"
DEFAULT_SESSION_TIMEOUT = "30m"
DEFAULT_LOG_RETENTION = "1 week"
PRUNE_INTERVAL = 3600.0
ANSWER_RETENTION = 86400.0  # a retry of a message is answered from storage for a day
TIMER_HORIZON = 3600.0  # scheduled messages due sooner get a timer in this process; later ones, the janitor
TIMER_SLACK = 0.05  # a timer may fire a little before the wall clock reaches the due time

# Called with the outbox entries (with their ids) a turn committed, right after the commit; it must
# not block (it notifies streams and queues webhook deliveries).
OutboxListener = Callable[[Bot, ConversationKey, list[JSONDict]], None]


class TurnAbandoned(Exception):
    """The turn failed outside the dialog engine's error handling (e.g. a QnA redirect to a flow
    that does not exist). Botpress's queue retries the event, drops it and the request times out;
    parley saves nothing and says so at once."""


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


@dataclass
class _Outgoing:
    """What a turn writes besides its memory: event log entries, outbox entries, scheduled messages."""

    events: list[JSONDict] = field(default_factory=list)
    outbox: list[JSONDict] = field(default_factory=list)
    schedule: list[JSONDict] = field(default_factory=list)

    def proactive(self, source: str, event_id: str, payloads: list[JSONDict]) -> None:
        """Payloads sent outside a request: logged, and kept in the outbox (when there are any)."""
        self.events.append({"eventId": event_id, "direction": "proactive", "payload": payloads})
        if payloads:
            self.outbox.append(new_entry(source, event_id, payloads, wall_clock()))

    def later(self, result: TurnResult) -> None:
        now = wall_clock()
        self.schedule += [{"due": now + delay, "payloads": payloads} for delay, payloads in result.later]


class Conversations:
    def __init__(
        self,
        settings: Settings,
        registry: BotRegistry,
        store: Store,
        locks: Locks | None = None,
        understand: Understand | None = None,
        rng: random.Random | None = None,
        on_outbox: OutboxListener | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.locks: Locks = locks or LocalLocks()
        self.understand = understand
        self.rng = rng or random.Random()
        self.stats = TurnStats()
        self.on_outbox = on_outbox
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.event_log = EventLog.from_config(store, settings.global_value("eventCollector"))

    # ------------------------------------------------------------------------------- configuration

    def config(self, bot: Bot, *path: str) -> Any:
        """A bot value, else the global one. Like Botpress, a falsy bot value falls back."""
        return bot.config.get(*path) or self.settings.global_value(*path)

    def seconds(self, bot: Bot, *path: str, default: str) -> float:
        return bot.derived(("seconds", path, default), self._seconds, bot, path, default)

    def _seconds(self, bot: Bot, path: tuple[str, ...], default: str) -> float:
        value = parse_duration(self.config(bot, *path))
        return value if value is not None and value > 0 else float(parse_duration(default) or 0)

    def options(self, bot: Bot) -> EngineOptions:
        return bot.derived("options", self._options, bot)

    def _options(self, bot: Bot) -> EngineOptions:
        return EngineOptions(
            action_timeout=self.settings.action_timeout,
            external_url=self.settings.external_url,
            no_repeat_policy=bool(self.settings.global_value("noRepeatPolicy")),
            min_confidence=self.settings.decision_min_confidence,
            no_repeat_seconds=self.settings.decision_no_repeat_seconds,
            nlu_module=self.settings.nlu_enabled,
        )

    def max_message_length(self, bot: Bot) -> int:
        return bot.derived("max-message-length", self._max_message_length, bot)

    def _max_message_length(self, bot: Bot) -> int:
        value = self.config(bot, "converse", "maxMessageLength")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 360

    # ------------------------------------------------------------------------------------- turns

    def _expiries(self, bot: Bot, now: float) -> tuple[float, float]:
        context = self.seconds(bot, "dialog", "timeoutInterval", default=DEFAULT_CONTEXT_TIMEOUT)
        session = self.seconds(bot, "dialog", "sessionTimeoutInterval", default=DEFAULT_SESSION_TIMEOUT)
        return now + context, now + session

    @staticmethod
    def _unexpired(loaded: Loaded, now: float) -> bool:
        """Whether the conversation has expiries and neither has passed (no timeout ran, no reset)."""
        return (loaded.context_expiry is not None and loaded.context_expiry >= now
                and loaded.session_expiry is not None and loaded.session_expiry >= now)

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
        max_queued: int | None = None,
    ) -> TurnResult:
        """Run one turn. With a `message_id`, a retry of a message already answered gets the stored
        answer again instead of running the turn twice (also across workers: the check is made under
        the conversation's lock, and the answer is saved in the turn's transaction). With `max_queued`,
        QueueFull when that many turns of the conversation already run or wait."""
        key = ConversationKey(bot.id, channel, user_id)
        options = self.options(bot)
        asked = time.perf_counter()
        async with self.locks.hold(key.session_id, max_queued):
            started = time.perf_counter()
            try:
                return await self._turn(bot, key, payload, options, included_contexts, credentials, message_id)
            finally:
                self.stats.record(started - asked, time.perf_counter() - started)

    async def _turn(self, bot: Bot, key: ConversationKey, payload: JSONDict, options: EngineOptions,
                    included_contexts: list[str] | None, credentials: Any, message_id: str | None) -> TurnResult:
        user_id = key.user_id
        now = wall_clock()
        if message_id is not None:
            stored = await self.store.find_answer(key, message_id)
            if stored is not None:
                return TurnResult.from_answer(stored)
        loaded = await self.store.load(key)
        user_before = json_copy(loaded.memory.user)
        out = _Outgoing()
        memory = await self._lazy_timeout(bot, key, loaded, now, options, out)
        try:
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
        except Exception as exc:
            log.exception("%s: the turn failed and was abandoned", key.session_id)
            raise TurnAbandoned(str(exc)) from exc
        context_expiry: float | None
        session_expiry: float | None
        if result.persisted or not self._unexpired(loaded, now):
            context_expiry, session_expiry = self._expiries(bot, wall_clock())
        else:  # Botpress saved nothing for this message: the conversation keeps its expiries
            context_expiry, session_expiry = loaded.context_expiry, loaded.session_expiry
        out.events += [
            {"eventId": result.event_id, "direction": "incoming", "payload": payload},
            {"eventId": result.event_id, "direction": "outgoing", "payload": result.responses},
        ]
        out.later(result)
        answer = result.answer() if message_id is not None else None
        await self._save(bot, key, Saved(result.memory, context_expiry, session_expiry, out.events, user_before,
                                         message_id, answer, out.outbox, out.schedule, user_found=loaded.user_found,
                                         stored_dues=loaded.stored_dues))
        result.memory.bot_kv_writes = {}
        return result

    async def _lazy_timeout(self, bot: Bot, key: ConversationKey, loaded: Loaded, now: float,
                            options: EngineOptions, out: _Outgoing) -> Memory:
        """The memory a turn starts from. When the context expired and the janitor has not fired its
        timeout yet, the handler runs now, before the turn; what it says goes to the outbox (it is
        not part of the answer to the message that follows)."""
        memory = self._fresh(loaded, now)
        if memory.context and loaded.context_expiry is not None and loaded.context_expiry < now:
            timed_out = await run_timeout(bot, memory, user_id=key.user_id, options=options, rng=self.rng)
            out.proactive(SOURCE_TIMEOUT, timed_out.event_id, timed_out.responses)
            out.later(timed_out)
            self._log_proactive(key, timed_out)
            return timed_out.memory
        return memory

    async def _save(self, bot: Bot, key: ConversationKey, saved: Saved) -> list[JSONDict]:
        """Write a turn (one transaction), then announce its outbox entries and arm the timers of
        the messages it scheduled. Returns the outbox entries with their ids."""
        events = saved.events
        batched = bool(events) and not self.event_log.in_turn  # the log goes in batches (parley.eventlog)
        if batched:
            saved.events = []
        ids = await self.store.save(key, saved)
        if batched:
            self.event_log.add(key, events)
        entries = [{**entry, "id": i} for entry, i in zip(saved.outbox, ids, strict=True)]
        if entries and self.on_outbox is not None:
            try:
                self.on_outbox(bot, key, entries)
            except Exception:  # delivery problems never undo or fail a committed turn
                log.exception("%s: announcing outbox entries failed", key.session_id)
        for due in sorted({float(s["due"]) for s in saved.schedule}):
            self._arm(bot.id, key, due)
        return entries

    @staticmethod
    def _log_proactive(key: ConversationKey, result: TurnResult) -> None:
        if result.responses:
            log.info("%s: timeout handler produced %d message(s) outside a request", key.session_id,
                     len(result.responses))

    # ------------------------------------------------------------------------ proactive messages

    async def send_event(
        self,
        bot: Bot,
        user_id: str,
        *,
        payloads: list[JSONDict] | None = None,
        flow: str | None = None,
        node: str | None = None,
        payload: JSONDict | None = None,
        idempotency_key: str | None = None,
    ) -> JSONDict:
        """A turn the bot starts (parley's `POST …/events`), under the conversation's lock like any
        turn: deliver `payloads` as they are, or jump to `flow`/`node` and run the dialog there with
        `payload` as `event.payload`. What the bot says goes to the outbox; the entry is returned
        (with `"id": None` when it said nothing). With an `idempotency_key`, a retry of an event
        already sent gets the same entry back instead of sending it twice (the key is kept with the
        event's outbox entry, in its transaction)."""
        key = ConversationKey(bot.id, "api", user_id)
        options = self.options(bot)
        asked = time.perf_counter()
        answer_key = f"event:{idempotency_key}" if idempotency_key else None
        async with self.locks.hold(key.session_id):
            started = time.perf_counter()
            try:
                if answer_key is not None:
                    stored = await self.store.find_answer(key, answer_key)
                    if stored is not None:
                        event_id = str(stored.get("eventId", ""))
                        outbox_id = await self.store.outbox_id_of(key, event_id) if stored.get("responses") else None
                        return {**stored, "id": outbox_id}
                now = wall_clock()
                loaded = await self.store.load(key)
                user_before = json_copy(loaded.memory.user)
                out = _Outgoing()
                if flow is None:
                    # Payloads only: the conversation's memory and expiries are left as they are.
                    memory = loaded.memory
                    event_id = new_event_id()
                    responses = list(payloads or [])
                    context_expiry, session_expiry = loaded.context_expiry, loaded.session_expiry
                else:
                    memory = await self._lazy_timeout(bot, key, loaded, now, options, out)
                    result = await run_proactive(bot, memory, dict(payload or {}), user_id=user_id, flow=flow,
                                                 node=node, options=options, rng=self.rng)
                    memory, event_id, responses = result.memory, result.event_id, result.responses
                    out.later(result)
                    context_expiry, session_expiry = self._expiries(bot, wall_clock())
                out.proactive(SOURCE_EVENT, event_id, responses)  # the last outbox entry, if any
                answer = out.outbox[-1] if responses else new_entry(SOURCE_EVENT, event_id, [], wall_clock())
                entries = await self._save(bot, key, Saved(memory, context_expiry, session_expiry, out.events,
                                                           user_before, user_found=loaded.user_found,
                                                           stored_dues=loaded.stored_dues,
                                                           outbox=out.outbox, schedule=out.schedule,
                                                           message_id=answer_key,
                                                           answer=answer if answer_key is not None else None))
                memory.bot_kv_writes = {}
                if not responses:
                    return {"id": None, **answer}
                return entries[-1]
            finally:
                self.stats.record(started - asked, time.perf_counter() - started)

    async def deliver_due(self, bot: Bot, key: ConversationKey, now: float | None = None) -> int:
        """Deliver the conversation's scheduled messages that are due, under its lock: each becomes
        an outbox entry and leaves the schedule in the same transaction, so it is delivered once
        even when several workers (timers, janitors) try at the same time. Returns how many."""
        async with self.locks.hold(key.session_id):
            due = await self.store.due_messages(key, wall_clock() if now is None else now)
            if not due:
                return 0
            loaded = await self.store.load(key)
            out = _Outgoing()
            for _, payloads in due:
                out.proactive(SOURCE_SCHEDULED, new_event_id(), payloads)
            await self._save(bot, key, Saved(loaded.memory, loaded.context_expiry, loaded.session_expiry,
                                             out.events, json_copy(loaded.memory.user),
                                             user_found=loaded.user_found, stored_dues=loaded.stored_dues,
                                             outbox=out.outbox, unschedule=[i for i, _ in due]))
            return len(due)

    async def deliver_scheduled(self, now: float | None = None) -> int:
        """The janitor's pass over scheduled messages: every due one, of every served bot (those
        whose timer was lost with a restart, or too far ahead to get one). Returns how many."""
        now = wall_clock() if now is None else now
        keys = await self.store.due_conversations(now, bot_ids=self._served())
        return await self._each_served(keys, lambda bot, key: self.deliver_due(bot, key, now),
                                       "delivering scheduled messages failed")

    def _served(self) -> list[str]:
        """The bots being served: conversations of a removed or broken bot must not crowd out the rest."""
        return [b.id for b in self.registry.bots.values() if isinstance(b, Bot)]

    async def _each_served(self, keys: list[ConversationKey],
                           run: Callable[[Bot, ConversationKey], Awaitable[int]], failure: str) -> int:
        """A janitor pass: `run` each conversation whose bot is still served; one failing does not
        keep the others from their turn. Returns the sum of what `run` returned."""
        done = 0
        for key in keys:
            bot = self.registry.get(key.bot_id)
            if not isinstance(bot, Bot):
                continue
            try:
                done += await run(bot, key)
            except Exception:
                log.exception("%s: %s", key.session_id, failure)
        return done

    def _arm(self, bot_id: str, key: ConversationKey, due: float) -> None:
        """A timer in this process for a scheduled message due soon (the janitor is the fallback)."""
        delay = due - wall_clock()
        if delay > TIMER_HORIZON:
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self._spawn(self._on_timer(bot_id, key))

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    async def _on_timer(self, bot_id: str, key: ConversationKey) -> None:
        bot = self.registry.get(bot_id)
        if not isinstance(bot, Bot):
            return
        try:
            await self.deliver_due(bot, key, wall_clock() + TIMER_SLACK)
        except Exception:  # the janitor will try again
            log.exception("%s: delivering scheduled messages failed", key.session_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop this process's timers (their messages stay scheduled in the store for any janitor)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.event_log.close()

    # ----------------------------------------------------------------------------------- janitor

    async def fire_timeouts(self, now: float | None = None) -> int:
        """Run the timeout handler of every conversation whose context expired. Returns how many.

        One conversation failing (a handler or its memory that cannot be saved) is logged and
        does not keep the others from timing out."""
        now = wall_clock() if now is None else now
        await self.store.delete_expired_sessions(now)
        keys = await self.store.expired_contexts(now, bot_ids=self._served())
        return await self._each_served(keys, lambda bot, key: self._fire_timeout(bot, key, now),
                                       "the timeout handler failed")

    async def _fire_timeout(self, bot: Bot, key: ConversationKey, now: float) -> int:
        async with self.locks.hold(key.session_id):
            loaded = await self.store.load(key)
            user_before = json_copy(loaded.memory.user)
            if not loaded.memory.context or loaded.context_expiry is None or loaded.context_expiry >= now:
                return 0  # a message arrived meanwhile
            result = await run_timeout(bot, loaded.memory, user_id=key.user_id, options=self.options(bot),
                                       rng=self.rng)
            context_expiry, session_expiry = self._expiries(bot, wall_clock())
            out = _Outgoing()
            out.proactive(SOURCE_TIMEOUT, result.event_id, result.responses)
            out.later(result)
            await self._save(bot, key, Saved(result.memory, context_expiry, session_expiry, out.events, user_before,
                                             outbox=out.outbox, schedule=out.schedule, user_found=loaded.user_found,
                                             stored_dues=loaded.stored_dues))
            self._log_proactive(key, result)
            return 1

    async def prune(self, now: float | None = None) -> int:
        """Apply the retention of the event log (`logs.expiration`, bot then global, default 1 week)
        and of stored retry answers (one day)."""
        now = wall_clock() if now is None else now
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
                await self.deliver_scheduled()
                if time.monotonic() - last_prune > PRUNE_INTERVAL:
                    last_prune = time.monotonic()
                    await self.prune()
            except Exception:
                log.exception("janitor run failed")
