"""A bot's own Python actions (`<bot>/actions/<name>.py`).

An action module defines `async def run(...)`. parley passes, by keyword, whichever of these the
function declares: `event`, `user`, `session`, `temp`, `bot`, `args`, and `reply` (an async function
that sends payloads, like Botpress's `bp.events.replyToEvent`). It changes `user`, `session` and
`temp` in place, exactly as a Botpress action mutates them. It runs at most `converse.timeout`;
raising or running late sends the conversation to the error flow.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from parley.engine.actions.base import ActionFailed
from parley.engine.runtime import Turn

log = logging.getLogger("parley.actions")

PARAMETERS = ("event", "user", "session", "temp", "bot", "args", "reply")


def _accepted(fn: Any) -> tuple[set[str], bool]:
    sig = inspect.signature(fn)
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return set(sig.parameters), var_kw


async def run_user_action(turn: Turn, name: str, fn: Any, args: dict[str, Any]) -> None:
    async def reply(*payloads: Any) -> None:
        items: list[Any] = []
        for p in payloads:
            items.extend(p if isinstance(p, list) else [p])
        for p in items:
            if not isinstance(p, dict):
                raise TypeError("reply() takes payload dicts such as {'type': 'text', 'text': 'Hi'}")
            turn.say([{"type": "text", **p} if "type" not in p else dict(p)])

    available = {
        "event": turn.event,
        "user": turn.state["user"],
        "session": turn.state["session"],
        "temp": turn.state["temp"],
        "bot": turn.state.get("bot") or {},
        "args": args,
        "reply": reply,
    }
    names, var_kw = _accepted(fn)
    kwargs = {k: v for k, v in available.items() if var_kw or k in names}
    try:
        await asyncio.wait_for(fn(**kwargs), timeout=turn.options.action_timeout)
    except TimeoutError as exc:
        raise ActionFailed(f'Action "{name}" timed out after {turn.options.action_timeout:g}s') from exc
    except Exception as exc:  # any bug in an author's action
        log.warning("action %s raised %s: %s", name, type(exc).__name__, exc)
        raise ActionFailed(f'Action "{name}" failed: {type(exc).__name__}: {exc}') from exc
