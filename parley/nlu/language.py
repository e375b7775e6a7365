"""Which of the bot's languages a message is written in.

Botpress runs fastText's language identifier over 176 languages and, when unsure, looks at which bot
language's vocabulary covers the sentence. parley uses `py3langid` (a naive Bayes model over byte
n-grams for 97 languages, 4 MB, numpy only), keeps only the bot's languages, and blends its answer
with the coverage of the message's words by each language's training vocabulary, which settles short
messages ("hello", "ok") that a general identifier cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from parley.nlu import identifier
from parley.nlu.features import words_of
from parley.nlu.text import fold

MIN_CONFIDENCE = 0.6


def warm_up(cache_dir: Path | None = None) -> None:
    """Load the identifier now (from `cache_dir`, where its unpacked model is kept, when given)."""
    identifier.start_loading(cache_dir).result()


def _identifier_scores(text: str, languages: Sequence[str]) -> dict[str, float]:
    ident = identifier.get()
    if ident is None:
        return {}
    try:
        ranked = dict(ident.rank(text))
    except Exception:  # never let identification break understanding
        return {}
    scores = {lang: float(ranked.get(lang, 0.0)) for lang in languages}
    total = sum(scores.values())
    return {lang: s / total for lang, s in scores.items()} if total > 0 else {}


def _coverage(text: str, vocabularies: Mapping[str, frozenset[str]]) -> dict[str, float]:
    words = words_of(fold(text))
    if not words:
        return {}
    hits = {lang: sum(1 for w in words if w in vocab) for lang, vocab in vocabularies.items()}
    total = sum(hits.values())
    return {lang: h / total for lang, h in hits.items()} if total > 0 else {}


def detect_language(text: str, languages: Sequence[str],
                    vocabularies: Mapping[str, frozenset[str]]) -> str | None:
    """One of `languages`, or None when unsure (the caller then uses the user's or the default one)."""
    if not languages:
        return None
    if len(languages) == 1:
        return languages[0]
    lid = _identifier_scores(text, languages)
    cover = _coverage(text, {lang: vocabularies.get(lang, frozenset()) for lang in languages})
    if lid and cover:
        blended = {lang: 0.5 * lid.get(lang, 0.0) + 0.5 * cover.get(lang, 0.0) for lang in languages}
    else:
        blended = lid or cover
    if not blended:
        return None
    best = max(blended, key=lambda lang: blended[lang])
    return best if blended[best] >= MIN_CONFIDENCE else None
