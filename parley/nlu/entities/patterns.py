"""Pattern entities (`"type": "pattern"`): a JavaScript regular expression, case-insensitive unless
`matchCase`. Every match is an entity with confidence 1 (Botpress's `pattern-extraction`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from parley import bounded_regex
from parley.nlu.entities import Found, mark_moment_bound

log = logging.getLogger("parley.nlu")

@dataclass(frozen=True, slots=True)
class PatternEntity:
    name: str
    pattern: str
    match_case: bool = False
    sensitive: bool = False
    regex: bounded_regex.Pattern | None = field(default=None, compare=False)

    @classmethod
    def from_definition(cls, name: str, raw: Mapping[str, Any]) -> PatternEntity:
        """Raises `ValueError` when the pattern is not a valid regular expression."""
        pattern = str(raw.get("pattern") or "")
        match_case = bool(raw.get("matchCase", False))
        if not pattern:
            raise ValueError("empty pattern")
        try:
            regex = bounded_regex.compile(bounded_regex.from_js(pattern), 0 if match_case else bounded_regex.IGNORECASE)
        except bounded_regex.error as exc:
            raise ValueError(f"invalid pattern {pattern!r}: {exc}") from exc
        return cls(name, pattern, match_case, bool(raw.get("sensitive", False)), regex)


def extract_pattern(text: str, entity: PatternEntity) -> list[Found]:
    if entity.regex is None:
        return []
    out: list[Found] = []
    try:
        matches = list(entity.regex.finditer(text, timeout=bounded_regex.TIME_LIMIT))
    except TimeoutError:
        mark_moment_bound()  # a busier moment cut it short: another time it may match
        log.warning("pattern entity %s: matching a %d-character message took over %.2f s; no match",
                    entity.name, len(text), bounded_regex.TIME_LIMIT)
        return []
    for m in matches:
        if m.end() == m.start():
            continue
        out.append(Found(
            name=entity.name,
            entity_id=f"custom.pattern.{entity.name}",
            value=m.group(0),
            unit="",
            start=m.start(),
            end=m.end(),
            source=m.group(0),
            confidence=1.0,
        ))
    return out
