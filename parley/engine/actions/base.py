"""Types shared by the action modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from parley.engine.runtime import Turn

NativeAction = Callable[[Turn, dict[str, Any]], Awaitable[None]]


class ActionFailed(Exception):
    """An action raised, timed out or does not exist: Botpress then runs the error flow."""
