"""Text handling shared by the NLU: slot markup, tokens with character offsets, normalisation.

Offsets always refer to the text as the user typed it, because Botpress reports entity and slot
positions (`start`, `end`) in the original message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Botpress's utterance markup: `[Montréal](city)` marks the text "Montréal" as the slot `city`.
_SLOT_MARKUP = re.compile(r"\[([^\[\]]+?)\]\(([\w.\-]+)\)")
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class SlotSpan:
    name: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Utterance:
    """A training utterance with its markup removed and the slot spans it declared."""

    text: str
    slots: tuple[SlotSpan, ...] = ()


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum() or self.text[0] == "_"


def parse_utterance(raw: str) -> Utterance:
    """Remove `[text](slot)` markup and remember where each slot was."""
    out: list[str] = []
    spans: list[SlotSpan] = []
    pos = 0
    length = 0
    for m in _SLOT_MARKUP.finditer(raw):
        before = raw[pos:m.start()]
        out.append(before)
        length += len(before)
        value = m.group(1)
        spans.append(SlotSpan(m.group(2), length, length + len(value), value))
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(raw[pos:])
    text = "".join(out)
    # trim like Botpress does, shifting the spans
    stripped = text.lstrip()
    shift = len(text) - len(stripped)
    text = stripped.rstrip()
    if shift:
        spans = [SlotSpan(s.name, s.start - shift, s.end - shift, s.text) for s in spans]
    return Utterance(text, tuple(spans))


def tokenize(text: str) -> list[Token]:
    """Words and single punctuation marks, with their offsets in `text`."""
    return [Token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def fold(text: str) -> str:
    """Lower-case and strip accents: "Où ÇA" -> "ou ca". Lengths may change; use for matching only."""
    if text.isascii():  # nothing to decompose (most messages): skip the per-character pass
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """The form the intent classifier sees: folded, single-spaced (`split` splits on what `\\s` matches)."""
    return " ".join(fold(text).split())
