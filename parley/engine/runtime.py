"""What one turn carries through the engine: the bot, the event (with its state), the memory being
changed, and what the bot says. Built by `turn.run_turn`, read and changed by the dialog engine and
actions, and turned into the HTTP answer by the caller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from parley.bots.models import Bot
from parley.engine.state import JSONDict, Memory, iso_now

FORCE_PERSIST_STATE = "FORCE_PERSIST_STATE"
SKIP_DIALOG_ENGINE = "SKIP_DIALOG_ENGINE"


@dataclass(frozen=True)
class EngineOptions:
    """Per-bot knobs resolved from bot.config.json and botpress.config.json."""

    action_timeout: float = 60.0  # PARLEY_ACTION_TIMEOUT: see Settings.action_timeout
    external_url: str = ""
    min_confidence: float = 0.5
    no_repeat_policy: bool = False
    no_repeat_seconds: float = 20.0
    # Botpress's NLU module is loaded (PARLEY_NLU on). Without it, its HTTP routes do not exist.
    nlu_module: bool = True


@dataclass
class Turn:
    bot: Bot
    event: JSONDict
    memory: Memory
    options: EngineOptions = field(default_factory=EngineOptions)
    rng: random.Random = field(default_factory=random.Random)
    outgoing: list[JSONDict] = field(default_factory=list)
    errors: list[JSONDict] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    # Messages an action asked to send later: (delay in seconds, payloads). The conversation layer
    # stores them with the turn and delivers them through the outbox when they are due.
    later: list[tuple[float, list[JSONDict]]] = field(default_factory=list)

    # `event.state`, which a turn mutates but never replaces: read dozens of times per turn
    state: JSONDict = field(init=False, repr=False)

    _now: datetime | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.state = self.event["state"]
        self._now = None  # (compiled, a field out of `__init__` gets no default)

    @property
    def now(self) -> datetime:
        """The moment the turn first asks what time it is (most turns never do), then the same one."""
        if self._now is None:
            self._now = datetime.now(UTC)
        return self._now

    @property
    def user_lang(self) -> str | None:
        lang = self.state["user"].get("language")
        return lang if isinstance(lang, str) and lang else None

    def scope(self) -> JSONDict:
        """Variables visible to conditions, templates and actions."""
        st = self.state
        return {
            "event": self.event,
            "user": st["user"],
            "session": st["session"],
            "temp": st["temp"],
            "bot": st.get("bot") or {},
            "workflow": {},
        }

    def add_error(self, kind: str, message: str) -> None:
        self.errors.append({"type": kind, "message": message})

    def say(self, payloads: list[JSONDict]) -> None:
        self.outgoing.extend(payloads)

    def note_reply(self, source: str, preview: Any, confidence: float | int = 1) -> None:
        """Botpress's `session.lastMessages` bookkeeping, capped when the state is saved. A preview that is
        undefined there (an event without text, a QnA that only redirects) is a key left out. The
        confidence keeps its type (compiled, a `float` parameter turns 1 into 1.0, which JSON shows)."""
        entry = {
            "eventId": self.event["id"],
            "incomingPreview": self.event.get("preview"),
            "replyConfidence": confidence,
            "replySource": source,
            "replyDate": iso_now(),
            "replyPreview": preview,
        }
        if entry["incomingPreview"] is None or preview is None:
            entry = {k: v for k, v in entry.items() if v is not None}
        self.state["session"].setdefault("lastMessages", []).append(entry)
