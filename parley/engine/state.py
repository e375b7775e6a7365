"""The shapes Botpress gives an event and its state, as plain JSON data.

Events and state stay dicts on purpose: bot-authored conditions and templates address them with
JavaScript paths (`event.nlu.intent.name`, `temp['skill-choice-ret']`), and the secured route returns
them verbatim. Keeping one representation avoids converting on every turn.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from parley.engine.dates import EventDate

JSONDict = dict[str, Any]


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (what memory holds), through orjson: five times faster than
    `copy.deepcopy`. As when memory is stored, NaN and infinities become null; anything else JSON
    cannot hold (a Python action's own objects) is deep-copied."""
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return copy.deepcopy(value)

SESSION_KEEP_KEYS = ("lastMessages", "nluContexts", "workflows")
LAST_MESSAGES_CAP = 5


def new_session() -> JSONDict:
    return {"lastMessages": [], "workflows": {}}


def default_nlu(included_contexts: list[str] | None = None) -> JSONDict:
    """Botpress's NLU defaults: what every event carries when no NLU ran."""
    return {
        "entities": [],
        "language": "n/a",
        "ambiguous": False,
        "slots": {},
        "intent": {"name": "none", "confidence": 1, "context": "global"},
        "intents": [],
        "errored": False,
        "includedContexts": ["global"] if included_contexts is None else list(included_contexts),
        "ms": 0,
    }


def default_decision() -> JSONDict:
    return {
        "decision": {"reason": "no suggestion matched", "status": "elected"},
        "confidence": 1,
        "payloads": [],
        "source": "decisionEngine",
        "sourceDetails": "execute default flow",
    }


_last_id = 0


def new_event_id() -> str:
    """Digits like Botpress's ids (a clock plus random digits), strictly increasing in one process."""
    global _last_id
    candidate = time.time_ns() // 1000 * 1000 + int(random.random() * 1000)  # randint costs 10×
    _last_id = max(candidate, _last_id + 1)
    return str(_last_id)


_second: list[Any] = [-1, ""]
_milli: list[Any] = [-1, ""]


def iso_now(now: datetime | None = None) -> str:
    """`2026-11-25T17:56:54.393Z`, as JavaScript's toISOString. Stamped on every reply, so the
    formatting of the current second is kept and only the milliseconds are added."""
    if now is not None:
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    ms = int(time.time() * 1000)
    if ms == _milli[0]:  # a turn's replies mostly fall in one millisecond
        return str(_milli[1])
    sec = ms // 1000
    if sec != _second[0]:
        _second[0], _second[1] = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    text = f"{_second[1]}.{ms % 1000:03d}Z"
    _milli[0], _milli[1] = ms, text
    return text


@dataclass
class Memory:
    """Everything a turn reads from and writes to the store for one (bot, channel, user)."""

    user: JSONDict = field(default_factory=dict)
    context: JSONDict = field(default_factory=dict)
    session: JSONDict = field(default_factory=new_session)
    temp: JSONDict = field(default_factory=dict)
    # The bot-wide key/value store; key "global" is what flows see as `bot`.
    bot_kv: JSONDict = field(default_factory=dict)
    # Per bot+user key/value memory (e.g. the conversation counter); it outlives sessions.
    kv: JSONDict = field(default_factory=dict)
    # Changes to the bot-wide key/value store made during the turn: key -> value (None deletes).
    bot_kv_writes: JSONDict = field(default_factory=dict)

    def copy(self) -> Memory:
        return copy.deepcopy(self)


def make_state(memory: Memory) -> JSONDict:
    state: JSONDict = {
        "__stacktrace": [],
        "user": memory.user,
        "context": memory.context,
        "session": memory.session,
        "temp": memory.temp,
    }
    bot = memory.bot_kv.get("global")
    if isinstance(bot, dict) and bot:
        state["bot"] = bot
    return state


def make_event(
    *,
    bot_id: str,
    user_id: str,
    payload: JSONDict,
    state: JSONDict,
    channel: str = "api",
    event_type: str | None = None,
    included_contexts: list[str] | None = None,
    credentials: Any = None,
) -> JSONDict:
    etype = event_type or str(payload.get("type") or "text")
    preview = payload.get("__preview") or payload.get("preview") or payload.get("text")
    event: JSONDict = {
        "id": new_event_id(),
        "type": etype,
        "channel": channel,
        "direction": "incoming",
        "payload": payload,
        "target": user_id,
        "botId": bot_id,
        "createdOn": EventDate(iso_now()),
        "preview": preview if isinstance(preview, str) else None,
        "flags": {},
        "nlu": default_nlu(included_contexts),
        "state": state,
        "suggestions": [],
    }
    if credentials is not None:
        event["credentials"] = credentials
    return event


def public_state(state: JSONDict) -> JSONDict:
    """The state as the secured route shows it: skill frames are internal and filtered out."""
    out: JSONDict = {
        "__stacktrace": [f for f in state["__stacktrace"] if not str(f.get("flow", "")).startswith("skills/")],
        "user": state["user"],
        "context": state["context"],
        "session": state["session"],
        "temp": state["temp"],
    }
    if state.get("bot"):
        out["bot"] = state["bot"]
    return out
