"""Sentence vectors from a static token-embedding table that ships on PyPI.

The table is WordLlama's `l2_supercat_256` (MIT licence, in the `wordllama` wheel): 32,000 Llama-2
tokenizer pieces × 256 dimensions, trained so that the mean of a sentence's token vectors is a good
sentence embedding. A sentence costs one tokenizer call and one mean: tens of microseconds, no torch,
nothing downloaded. Without the package the NLU still works on TF-IDF features alone (less accurate
on paraphrases).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parley.settings import switched_off

log = logging.getLogger("parley.nlu")

F32 = NDArray[np.float32]

WORD_CACHE_SIZE = 100_000
_WEIGHTS = "weights/l2_supercat_256.safetensors"
_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"


@dataclass(frozen=True)
class Embedder:
    table: F32  # (vocabulary, dim)
    tokenizer: Any  # tokenizers.Tokenizer
    identity: str  # names the table in model ids: a different table means different models
    # a word's token ids: the tokenizer's merges never cross a word boundary (its pieces only ever
    # start with the word marker), so a sentence's ids are its words' ids end to end; words repeat far
    # more than they vary, and a dict look-up costs a tenth of a tokenizer call
    _word_ids: dict[str, list[int]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def _vector(self, ids: list[int]) -> F32:
        if not ids:
            return np.zeros(self.dim, np.float32)
        # the sum, not the mean: the vector is scaled to unit length anyway (and `take` + `add.reduce`
        # cost a third of fancy indexing + `mean` + `linalg.norm` on a dozen rows)
        v: F32 = np.add.reduce(self.table.take(ids, axis=0), axis=0)
        norm = math.sqrt(float(np.dot(v, v)))
        if norm > 0:
            v *= np.float32(1.0 / norm)
        return v

    def encode(self, texts: list[str]) -> F32:
        """Unit-length sentence vectors (zeros for an empty text), one row per text."""
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch([" ".join(t.lower().split()) for t in texts],
                                                add_special_tokens=False)
        for i, enc in enumerate(encodings):
            out[i] = self._vector(enc.ids)
        return out

    def encode_one(self, text: str) -> F32:
        return self._vector(self.token_ids(text))

    def token_ids(self, text: str) -> list[int]:
        """What `encode` tokenizes `text` into, word by word through a cache."""
        cache = self._word_ids
        ids: list[int] = []
        for word in text.lower().split():
            got = cache.get(word)
            if got is None:
                got = self.tokenizer.encode(word, add_special_tokens=False).ids
                if len(cache) < WORD_CACHE_SIZE:
                    cache[word] = got
            ids += got
        return ids


_lock = threading.Lock()
_loaded: dict[str, Embedder | None] = {}


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _float32_table(weights: Path, identity: str, cache_dir: Path | None) -> F32:
    """The table widened to float32 (shipped as float16: widening costs ~0.1 s per start), memory-mapped
    from the NLU cache after the first start."""
    from safetensors.numpy import load_file

    from parley.nlu.unpacked import load_or_unpack

    st = weights.stat()
    entry = cache_dir / f"{identity}-{st.st_size}-{st.st_mtime_ns}" if cache_dir is not None else None
    arrays = load_or_unpack(entry, ("table",), lambda: {
        "table": np.ascontiguousarray(load_file(str(weights))["embedding.weight"].astype(np.float32))})
    table: F32 = arrays["table"]
    return table


def load_embedder(cache_dir: Path | None = None) -> Embedder | None:
    """The shared table (loaded once per process, ≈0.05 s; kept ready-to-map in `cache_dir` when given),
    or None when unavailable or turned off with `PARLEY_NLU_EMBEDDINGS=off`."""
    if switched_off(os.environ.get("PARLEY_NLU_EMBEDDINGS")):
        return None
    with _lock:
        if "wordllama" in _loaded:
            return _loaded["wordllama"]
        embedder: Embedder | None = None
        try:
            from tokenizers import Tokenizer

            root = _package_dir("wordllama")
            if root is None:
                raise ImportError("the wordllama package is not installed")
            weights, tok = root / _WEIGHTS, root / _TOKENIZER
            with weights.open("rb") as f:
                digest = hashlib.md5(f.read(1 << 20)).hexdigest()[:8]
            identity = f"wordllama-l2-256-{digest}"
            table = _float32_table(weights, identity, cache_dir)
            tokenizer = Tokenizer.from_file(str(tok))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            embedder = Embedder(table, tokenizer, identity)
        except Exception as exc:  # a missing or broken optional part must not stop the NLU
            log.warning("sentence embeddings unavailable (%s): intents use TF-IDF features only", exc)
        _loaded["wordllama"] = embedder
        return embedder
