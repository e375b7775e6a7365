"""One conversational turn as a function: (bot, memory, incoming payload) -> responses + new memory.

This is Botpress's incoming pipeline without its queues and hooks: restore state, apply NLU
contexts, understand, suggest, decide, run the dialog, and prepare the state to be saved. It does no
storage and no HTTP, so every dialog rule can be tested directly.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from parley.bots.models import Bot
from parley.engine.decision import elect, qna_suggestions, send_elected
from parley.engine.dialog import ERROR_FLOW, DialogEngine, FlowError
from parley.engine.expressions import js_truthy
from parley.engine.runtime import FORCE_PERSIST_STATE, EngineOptions, Turn
from parley.engine.state import (
    LAST_MESSAGES_CAP,
    JSONDict,
    Memory,
    default_decision,
    make_event,
    make_state,
    public_state,
)

log = logging.getLogger("parley.turn")

# Event types Botpress's builtin hook keeps from the dialog engine (SKIP_DIALOG_ENGINE).
DISCARDED_TYPES = frozenset({"session_reset", "typing", "visit", "session_reference"})

# (bot, event) -> NLU fields to merge into event["nlu"], or None when the NLU is off.
Understand = Callable[[Bot, JSONDict], JSONDict | None]


@dataclass
class TurnResult:
    responses: list[JSONDict]
    memory: Memory
    nlu: JSONDict
    suggestions: list[JSONDict]
    decision: JSONDict
    event_id: str
    errors: list[JSONDict] = field(default_factory=list)
    replayed: bool = False
    # Messages actions scheduled for later: (delay in seconds, payloads).
    later: list[tuple[float, list[JSONDict]]] = field(default_factory=list)
    # False when Botpress would save nothing for this turn (its error handler failed too, or the
    # dialog engine skipped the event): `memory` is then the memory the turn started from.
    persisted: bool = True
    # The turn's `event.state`, of which `state` is what the secured route shows: made only when asked
    # for (most answers do not show it), once the turn is over.
    turn_state: JSONDict = field(default_factory=dict, repr=False)
    shown_state: JSONDict | None = None

    @property
    def state(self) -> JSONDict:
        if self.shown_state is None:
            self.shown_state = public_state(self.turn_state) if self.turn_state else {}
        return self.shown_state

    def answer(self) -> JSONDict:
        """What a client saw of this turn, kept for retries of the same message."""
        return {"eventId": self.event_id, "responses": self.responses, "nlu": self.nlu,
                "suggestions": self.suggestions, "decision": self.decision, "state": self.state}

    @classmethod
    def from_answer(cls, answer: JSONDict) -> TurnResult:
        return cls(
            responses=list(answer.get("responses") or []),
            memory=Memory(),
            nlu=dict(answer.get("nlu") or {}),
            suggestions=list(answer.get("suggestions") or []),
            decision=dict(answer.get("decision") or {}),
            shown_state=dict(answer.get("state") or {}),
            event_id=str(answer.get("eventId", "")),
            replayed=True,
        )


# Botpress's event defaults, whose key order `_.merge` keeps (two of them undefined until the NLU runs)
_NLU_ORDER = ("entities", "language", "detectedLanguage", "spellChecked", "ambiguous", "slots", "intent", "intents",
              "errored", "includedContexts", "ms", "modelId")


_NLU_RESULT_KEYS = frozenset({*_NLU_ORDER, "predictions"}) - {"includedContexts"}


def merge_nlu(defaults: JSONDict, result: JSONDict) -> JSONDict:
    """`_.merge(event.nlu, result)` as Botpress does it, `includedContexts` kept: the defaults' keys
    first, in their order (the elected intent's too), then the result's others."""
    intent = result.get("intent")
    if result.keys() == _NLU_RESULT_KEYS and intent.__class__ is dict and len(intent) == 3:
        # what the NLU service answers (every turn that understood something): built in one go
        r = result
        return {"entities": r["entities"], "language": r["language"], "detectedLanguage": r["detectedLanguage"],
                "spellChecked": r["spellChecked"], "ambiguous": r["ambiguous"], "slots": r["slots"],
                "intent": {"name": intent["name"], "confidence": intent["confidence"], "context": intent["context"]},
                "intents": r["intents"], "errored": r["errored"], "includedContexts": defaults["includedContexts"],
                "ms": r["ms"], "modelId": r["modelId"], "predictions": r["predictions"]}
    merged = {**defaults, **{k: v for k, v in result.items() if k != "includedContexts"}}
    intent, default_intent = merged.get("intent"), defaults.get("intent")
    if isinstance(intent, dict) and isinstance(default_intent, dict):
        merged["intent"] = {**default_intent, **intent}
    ordered = {k: merged[k] for k in _NLU_ORDER if k in merged}
    ordered.update((k, v) for k, v in merged.items() if k not in ordered)
    return ordered


def _apply_nlu_contexts(turn: Turn) -> None:
    contexts = turn.state["session"].get("nluContexts") or []
    names = [c.get("context") for c in contexts if isinstance(c, dict) and c.get("context")]
    if names:
        turn.event["nlu"]["includedContexts"] = names


def _expire_nlu_contexts(turn: Turn) -> None:
    session = turn.state["session"]
    if turn.event["nlu"].get("errored") or "nluContexts" not in session:
        return
    kept = []
    for c in session.get("nluContexts") or []:
        ttl = c.get("ttl", 0)
        ttl = (ttl if isinstance(ttl, int | float) else 0) - 1
        if ttl > 0:
            kept.append({**c, "ttl": ttl})
    session["nluContexts"] = kept


def _extract_slots(turn: Turn) -> None:
    """Slot bookkeeping of the basic-skills hook: age slots, drop expired ones, copy NLU slots."""
    slots = turn.state["session"].setdefault("slots", {})
    for name in list(slots):
        slot = slots[name]
        if not isinstance(slot, dict):
            continue
        turns = slot.get("turns")
        if isinstance(turns, int | float) and not isinstance(turns, bool):
            slot["turns"] = turns + 1
        expires = slot.get("expiresAfterTurns")
        if (
            isinstance(expires, int | float)
            and not isinstance(expires, bool)
            and expires > -1
            and isinstance(slot.get("turns"), int | float)
            and slot["turns"] >= expires
        ):
            del slots[name]
    found: list[Any] = []
    for value in (turn.event["nlu"].get("slots") or {}).values():
        found.extend(value if isinstance(value, list) else [value])  # lodash's flatten
    for slot in found:
        if not isinstance(slot, dict) or not js_truthy(slot.get("value")):
            continue
        name = slot.get("name")
        if not isinstance(name, str):
            continue
        if isinstance(slots.get(name), dict) and slots[name].get("overwritable") is False:
            continue
        slots["notFound"] = 0
        slots[name] = {**slot, "timestamp": int(time.time() * 1000), "turns": 0, "overwritable": True,
                       "expiresAfterTurns": False}
        turn.flags.add(FORCE_PERSIST_STATE)


_Parts = tuple[JSONDict, JSONDict, JSONDict, JSONDict]


def _snapshot(memory: Memory) -> bytes | _Parts:
    """The memory a turn starts from, to keep when the turn saves nothing (rare): serialized only, as
    that costs a fraction of a copy; `_restore` rebuilds it in the rare turn that needs it."""
    parts = (memory.user, memory.context, memory.session, memory.temp)
    try:
        return orjson.dumps(parts)
    except TypeError:  # a Python action stored something JSON cannot hold
        return copy.deepcopy(parts)


def _restore(snapshot: bytes | _Parts) -> _Parts:
    if not isinstance(snapshot, bytes):
        return snapshot
    user, context, session, temp = orjson.loads(snapshot)
    return user, context, session, temp


def _finish(turn: Turn, decision: JSONDict, suggestions: list[JSONDict], kept: _Parts | None = None) -> TurnResult:
    """The turn's result. With `kept` (the memory as loaded), the turn's changes to the user,
    context, session and temp are not saved; the key/value stores, written at once by the actions
    that change them in Botpress, keep their changes."""
    session = turn.state["session"]
    if kept is None and len(session.get("lastMessages") or []) > LAST_MESSAGES_CAP:
        session["lastMessages"] = session["lastMessages"][-LAST_MESSAGES_CAP:]
    st = turn.state
    memory = turn.memory
    if kept is None:
        user = st["user"]
        if None in user.values():  # Botpress saves the user's attributes without null ones
            user = {k: v for k, v in user.items() if v is not None}
        memory.user, memory.context, memory.session, memory.temp = user, st["context"], st["session"], st["temp"]
    else:
        memory.user, memory.context, memory.session, memory.temp = kept
    return TurnResult(
        responses=turn.outgoing,
        memory=memory,
        nlu=turn.event["nlu"],
        suggestions=suggestions,
        decision=decision,
        turn_state=st,
        event_id=turn.event["id"],
        errors=turn.errors,
        later=turn.later,
        persisted=kept is None,
    )


async def _run_dialog(turn: Turn, engine: DialogEngine) -> bool:
    """Run the dialog engine, and the error flow when it fails. Returns False when the error flow
    failed too: Botpress then abandons the event and saves nothing (SPEC §3.6)."""
    try:
        await engine.process()
    except Exception as exc:  # Botpress: "An unexpected error occurred", then the error flow
        log.warning("bot %s: dialog error, running the error flow: %s", turn.bot.id, exc)
        turn.add_error("dialog-engine", str(exc))
        try:
            retry = DialogEngine(turn)
            await retry.jump_to(ERROR_FLOW, "entry")
            await retry.process()
        except Exception as again:
            log.error("bot %s: an error occurred in the error handler, abandoning: %s", turn.bot.id, again)
            turn.add_error("dialog-engine", f"error handler failed: {again}")
            return False
    return True


# timeouts fired since the user's last message (kept with the conversation, reset by a message)
TIMEOUTS_IN_A_ROW = "timeoutsInARow"
MAX_TIMEOUTS_IN_A_ROW = 5


async def run_turn(
    bot: Bot,
    memory: Memory,
    payload: JSONDict,
    *,
    user_id: str,
    included_contexts: list[str] | None = None,
    credentials: Any = None,
    options: EngineOptions | None = None,
    understand: Understand | None = None,
    rng: random.Random | None = None,
) -> TurnResult:
    if TIMEOUTS_IN_A_ROW in memory.kv:  # the user answered: the timeouts are no loop
        del memory.kv[TIMEOUTS_IN_A_ROW]
    state = make_state(memory)
    event = make_event(
        bot_id=bot.id,
        user_id=user_id,
        payload=payload,
        state=state,
        included_contexts=included_contexts,
        credentials=credentials,
    )
    turn = Turn(bot=bot, event=event, memory=memory, options=options or EngineOptions(), rng=rng or random.Random())
    loaded = _snapshot(memory)

    _apply_nlu_contexts(turn)
    if understand is not None and event.get("preview"):
        try:
            result = understand(bot, event)
            if result:
                event["nlu"] = merge_nlu(event["nlu"], result)
        except Exception as exc:  # the NLU failing must not stop the conversation
            log.warning("bot %s: NLU failed: %s", bot.id, exc)
            event["nlu"]["errored"] = True
    suggestions = qna_suggestions(turn)
    event["suggestions"] = suggestions
    _expire_nlu_contexts(turn)
    _extract_slots(turn)

    elected = elect(turn, suggestions)
    run_dialog = elected is None
    engine = DialogEngine(turn)
    decision: JSONDict = {}
    persisted = True
    if elected is not None:
        decision = elected
        redirect = send_elected(turn, elected)
        if redirect is not None:
            await engine.jump_to(*redirect)
            run_dialog = True
    if run_dialog and event["type"] not in DISCARDED_TYPES:
        if elected is None:
            decision = default_decision()
        persisted = await _run_dialog(turn, engine)
    elif elected is None:
        persisted = False  # the dialog engine skipped the event: Botpress saves nothing
    if FORCE_PERSIST_STATE in turn.flags:
        persisted = True
    event["decision"] = decision
    return _finish(turn, decision, suggestions, None if persisted else _restore(loaded))


async def run_timeout(
    bot: Bot,
    memory: Memory,
    *,
    user_id: str,
    options: EngineOptions | None = None,
    rng: random.Random | None = None,
) -> TurnResult:
    """The context of a conversation expired: run its timeout handler (SPEC §3.15)."""
    state = make_state(memory)
    event = make_event(bot_id=bot.id, user_id=user_id, payload={"type": "timeout"}, state=state,
                       event_type="timeout")
    event["direction"] = "internal"
    turn = Turn(bot=bot, event=event, memory=memory, options=options or EngineOptions(), rng=rng or random.Random())
    engine = DialogEngine(turn)
    in_a_row = memory.kv.get(TIMEOUTS_IN_A_ROW)
    in_a_row = in_a_row if isinstance(in_a_row, int) else 0
    if in_a_row >= MAX_TIMEOUTS_IN_A_ROW:
        # Botpress's janitor: the last 5 timeouts with no message after them are an infinite loop (a
        # timeout node that asks again and waits); the context is reset and nothing is sent
        log.warning("bot %s: %d timeouts in a row without an answer: infinite loop, context reset", bot.id, in_a_row)
        turn.add_error("dialog-engine", "Infinite loop detected in the timeout handler")
        state["context"], state["temp"] = {}, {}
        return _finish(turn, {}, [])
    memory.kv[TIMEOUTS_IN_A_ROW] = in_a_row + 1
    try:
        await engine.process_timeout()
    except Exception as exc:
        log.warning("bot %s: timeout handler failed: %s", bot.id, exc)
        turn.add_error("dialog-engine", str(exc))
        state["context"], state["temp"] = {}, {}
    return _finish(turn, {}, [])


async def run_proactive(
    bot: Bot,
    memory: Memory,
    payload: JSONDict,
    *,
    user_id: str,
    flow: str,
    node: str | None = None,
    options: EngineOptions | None = None,
    rng: random.Random | None = None,
) -> TurnResult:
    """A turn the bot starts: jump to `flow` (at `node`, else its start node) and run the dialog
    there, with no user message. The flow sees `event.type == "proactive"` and `event.payload`."""
    state = make_state(memory)
    event = make_event(bot_id=bot.id, user_id=user_id, payload=payload, state=state, event_type="proactive")
    turn = Turn(bot=bot, event=event, memory=memory, options=options or EngineOptions(), rng=rng or random.Random())
    engine = DialogEngine(turn)
    try:
        await engine.jump_to(flow, node)
    except FlowError as exc:  # the bot changed since the request was checked
        log.warning("bot %s: proactive event: %s", bot.id, exc)
        turn.add_error("dialog-engine", str(exc))
        return _finish(turn, {}, [])
    await _run_dialog(turn, engine)
    return _finish(turn, {}, [])
