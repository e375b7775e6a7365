"""List entities (`"type": "list"`): a canonical value and its synonyms, matched exactly or fuzzily.

The scoring reproduces Botpress's `list-extraction.ts`: for every synonym and every start token, take
the run of tokens whose length is closest to the synonym's, score it (exact match, or the mean of
Levenshtein and Jaro-Winkler similarities when the entity is fuzzy, times a structural score on
character sets and sizes), keep the best candidate per token (longer matches win ties) and report
those scoring at least 0.6.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import JaroWinkler, Levenshtein

from parley.nlu.entities import Found
from parley.nlu.text import Token, tokenize

SCORE_THRESHOLD = 0.6
# Botpress Studio's levels: strict = exact only, medium, loose.
FUZZY_STRICT = 1.0
FUZZY_MEDIUM = 0.8
FUZZY_LOOSE = 0.65


@dataclass(frozen=True, slots=True)
class ListEntity:
    name: str
    values: tuple[tuple[str, tuple[str, ...]], ...]  # (canonical, (canonical, synonym, ...))
    fuzzy: float = FUZZY_MEDIUM
    sensitive: bool = False

    @classmethod
    def from_definition(cls, name: str, raw: Mapping[str, Any]) -> ListEntity:
        values: list[tuple[str, tuple[str, ...]]] = []
        for occ in raw.get("occurrences") or []:
            if not isinstance(occ, Mapping) or not isinstance(occ.get("name"), str):
                continue
            canonical = occ["name"]
            synonyms = [s for s in occ.get("synonyms") or [] if isinstance(s, str) and s.strip()]
            forms = tuple(dict.fromkeys([canonical, *synonyms]))
            values.append((canonical, forms))
        fuzzy = raw.get("fuzzy")
        tolerance = float(fuzzy) if isinstance(fuzzy, int | float) and not isinstance(fuzzy, bool) else FUZZY_MEDIUM
        return cls(name, tuple(values), tolerance, bool(raw.get("sensitive", False)))


@dataclass(slots=True)
class _Candidate:
    score: float
    canonical: str
    first: int
    last: int
    source: str
    eliminated: bool = False


def _take_until(tokens: Sequence[Token], start: int, desired: int) -> int:
    """Index of the last token of the run starting at `start` whose length is closest to `desired`
    (a token counts with the spaces before it, as Botpress's tokens carry their leading space)."""
    end = start
    total = 0
    for i in range(start, len(tokens)):
        span = tokens[i].end - (tokens[i - 1].end if i > start else tokens[i].start)
        current = total
        if current > 0 and abs(desired - current) < abs(desired - current - span):
            break
        total += span
        if current >= desired:
            break
        end = i
    return end


def _structural(a: str, b: str) -> float:
    set_a, set_b = set(a.replace(" ", "")), set(b.replace(" ", ""))
    union = set_a | set_b
    cased = len(set_a & set_b) / len(union) if union else 0.0
    low_a, low_b = {c.lower() for c in set_a}, {c.lower() for c in set_b}
    low_union = low_a | low_b
    lower = len(low_a & low_b) / len(low_union) if low_union else 0.0
    charset = (cased + lower) / 2
    size_a, size_b = len(a.replace(" ", "")), len(b.replace(" ", ""))
    size = min(size_a, size_b) / max(size_a, size_b) if max(size_a, size_b) else 0.0
    # Botpress's token-count factor compares the candidate with itself, so it is always 1.
    return float((charset * size) ** 0.5)


def _score(source: str, form: str, tolerance: float) -> float:
    low_source, low_form = source.lower(), form.lower()
    structural = _structural(source, form)
    if tolerance < 1 and len(low_source.replace(" ", "")) >= 4:
        fuzzy = (Levenshtein.normalized_similarity(low_source, low_form)
                 + JaroWinkler.similarity(low_source, low_form)) / 2
        return (fuzzy if fuzzy >= tolerance else 0.0) * structural
    # Botpress compares tokens from its (lower-casing) tokenizer; the structural score still
    # lowers the confidence of a match whose case differs.
    return (1.0 if low_source == low_form else 0.0) * structural


def extract_list(text: str, entity: ListEntity, tokens: Sequence[Token] | None = None) -> list[Found]:
    tokens = tokenize(text) if tokens is None else tokens
    if not tokens:
        return []
    candidates: list[_Candidate] = []
    longest = 0
    for canonical, forms in entity.values:
        for form in forms:
            form = " ".join(form.split())
            longest = max(longest, len(form))
            for i in range(len(tokens)):
                last = _take_until(tokens, i, len(form))
                source = text[tokens[i].start:tokens[last].end]
                score = round(_score(source, form, entity.fuzzy), 2)
                if score > 0:
                    candidates.append(_Candidate(score, canonical, i, last, source))
        for i in range(len(tokens)):
            covering = [c for c in candidates if not c.eliminated and c.first <= i <= c.last]
            if len(covering) > 1:
                covering.sort(key=lambda c: -c.score * min(len(c.source), longest) ** 0.2)
                for loser in covering[1:]:
                    loser.eliminated = True
    found = [
        Found(
            name=entity.name,
            entity_id=f"custom.list.{entity.name}",
            value=c.canonical,
            unit="",
            start=tokens[c.first].start,
            end=tokens[c.last].end,
            source=c.source,
            confidence=c.score,
            sensitive=entity.sensitive,
        )
        for c in candidates
        if not c.eliminated and c.score >= SCORE_THRESHOLD
    ]
    return sorted(found, key=lambda f: f.start)
