"""List entities (`"type": "list"`): a canonical value and its synonyms, matched exactly or fuzzily.

The scoring reproduces Botpress's `list-extraction.ts`: for every synonym and every start token, take
the run of tokens whose length is closest to the synonym's, score it (exact match, or the mean of
Levenshtein and Jaro-Winkler similarities when the entity is fuzzy, times a structural score on
character sets and sizes), keep the best candidate per token (longer matches win ties) and report
those scoring at least 0.6.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cdist

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


_Run = tuple[int, int, str, float]  # a run of tokens matching a form: first and last token, text, score


def _runs(text: str, tokens: Sequence[Token], forms: Sequence[str], tolerance: float) -> dict[str, list[_Run]]:
    """Per form, the runs of tokens it matches (score above 0, rounded to two decimals as Botpress
    does): from every start token, the run whose length is closest to the form's, scored by an exact
    match or, when the entity is fuzzy and the run has 4 characters or more, by the mean of Levenshtein
    and Jaro-Winkler similarities (0 under the tolerance), times the structural score. A form length at
    a time: the runs of one length are the same for all its forms, and the similarities of all their
    pairs come from two `cdist` calls instead of two calls per pair (a list of 200 cities took 12 ms)."""
    by_length: dict[int, list[str]] = defaultdict(list)
    for form in dict.fromkeys(forms):
        by_length[len(form)].append(form)
    out: dict[str, list[_Run]] = {}
    for length, group in by_length.items():
        runs = [(last, text[tokens[i].start:tokens[last].end])
                for i, last in ((i, _take_until(tokens, i, length)) for i in range(len(tokens)))]
        lows = [source.lower() for _, source in runs]
        scores = np.zeros((len(runs), len(group)))
        fuzzy = [k for k, low in enumerate(lows) if tolerance < 1 and len(low.replace(" ", "")) >= 4]
        if fuzzy:
            group_low = [form.lower() for form in group]
            sources = [lows[k] for k in fuzzy]
            # below this Levenshtein similarity the mean of the two cannot reach `tolerance` (JW <= 1)
            lev = cdist(sources, group_low, scorer=Levenshtein.normalized_similarity, dtype=np.float64,
                        score_cutoff=max(0.0, 2 * tolerance - 1))
            mean = (lev + cdist(sources, group_low, scorer=JaroWinkler.similarity, dtype=np.float64)) / 2
            for r, c in zip(*np.nonzero(mean >= tolerance), strict=True):
                scores[fuzzy[r], c] = mean[r, c] * _structural(runs[fuzzy[r]][1], group[c])
        exact = set(range(len(runs))).difference(fuzzy)
        if exact:
            columns: dict[str, list[int]] = defaultdict(list)
            for c, form in enumerate(group):
                columns[form.lower()].append(c)
            for k in exact:
                for c in columns.get(lows[k], ()):
                    scores[k, c] = _structural(runs[k][1], group[c])
        for form in group:
            out[form] = []
        for k, c in zip(*np.nonzero(scores), strict=True):
            score = round(float(scores[k, c]), 2)
            if score > 0:
                out[group[c]].append((int(k), runs[k][0], runs[k][1], score))
    return out


def extract_list(text: str, entity: ListEntity, tokens: Sequence[Token] | None = None) -> list[Found]:
    tokens = tokenize(text) if tokens is None else tokens
    if not tokens:
        return []
    values = [(canonical, [" ".join(form.split()) for form in forms]) for canonical, forms in entity.values]
    runs = _runs(text, tokens, [form for _, forms in values for form in forms], entity.fuzzy)
    candidates: list[_Candidate] = []
    longest = 0
    for canonical, forms in values:
        before = len(candidates)
        for form in forms:
            longest = max(longest, len(form))
            candidates += [_Candidate(score, canonical, i, last, source) for i, last, source, score in runs[form]]
        if len(candidates) == before:
            continue  # after the last pass no token has two candidates left: this one would change nothing
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
        )
        for c in candidates
        if not c.eliminated and c.score >= SCORE_THRESHOLD
    ]
    return sorted(found, key=lambda f: f.start)
