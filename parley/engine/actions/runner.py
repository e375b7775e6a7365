"""`run_action`: the single entry point the dialog engine uses to run an action, native or the bot's own.

Any failure of an action (unknown name, an exception, a timeout) becomes `ActionFailed`, which sends the
conversation to the error flow.
"""

from __future__ import annotations

from typing import Any

from parley.engine.actions.base import ActionFailed, NativeAction
from parley.engine.actions.builtin import BUILTIN_ACTIONS
from parley.engine.actions.skills import SKILL_ACTIONS
from parley.engine.actions.user import run_user_action
from parley.engine.runtime import Turn
from parley.engine.templating import render

NATIVE_ACTIONS: dict[str, NativeAction] = {**BUILTIN_ACTIONS, **SKILL_ACTIONS}


def render_args(turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
    """Top-level string arguments are templates (`{{event.payload.text}}`).

    They are rendered without HTML escaping: an action argument is data, not markup, so a value
    is escaped at most once, when a content element finally displays it.
    """
    if not any(isinstance(v, str) and "{{" in v for v in args.values()):
        return dict(args)  # nothing to render (most builtin and skill calls): no view to build
    view = turn.scope()  # Botpress's `actionArgs`: event, user, session, temp, bot (not the arguments)
    return {k: render(v, view, escape=False) if isinstance(v, str) else v for k, v in args.items()}


async def run_action(turn: Turn, name: str, args: dict[str, Any], *, where: str) -> None:
    rendered = render_args(turn, args)
    native = NATIVE_ACTIONS.get(name)
    if native is not None:
        try:
            await native(turn, rendered)
        except ActionFailed:
            raise
        except Exception as exc:  # a native action's bug must not take the server down
            raise ActionFailed(f"Action {name!r} failed: {type(exc).__name__}: {exc}") from exc
        return
    fn = turn.bot.actions.get(name)
    if fn is None:
        raise ActionFailed(f'Action "{name}" not found in {where}')
    await run_user_action(turn, name, fn, rendered)
