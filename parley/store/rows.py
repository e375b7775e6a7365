"""The rows this process last wrote for its conversations, so that a conversation's next turn need not
read them back from SQLite (`SQLiteStore.load`).

A turn's load reads one row of three tables: the conversation, the user's attributes (shared by the
user's conversations with every bot) and the bot's key/values (shared by all its users). After a save,
this process knows that row exactly: it has just written most of it and loaded the rest. The next load
of the same conversation can use it instead of running the query and fetching its twelve columns (a
turn cost ≈ 4 % less CPU through the socket, welcome-bot, 2026-12-06), as long as nothing else wrote
any of it since:
- another connection (another worker, `parley chat`, the store's own thread, which runs the janitor):
  SQLite's `PRAGMA data_version` changes, and every kept row is dropped;
- a turn of this process writing the user's attributes, or the bot's key/values: their generation
  goes up, and rows taken before no longer match.

A row is handed out once (`take`) and kept again only by the save that follows it (`saved`); a turn
that fails before its save leaves nothing behind, and its next load reads the database. The check of
`data_version` is itself a read transaction: what is saved is the query, not SQLite's locking.
"""

from __future__ import annotations

from typing import Any

from parley.store.base import ConversationKey

Row = tuple[Any, ...]  # the columns of `sql._LOAD`
Stamp = tuple[int, int]  # generations of the user's attributes and of the bot's key/values

MAX_ROWS = 4096  # conversations kept (≈ 2 kB of JSON each)


class RowCache:
    def __init__(self, size: int = MAX_ROWS) -> None:
        self.size = size
        self._rows: dict[ConversationKey, tuple[Row, Stamp]] = {}  # oldest first
        self._taken: dict[ConversationKey, tuple[Row, Stamp]] = {}  # loaded by a turn not yet saved
        self._users: dict[tuple[str, str], int] = {}
        self._bots: dict[str, int] = {}
        self._version: Any = None

    def _stamp(self, key: ConversationKey) -> Stamp:
        return self._users.get((key.channel, key.user_id), 0), self._bots.get(key.bot_id, 0)

    def clear(self) -> None:
        """Forget everything (generations too: every row kept or taken goes with them)."""
        self._rows.clear()
        self._taken.clear()
        self._users.clear()
        self._bots.clear()
        self._version = None

    def check(self, version: Any) -> None:
        """`PRAGMA data_version` as the loading connection reads it now: when another connection has
        committed since the last check, nothing kept can be trusted."""
        if version != self._version:
            self.clear()
            self._version = version

    def take(self, key: ConversationKey) -> Row | None:
        """The conversation's row as this process last wrote it, if nothing changed it since."""
        kept = self._rows.pop(key, None)
        if kept is not None and kept[1] == self._stamp(key):
            return kept[0]
        return None

    def loaded(self, key: ConversationKey, row: Row) -> None:
        """A turn loaded `row` (kept or read): what its save does not write, it keeps from this."""
        if len(self._taken) >= self.size:  # turns that never saved (failed): forget them
            self._taken.clear()
        self._taken[key] = (row, self._stamp(key))

    def _bump(self, generations: dict[Any, int], key: Any) -> None:
        generations[key] = generations.get(key, 0) + 1
        if len(generations) > 4 * self.size:
            self.clear()

    def saved(self, key: ConversationKey, written: Row, dues: tuple[bool, bool], user: str | None,
              bot_kv: bool) -> None:
        """A save committed: `written` (the parameters of `sql._SAVE_CONVERSATION`) is the conversation's
        row now, its expiry buckets only where `dues` says so; `user` the attributes it wrote (JSON),
        if any, and `bot_kv` whether it wrote the bot's key/values. What it did not write, the row
        keeps from its turn's load, if nothing changed that since."""
        taken = self._taken.pop(key, None)
        current = taken is not None and taken[1] == self._stamp(key)
        if user is not None:  # rows of the user's conversations with other bots are out of date
            self._bump(self._users, (key.channel, key.user_id))
        if bot_kv:  # rows of the bot's other conversations are, and this one (SQLite builds the object)
            self._bump(self._bots, key.bot_id)
        if taken is None or not current or bot_kv:
            return
        loaded = taken[0]
        row = (*written[3:9], key.bot_id,  # (`written[9]` is the time of writing)
               loaded[7] if user is None else user, loaded[8] if user is None else key.user_id, loaded[9],
               written[10] if dues[0] else loaded[10], written[11] if dues[1] else loaded[11])
        self._rows[key] = (row, self._stamp(key))
        if len(self._rows) > self.size:
            del self._rows[next(iter(self._rows))]
