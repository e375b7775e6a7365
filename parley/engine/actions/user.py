"""A bot's own Python actions (`<bot>/actions/<name>.py`).

An action module defines `async def run(...)`. parley passes, by keyword, whichever of these the
function declares: `event`, `user`, `session`, `temp`, `bot`, `args`, `reply` (an async function
that sends payloads, like Botpress's `bp.events.replyToEvent`) and `send_later` (an async function
that schedules payloads to be sent after a delay, outside any request, through the conversation's
outbox). It changes `user`, `session` and `temp` in place, exactly as a Botpress action mutates
them. It runs at most `PARLEY_ACTION_TIMEOUT`; raising or running late sends the conversation to the
error flow.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from parley.engine.actions.base import ActionFailed
from parley.engine.content import fixed_urls
from parley.engine.durations import parse_duration
from parley.engine.runtime import Turn

log = logging.getLogger("parley.actions")

PARAMETERS = ("event", "user", "session", "temp", "bot", "args", "reply", "send_later")
MAX_DELAY = 366 * 86400.0  # a year: anything later is a mistake, not a reminder
MAX_LATER_PER_TURN = 20


def _payloads(payloads: tuple[Any, ...], what: str) -> list[dict[str, Any]]:
    items: list[Any] = []
    for p in payloads:
        items.extend(p if isinstance(p, list) else [p])
    out = []
    for p in items:
        if not isinstance(p, dict):
            raise TypeError(f"{what}() takes payload dicts such as {{'type': 'text', 'text': 'Hi'}}")
        out.append({"type": "text", **p} if "type" not in p else dict(p))
    return out


def delay_seconds(delay: Any) -> float:
    """`send_later`'s delay: a number of seconds, or a duration string such as "15m" or "2h"."""
    if isinstance(delay, bool):
        raise TypeError("send_later(): delay must be a number of seconds or a duration such as '15m'")
    seconds = float(delay) if isinstance(delay, int | float) else parse_duration(delay)
    if seconds is None or not 0 <= seconds <= MAX_DELAY:  # also refuses NaN
        raise ValueError(f"send_later(): delay must be between 0 and {MAX_DELAY:g} seconds, got {delay!r}")
    return seconds


def _accepted(fn: Any) -> tuple[set[str], bool]:
    sig = inspect.signature(fn)
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return set(sig.parameters), var_kw


async def run_user_action(turn: Turn, name: str, fn: Any, args: dict[str, Any]) -> None:
    async def reply(*payloads: Any) -> None:
        turn.say(fixed_urls(_payloads(payloads, "reply"), turn.bot.id, turn.options.external_url))

    async def send_later(payloads: Any, delay: Any = 0) -> None:
        """Send `payloads` (a dict or a list of dicts) in `delay` seconds (or "15m"), as a proactive
        message: kept in the store with the turn, then delivered through the conversation's outbox
        (stream, poll, webhook)."""
        items = _payloads((payloads,), "send_later")
        seconds = delay_seconds(delay)
        if not items:
            return
        if len(turn.later) >= MAX_LATER_PER_TURN:
            raise ValueError(f"send_later(): at most {MAX_LATER_PER_TURN} scheduled messages per turn")
        turn.later.append((seconds, items))

    available = {
        "event": turn.event,
        "user": turn.state["user"],
        "session": turn.state["session"],
        "temp": turn.state["temp"],
        "bot": turn.state.get("bot") or {},
        "args": args,
        "reply": reply,
        "send_later": send_later,
    }
    names, var_kw = _accepted(fn)
    kwargs = {k: v for k, v in available.items() if var_kw or k in names}
    try:
        await asyncio.wait_for(fn(**kwargs), timeout=turn.options.action_timeout)
    except TimeoutError as late:
        raise ActionFailed(f'Action "{name}" timed out after {turn.options.action_timeout:g}s') from late
    except Exception as exc:  # any bug in an author's action
        log.warning("action %s raised %s: %s", name, type(exc).__name__, exc)
        raise ActionFailed(f'Action "{name}" failed: {type(exc).__name__}: {exc}') from exc
