"""The store protocol: what the conversation layer needs from any backend (SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from parley.engine.state import JSONDict, Memory

# An event log row: (bot id, channel, user id, event id, direction, payload as JSON text, time). Made
# when the event log queues an event, so a second's worth of queued events is untracked tuples and
# strings rather than the turns' payload dicts kept alive (which the garbage collector promoted to its
# oldest generation, making full collections frequent and slow).
EventRow = tuple[str, str, str, str, str, str, float]


class ConversationKey(NamedTuple):
    """A tuple rather than a frozen dataclass: a turn makes a few and hashes them several times (the
    SQLite store keeps rows by them), and a tuple's constructor, hash and equality are C code."""

    bot_id: str
    channel: str
    user_id: str

    @property
    def session_id(self) -> str:
        """Botpress's session id, `<botId>::<channel>::<target>`."""
        return f"{self.bot_id}::{self.channel}::{self.user_id}"


@dataclass
class Loaded:
    memory: Memory
    context_expiry: float | None = None
    session_expiry: float | None = None
    user_found: bool = False  # the user's row exists (users are never deleted)
    # What the store keeps to find expired conversations (`Saved.stored_dues`); None: not kept.
    stored_dues: tuple[int | None, int | None] | None = None


@dataclass
class Saved:
    """What a turn writes, all in one transaction."""

    memory: Memory
    # None keeps no expiry (a delivery of payloads to a conversation that has none yet).
    context_expiry: float | None
    session_expiry: float | None
    events: list[JSONDict] = field(default_factory=list)
    # The user attributes as the turn loaded them. When given, only the attributes the turn changed
    # are written, so turns of other bots for the same user (other locks, other workers) keep theirs.
    user_before: JSONDict | None = None
    # A client's message id: the answer is kept so that a retry of the same message gets it again.
    message_id: str | None = None
    answer: JSONDict | None = None
    # Messages produced outside a request, for the conversation's outbox: `{"eventId", "source",
    # "responses", "createdAt"}`. `save` returns their outbox ids, in order.
    outbox: list[JSONDict] = field(default_factory=list)
    # Messages a Python action scheduled for later: `{"due": epoch seconds, "payloads": [...]}`.
    schedule: list[JSONDict] = field(default_factory=list)
    # Ids of scheduled messages delivered by this write (removed from the schedule).
    unschedule: list[int] = field(default_factory=list)
    # The user's row existed when the turn loaded (`Loaded.user_found`): if the turn changed none of
    # the attributes, the user needs no write at all.
    user_found: bool = False
    # `Loaded.stored_dues` of the load this write follows, under the same lock: a store that indexes
    # coarse expiry buckets rewrites them only when they change (SQLite: an index entry rewritten on
    # every turn cost more than the rest of the write).
    stored_dues: tuple[int | None, int | None] | None = None


def user_changes(before: JSONDict, after: JSONDict) -> tuple[JSONDict, list[str]]:
    """Top-level user attributes set (or changed) and removed by a turn."""
    changed = {k: v for k, v in after.items() if k not in before or before[k] != v}
    removed = [k for k in before if k not in after]
    return changed, removed


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def load(self, key: ConversationKey) -> Loaded: ...

    async def save(self, key: ConversationKey, saved: Saved) -> list[int]:
        """Write a turn in one transaction; return the outbox ids of `saved.outbox`."""
        ...

    async def expired_contexts(self, now: float, limit: int = 250,
                               bot_ids: list[str] | None = None) -> list[ConversationKey]: ...

    async def prune(self, bot_id: str, events_before: float, answers_before: float) -> int: ...

    async def delete_expired_sessions(self, now: float) -> int: ...

    async def events(self, key: ConversationKey, limit: int = 100) -> list[dict[str, Any]]: ...

    async def append_events(self, rows: list[EventRow]) -> None:
        """Write a batch of the event log ({eventId, direction, payload} per conversation and time)."""
        ...

    async def find_answer(self, key: ConversationKey, message_id: str) -> JSONDict | None: ...

    async def outbox_id_of(self, key: ConversationKey, event_id: str) -> int | None:
        """The outbox id of the conversation's entry for `event_id` (None when there is none)."""
        ...

    async def outbox(self, key: ConversationKey, after: int = 0, limit: int = 100) -> list[JSONDict]:
        """The conversation's outbox entries with an id above `after`, oldest first:
        `{"id", "eventId", "source", "createdAt", "responses"}`."""
        ...

    async def last_outbox_id(self, key: ConversationKey) -> int:
        """The id of the conversation's newest outbox entry (0 when it has none)."""
        ...

    async def due_conversations(self, now: float, limit: int = 250,
                                bot_ids: list[str] | None = None) -> list[ConversationKey]:
        """Conversations that have a scheduled message due at `now`."""
        ...

    async def due_messages(self, key: ConversationKey, now: float) -> list[tuple[int, list[JSONDict]]]:
        """The conversation's scheduled messages due at `now`: (id, payloads), in due order."""
        ...
