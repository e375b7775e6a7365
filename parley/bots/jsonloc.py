"""Read JSON files so that every fault can be reported by file, line and JSON path.

Python's json module reports the line of a syntax error but forgets positions once parsing succeeds.
Schema faults ("node 3 has no name") are far easier to fix with a line number, so `line_of` re-scans
the text once and maps a JSON path to the line where that value starts. It only runs on the error path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from parley.bots.models import Problem

PathPart = str | int


class JsonFileError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def read_json(path: Path, display: str) -> Any:
    """Parse a JSON file or raise JsonFileError with the line and column of the syntax error."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise JsonFileError(Problem(display, f"cannot read file: {exc}")) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonFileError(
            Problem(display, f"invalid JSON: {exc.msg}", f"{exc.lineno}:{exc.colno}")
        ) from exc


def format_path(parts: tuple[PathPart, ...]) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def locate(path: Path, parts: tuple[PathPart, ...]) -> str:
    """`line N, $.a.b[2]` for a value inside a JSON file (line omitted when it cannot be found)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        line = line_of(text, parts)
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        line = None
    jp = format_path(parts)
    return f"{line}: {jp}" if line else jp


def line_of(text: str, parts: tuple[PathPart, ...]) -> int | None:
    """Line (1-based) where the value at `parts` starts; the deepest existing ancestor otherwise."""
    decoder = json.JSONDecoder()
    pos = 0

    def skip_ws(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def skip_value(i: int) -> int:
        i = skip_ws(i)
        _, end = decoder.raw_decode(text, i)
        return end

    pos = skip_ws(0)
    for part in parts:
        ch = text[pos] if pos < len(text) else ""
        if isinstance(part, int) and ch == "[":
            i = skip_ws(pos + 1)
            for _ in range(part):
                i = skip_ws(skip_value(i))
                if i < len(text) and text[i] == ",":
                    i = skip_ws(i + 1)
                else:
                    return text.count("\n", 0, pos) + 1
            pos = i
        elif isinstance(part, str) and ch == "{":
            i = skip_ws(pos + 1)
            found = False
            while i < len(text) and text[i] == '"':
                key, i = decoder.raw_decode(text, i)
                i = skip_ws(i)
                i = skip_ws(i + 1)  # the colon
                if key == part:
                    found = True
                    break
                i = skip_ws(skip_value(i))
                if i < len(text) and text[i] == ",":
                    i = skip_ws(i + 1)
            if not found:
                return text.count("\n", 0, pos) + 1
            pos = i
        else:
            break
    return text.count("\n", 0, pos) + 1
