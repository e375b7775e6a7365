"""Actions: Botpress's builtin and basic-skills actions, natively, and a bot's own Python actions.

`run_action` (in `runner`, a module of its own so that it can be compiled: a package's `__init__` is not)
is the single entry point the dialog engine uses. Any failure of an action (unknown name, an exception,
a timeout) becomes `ActionFailed`, which sends the conversation to the error flow.
"""

from __future__ import annotations

from parley.engine.actions.base import ActionFailed
from parley.engine.actions.runner import NATIVE_ACTIONS, run_action

__all__ = ["ActionFailed", "NATIVE_ACTIONS", "run_action"]
