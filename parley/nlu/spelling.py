"""Botpress's spell check (SPEC §3.4 step 2): words the model never saw are replaced by the closest
word of its vocabulary, and the message is predicted again; the caller keeps the better prediction.

"Closest" counts edits (rapidfuzz's optimal string alignment: swapping two letters is one edit): at
most 1 for words under 8 letters, 2 for longer ones, among known words of the same first letter
(typos seldom hit the first one) and a length that could be near enough. Shorter words, numbers and
the spans of entities are left alone: an unknown short word is more often right than a typo, and an
entity's text is data. Ties go to the word sharing the most letters, then to the alphabet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from parley.nlu.text import fold

MIN_LENGTH = 4
CACHE_SIZE = 50_000  # unknown words and their corrections kept per model (a misspelling recurs)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)  # letters only: numbers and mixed tokens stay as typed


def max_distance(word: str) -> int:
    return 1 if len(word) < 8 else 2


class SpellChecker:
    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.vocabulary = frozenset(vocabulary)
        self._by_length: dict[tuple[str, int], list[str]] = {}
        for w in sorted(self.vocabulary):
            if w:
                self._by_length.setdefault((w[0], len(w)), []).append(w)
        self._closest: dict[str, str | None] = {}

    def closest(self, word: str) -> str | None:
        """The vocabulary word nearest to `word` (folded), if one is near enough: the fewest edits, then
        the most letters in common ("helo" is "hello" rather than "help"), then the alphabet."""
        if word in self._closest:
            return self._closest[word]
        found = self._search(word)
        if len(self._closest) < CACHE_SIZE:
            self._closest[word] = found
        return found

    def _search(self, word: str) -> str | None:
        d = max_distance(word)
        near: list[tuple[int, float, str]] = []
        for length in range(len(word) - d, len(word) + d + 1):
            candidates = self._by_length.get((word[0], length))
            if candidates:
                near += [(int(dist), -fuzz.ratio(word, w), str(w))
                         for w, dist, _ in process.extract(word, candidates, scorer=OSA.distance,
                                                           score_cutoff=d, limit=None)]
        return min(near)[2] if near else None

    def correct(self, text: str, protected: Sequence[tuple[int, int]] = ()) -> str:
        """`text` with each unknown word of MIN_LENGTH letters or more replaced by its closest known
        word; words overlapping a `protected` (start, end) span are kept."""
        if not self.vocabulary:
            return text
        out: list[str] = []
        pos = 0
        for m in _WORD.finditer(text):
            word = m.group(0)
            if len(word) < MIN_LENGTH or any(s < m.end() and m.start() < e for s, e in protected):
                continue
            folded = fold(word)
            if folded in self.vocabulary:
                continue
            replacement = self.closest(folded)
            if replacement is None or replacement == folded:
                continue
            out.append(text[pos:m.start()])
            out.append(replacement)
            pos = m.end()
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)
