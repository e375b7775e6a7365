"""Regular expressions written by bot authors, run on what users type.

Pattern entities and regex literals in conditions match every message. A pattern with catastrophic
backtracking (`^(a|a)*$`) fed a crafted message would hold the event loop, and so every conversation of
every bot, for minutes. They are compiled with the `regex` module, whose matcher takes a time limit
(and backtracks less than `re` to begin with): a match that runs over TIME_LIMIT raises TimeoutError,
which callers treat as a failed match of that one message.
"""

from __future__ import annotations

import regex

TIME_LIMIT = 0.05  # seconds per call: far above any sane pattern on a chat message (microseconds)

Pattern = regex.Pattern[str]
Match = regex.Match[str]
error = regex.error
IGNORECASE, MULTILINE, DOTALL = regex.IGNORECASE, regex.MULTILINE, regex.DOTALL


def compile(pattern: str, flags: int = 0) -> Pattern:  # noqa: A001 (the name every regex API uses)
    """Compiled in `re`'s dialect (VERSION0), so patterns mean what they mean to `re`."""
    return regex.compile(pattern, flags | regex.VERSION0)
