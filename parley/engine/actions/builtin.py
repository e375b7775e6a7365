"""Botpress's `builtin/*` actions (SPEC §3.19), implemented natively."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

from parley.engine.actions.base import ActionFailed, NativeAction
from parley.engine.durations import parse_duration
from parley.engine.expressions import UNDEFINED, js_parse_int, js_to_number, js_to_string, js_truthy
from parley.engine.runtime import FORCE_PERSIST_STATE, Turn
from parley.engine.state import SESSION_KEEP_KEYS

SCOPES = ("user", "session", "temp")
_SCOPES_OR_BOT = (*SCOPES, "bot")
CONVERSATION_COUNTER = "numberOfConversations"
DEFAULT_CONTEXT_TTL = 1000


def _scope_name(args: dict[str, Any]) -> str:
    scope = str(args.get("type") or "")
    if scope not in _SCOPES_OR_BOT:
        raise ActionFailed(f"Unknown variable type {scope!r} (expected user, session, temp or bot)")
    return scope


def _set_bot_global(turn: Turn, name: str, value: Any) -> None:
    current = dict(turn.memory.bot_kv.get("global") or {})
    current[name] = value
    turn.memory.bot_kv["global"] = current
    turn.memory.bot_kv_writes["global"] = current
    # `state.bot` keeps what the turn started with: Botpress reads it once, when the state is restored


async def set_variable(turn: Turn, args: dict[str, Any]) -> None:
    # `event.state[type][name]`: the name is a JavaScript property key, so a missing name is "undefined"
    scope, name = _scope_name(args), js_to_string(args.get("name", UNDEFINED))
    value = args.get("value")
    if scope == "bot":
        _set_bot_global(turn, name, value)
    elif "value" not in args or value in ("null", ""):
        # Botpress erases on the string "null", "" or a missing value; a JSON null is stored as null.
        turn.state[scope].pop(name, None)
    else:
        turn.state[scope][name] = value


async def remove_variable(turn: Turn, args: dict[str, Any]) -> None:
    scope, name = _scope_name(args), str(args.get("name") or "")
    if scope == "bot":
        _set_bot_global(turn, name, "null")
    else:
        turn.state[scope].pop(name, None)


def _context_names(args: dict[str, Any], *, trim: bool) -> list[str]:
    """Botpress splits the text on commas and trims only its ends (appendContext) or nothing
    (removeContext): `"a, b"` names the contexts `a` and ` b`. A list is a parley convenience."""
    raw = args.get("contexts")
    if isinstance(raw, list):
        return [str(c).strip() for c in raw if str(c).strip()]
    if not isinstance(raw, str):
        raise ActionFailed("`contexts` must be a comma-separated string")
    return (raw.strip() if trim else raw).split(",")


def _ttl(value: Any) -> int | float:
    """JavaScript's `isNaN(Number(ttl)) ? 1000 : Number(ttl)`: "" and null count as 0, "2" as 2."""
    ttl = float(js_to_number(value))
    if not math.isfinite(ttl):
        return DEFAULT_CONTEXT_TTL
    return int(ttl) if ttl.is_integer() else ttl


async def append_context(turn: Turn, args: dict[str, Any]) -> None:
    ttl = _ttl(args["ttl"] if "ttl" in args else UNDEFINED)
    contexts: list[dict[str, Any]] = list(turn.state["session"].get("nluContexts") or [])
    for name in _context_names(args, trim=True):
        existing = next((c for c in contexts if c.get("context") == name), None)
        if existing is None:
            contexts.append({"context": name, "ttl": ttl})
        elif float(existing.get("ttl") or 0) < float(ttl):
            existing["ttl"] = ttl
    turn.state["session"]["nluContexts"] = contexts


async def remove_context(turn: Turn, args: dict[str, Any]) -> None:
    names = set(_context_names(args, trim=False))
    contexts = turn.state["session"].get("nluContexts") or []
    turn.state["session"]["nluContexts"] = [c for c in contexts if c.get("context") not in names]


async def reset_context(turn: Turn, args: dict[str, Any]) -> None:
    turn.state["session"]["nluContexts"] = []


def _output(args: dict[str, Any]) -> str:
    """`temp[output]`: a JavaScript property key, so a missing output is the key "undefined"."""
    return js_to_string(args.get("output", UNDEFINED))


async def increment_conversations(turn: Turn, args: dict[str, Any]) -> None:
    current = turn.memory.kv.get(CONVERSATION_COUNTER)
    value = 0 if not isinstance(current, int) else current + 1
    turn.memory.kv[CONVERSATION_COUNTER] = value
    turn.state["temp"][_output(args)] = value


async def get_conversations(turn: Turn, args: dict[str, Any]) -> None:
    value = turn.memory.kv.get(CONVERSATION_COUNTER)
    output = _output(args)
    if isinstance(value, int):
        turn.state["temp"][output] = value
    else:  # never counted: Botpress stores `undefined`
        turn.state["temp"].pop(output, None)


async def set_global_variable(turn: Turn, args: dict[str, Any]) -> None:
    name = str(args.get("name") or "")
    if not name:
        raise ActionFailed("setGlobalVariable needs a `name`")
    expiry = args.get("expiry")
    expires_at = None
    if expiry is not None and expiry != "never":
        # Botpress adds `ms(expiry)` milliseconds: "" makes `ms` throw; what it cannot read ("forever",
        # a number, which it turns into text) adds nothing, so the value has expired already
        if expiry == "":
            raise ActionFailed("setGlobalVariable: an empty expiry is not a duration")
        seconds = parse_duration(expiry) if isinstance(expiry, str) else None
        expires_at = (turn.now + timedelta(seconds=seconds or 0)).isoformat()
    entry = {"value": args.get("value"), "expiresAt": expires_at}
    turn.memory.bot_kv["var:" + name] = entry
    turn.memory.bot_kv_writes["var:" + name] = entry
    if js_truthy(args.get("output")):  # Botpress: `if (output) temp[output] = value`
        turn.state["temp"][_output(args)] = args.get("value")


async def get_global_variable(turn: Turn, args: dict[str, Any]) -> None:
    name = str(args.get("name") or "")
    entry = turn.memory.bot_kv.get("var:" + name)
    output = _output(args)
    if isinstance(entry, dict):
        expires = entry.get("expiresAt")
        if not expires or expires > turn.now.isoformat():
            turn.state["temp"][output] = entry.get("value")
            return
    turn.state["temp"].pop(output, None)  # undefined there: no key once saved


async def reset_global_variable(turn: Turn, args: dict[str, Any]) -> None:
    """Botpress removes every key that *starts with* the variable's (resetting "user" removes "username")."""
    prefix = "var:" + js_to_string(args.get("name", UNDEFINED))
    for key in [k for k in turn.memory.bot_kv if k.startswith(prefix)]:
        del turn.memory.bot_kv[key]
        turn.memory.bot_kv_writes[key] = None


async def reset_session(turn: Turn, args: dict[str, Any]) -> None:
    session = turn.state["session"]
    for key in [k for k in session if k not in SESSION_KEEP_KEYS]:
        del session[key]
    turn.state["temp"].clear()
    turn.flags.add(FORCE_PERSIST_STATE)


async def switch_language(turn: Turn, args: dict[str, Any]) -> None:
    lang = args.get("lang")
    if not isinstance(lang, str):  # Botpress calls `args.lang.toLowerCase()`: a TypeError otherwise
        raise ActionFailed("switchLanguage needs a `lang` string")
    turn.state["user"]["language"] = lang.lower()
    turn.flags.add(FORCE_PERSIST_STATE)


async def wait(turn: Turn, args: dict[str, Any]) -> None:
    try:  # Botpress: `args.delay || 1000`
        delay = float(args.get("delay") or 1000) / 1000
    except (TypeError, ValueError):
        delay = 1.0
    await asyncio.sleep(max(0.0, min(delay, turn.options.action_timeout)))


async def send_feedback(turn: Turn, args: dict[str, Any]) -> None:
    """Botpress's sendFeedback.js: `parseInt(value.trim())` must be 1 or -1, else it throws (the feedback
    itself goes to Botpress's admin UI, which parley has not)."""
    value = args.get("value")
    if not isinstance(value, str) or js_parse_int(value.strip()) not in (1, -1):
        raise ActionFailed(f"Unexpected value: {js_to_string(value if value is not None else UNDEFINED)}")


async def no_op(turn: Turn, args: dict[str, Any]) -> None:
    """Actions that only matter to Botpress's admin UI (feedback, file storage)."""


BUILTIN_ACTIONS: dict[str, NativeAction] = {
    "builtin/setVariable": set_variable,
    "builtin/removeVariable": remove_variable,
    "builtin/appendContext": append_context,
    "builtin/removeContext": remove_context,
    "builtin/resetContext": reset_context,
    "builtin/incrementNumberOfConversations": increment_conversations,
    "builtin/getNumberOfConversations": get_conversations,
    "builtin/setGlobalVariable": set_global_variable,
    "builtin/getGlobalVariable": get_global_variable,
    "builtin/resetGlobalVariable": reset_global_variable,
    "builtin/resetSession": reset_session,
    "builtin/switchLanguage": switch_language,
    "builtin/wait": wait,
    "builtin/sendFeedback": send_feedback,
    "builtin/storeFileLocally": no_op,
}
