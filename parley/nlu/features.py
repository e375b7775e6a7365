"""TF-IDF features of an utterance: word unigrams, bigrams and stems, and character 2–5-grams inside words.

Written by hand rather than with scikit-learn's vectorizers because predicting one message must take
microseconds: a message is a few dozen dictionary look-ups here. The maths is scikit-learn's
(`sublinear_tf`, smoothed idf, each block scaled to unit length). Character n-grams are computed
once per distinct word and cached, since words repeat far more than they vary.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

_WORD = re.compile(r"\w+", re.UNICODE)
CHAR_MIN, CHAR_MAX = 2, 5
# Truncation stemming: a word's first five letters stand for its inflections and derivations
# ("annuler", "annulation", "annulez"; "cancelling", "cancellation"), the cheap stemmer that works
# for any alphabetic language. Character n-grams see pieces of a word; this sees its stem whole.
STEM_PREFIX = 5
# An utterance to featurize: (normalized text, extra word-level tokens such as entity markers).
Doc = tuple[str, Sequence[str]]


def words_of(normalized: str) -> list[str]:
    return _WORD.findall(normalized)


def word_grams(words: Sequence[str]) -> list[str]:
    """Unigrams, bigrams and the STEM_PREFIX-letter prefix of each longer word (`annul~`)."""
    return [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False)),
            *(f"{w[:STEM_PREFIX]}~" for w in words if len(w) > STEM_PREFIX)]


def char_grams_of_word(word: str) -> list[str]:
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(CHAR_MIN, CHAR_MAX + 1):
        if size < n:
            break
        grams.extend(padded[i:i + n] for i in range(size - n + 1))
    return grams


@dataclass(frozen=True)
class Block:
    vocab: dict[str, int]
    idf: NDArray[np.float32]

    @classmethod
    def fit(cls, doc_grams: Sequence[Sequence[str]], min_df: int) -> Block:
        df: Counter[str] = Counter()
        for grams in doc_grams:
            df.update(set(grams))
        kept = sorted(g for g, c in df.items() if c >= min_df)
        n = len(doc_grams)
        idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in kept], np.float32)
        return cls({g: i for i, g in enumerate(kept)}, idf)

    def matrix(self, doc_indices: Sequence[Sequence[int]], offset: int = 0) -> sparse.csr_matrix:
        """Sublinear tf × idf, rows scaled to unit length, from each doc's feature indices (which
        start at `offset`)."""
        lengths = np.fromiter((len(d) for d in doc_indices), np.int64, count=len(doc_indices))
        cols = np.fromiter((i for d in doc_indices for i in d), np.int32, count=int(lengths.sum()))
        if offset:
            cols -= offset
        rows = np.repeat(np.arange(len(doc_indices), dtype=np.int32), lengths)
        m = sparse.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)),
                              shape=(len(doc_indices), len(self.vocab)))
        m.sum_duplicates()
        m.data = (1.0 + np.log(m.data)) * self.idf[m.indices]
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        m = sparse.csr_matrix(sparse.diags(1.0 / norms) @ m, dtype=np.float32)
        return m


@dataclass(frozen=True)
class Featurizer:
    words: Block
    chars: Block
    _char_cache: dict[str, list[int]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def size(self) -> int:
        return len(self.words.vocab) + len(self.chars.vocab)

    @classmethod
    def fit_matrix(cls, docs: Sequence[Doc], transform: Sequence[Doc]) -> tuple[Featurizer, sparse.csr_matrix]:
        """Fit on `docs`, then return the features of `transform` (usually `docs` plus more)."""
        doc_words = [words_of(t) for t, _ in docs]
        word_docs = [[*word_grams(ws), *extra] for ws, (_, extra) in zip(doc_words, docs, strict=True)]
        grams_of: dict[str, list[str]] = {}
        char_docs: list[list[str]] = []
        for ws in doc_words:
            grams: list[str] = []
            for w in ws:
                g = grams_of.get(w)
                if g is None:
                    g = grams_of[w] = char_grams_of_word(w)
                grams.extend(g)
            char_docs.append(grams)
        featurizer = cls(Block.fit(word_docs, 1), Block.fit(char_docs, 2 if len(docs) >= 50 else 1))
        return featurizer, featurizer.matrix(transform)

    @classmethod
    def fit(cls, docs: Sequence[Doc]) -> Featurizer:
        return cls.fit_matrix(docs, [])[0]

    @cached_property
    def _idf_list(self) -> list[float]:
        """Both blocks' idf as Python floats, indexed as the features are (the characters after the
        words): one message has a few dozen features, and NumPy's per-call cost on arrays that small
        is several times the arithmetic."""
        return [*self.words.idf.tolist(), *self.chars.idf.tolist()]

    def _char_indices(self, word: str) -> list[int]:
        """The word's character n-grams' feature indices (after the words' block)."""
        cached = self._char_cache.get(word)
        if cached is None:
            vocab = self.chars.vocab
            offset = len(self.words.vocab)
            cached = [i + offset for g in char_grams_of_word(word) if (i := vocab.get(g)) is not None]
            if len(self._char_cache) < 200_000:
                self._char_cache[word] = cached
        return cached

    def _indices(self, normalized: str, extra: Sequence[str]) -> tuple[list[int], list[int]]:
        words = words_of(normalized)
        wi = [i for i in map(self.words.vocab.get, [*word_grams(words), *extra]) if i is not None]
        ci: list[int] = []
        cache = self._char_cache
        for w in words:
            got = cache.get(w)
            ci += self._char_indices(w) if got is None else got
        return wi, ci

    def row(self, normalized: str, extra: Sequence[str] = ()) -> tuple[list[int], list[float]]:
        """Feature indices and values of one utterance: sublinear tf × idf, each block scaled to unit
        length. Plain lists: NumPy takes them as they are (`take`, `fromiter`), cheaper than arrays
        made first."""
        wi, ci = self._indices(normalized, extra)
        idf = self._idf_list
        wi, wv = _weighed(wi, idf)
        ci, cv = _weighed(ci, idf)
        return wi + ci, wv + cv

    def matrix(self, docs: Sequence[Doc]) -> sparse.csr_matrix:
        if not docs:
            return sparse.csr_matrix((0, self.size), dtype=np.float32)
        pairs = [self._indices(t, extra) for t, extra in docs]
        words = self.words.matrix([w for w, _ in pairs])
        chars = self.chars.matrix([c for _, c in pairs], len(self.words.vocab))
        return sparse.hstack([words, chars], format="csr", dtype=np.float32)


def _weighed(indices: list[int], idf: list[float]) -> tuple[list[int], list[float]]:
    """A block's distinct feature indices and their tf × idf, scaled to unit length."""
    if len(set(indices)) == len(indices):  # each feature once: tf is 1
        distinct = indices
        vals = [idf[i] for i in indices]
    else:
        counts = Counter(indices)
        distinct = list(counts)
        vals = [idf[i] if c == 1 else (1.0 + math.log(c)) * idf[i] for i, c in counts.items()]
    norm = math.hypot(*vals)
    scale = 1.0 / norm if norm > 0 else 1.0
    return distinct, [v * scale for v in vals]
