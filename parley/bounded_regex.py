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


_ASCII_CLASSES = {"d": "[0-9]", "w": "[A-Za-z0-9_]", "D": "[^0-9]", "W": "[^A-Za-z0-9_]"}
_ASCII_IN_CLASS = {"d": "0-9", "w": "A-Za-z0-9_"}
_JS_BACKREF = regex.compile(r"\\k<([A-Za-z_]\w*)>")


def from_js(src: str, multiline: bool = False) -> str:
    """A JavaScript pattern in `re`'s syntax: ASCII `\\d`/`\\w`, `$` only at the very end without the
    `m` flag, `(?<name>…)` groups and `\\k<name>` back-references. Bots write JavaScript patterns both
    as pattern entities and as regex literals in conditions."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(src):
        c = src[i]
        if c == "\\" and i + 1 < len(src):
            e = src[i + 1]
            if e == "k" and not in_class and (m := _JS_BACKREF.match(src, i)):
                out.append(f"(?P={m.group(1)})")
                i = m.end()
                continue
            rep = (_ASCII_IN_CLASS if in_class else _ASCII_CLASSES).get(e)
            out.append(rep if rep is not None else src[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c == "$" and not multiline:
            out.append(r"\Z")
        elif src.startswith("(?<", i) and src[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)

