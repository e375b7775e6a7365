"""The intent classifier of one bot language, with its out-of-scope estimate.

Features: TF-IDF (word 1–2-grams, character 2–5-grams), markers for the custom entities found in
the utterance, and (English) a 256-d sentence embedding. Model: softmax regression over the intents
plus a `none` class, trained on three kinds of out-of-scope text: junk and shuffles of the bot's own
words (Botpress's trick, catches gibberish), everyday sentences on other topics (`background.py`,
catches real questions the bot does not handle) and the dataset's own out-of-scope samples if any.

A message is out of scope when `none` wins or when the best intent's probability is under a
threshold chosen on held-out data (cross-validation for small bots, one 80/20 split for big ones) to
maximise the expected accuracy when OUTSIDE_SHARE of the messages are out of scope. For small bots the
same folds also pick the L2 strength among C_CHOICES: the right amount depends on how many and how
varied the utterances are, which one constant cannot fit (and cross-validating them is cheap). A message equal
to a training utterance is matched exactly (confidence 1), as Botpress's exact matcher does.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from parley.nlu.background import BACKGROUND
from parley.nlu.embeddings import Embedder
from parley.nlu.features import CHAR_MAX, CHAR_MIN, STEM_PREFIX, Featurizer, words_of
from parley.nlu.linear import SoftmaxWeights, train_softmax
from parley.nlu.text import normalize

F32 = NDArray[np.float32]

NONE = "none"
# An in-scope training sample: (normalized text, entity markers, intent name).
Sample = tuple[str, tuple[str, ...], str]

# Tuned on bitfan bpds (4 intents, en/fr) and CLINC150 (150 intents); see the README's NLU section.
EMBEDDING_WEIGHT = 1.5  # scale of the sentence vector next to the unit-length TF-IDF blocks
C_REGULARISATION = 5.0  # inverse L2 strength (bots too big for cross-validation)
C_CHOICES = (C_REGULARISATION, 2.5, 10.0)  # small bots: the one whose held-out folds score best
NONE_WEIGHT = 0.25  # the `none` class weighs a quarter of an intent
# the share of out-of-scope messages the threshold is tuned for: at 0.1 the threshold of a big bot,
# chosen on one held-out split, swung with the split (CLINC150 20-shot seeds: out-of-scope recall
# 0.55–0.79, accuracy 0.875–0.886); 0.05–0.07 is steady (0.55–0.58, 0.880–0.886), 0.03 rejects too little
OUTSIDE_SHARE = 0.05
MAX_THRESHOLD = 0.5
REJECT_QUANTILE = 0.05  # without held-out out-of-scope text: in-scope share allowed under the threshold
CV_FOLDS = 5
CV_LIMIT = 2000  # above this many utterances, one held-out split instead of cross-validation
# a background sentence this close to a training utterance is not used as an out-of-scope example
BACKGROUND_MAX_TFIDF = 0.6
BACKGROUND_MAX_COSINE = 0.7
# The second opinion (encoder.py), for bots with at least SECOND_MIN_INTENTS intents: a softmax over the
# sentence encoder's vectors of up to SECOND_PER_INTENT utterances per intent, asked when the first
# stage's best intent is under SECOND_BELOW. On CLINC150 (val) that is 19 % of the messages, and asking
# it for all of them gained nothing more. Small bots are accurate without it, and train in a fraction of
# a second, which encoding every utterance would not keep.
SECOND_MIN_INTENTS = 20
SECOND_PER_INTENT = 60
SECOND_BELOW = 0.7
SECOND_AGREE = 0.5
SECOND_C = 10.0

# what the trained weights depend on (part of model ids): the constants above and the features'
SPEC = {k: v for k, v in globals().items() if k.isupper() and isinstance(v, int | float | tuple)}
SPEC |= {"CHAR_MIN": CHAR_MIN, "CHAR_MAX": CHAR_MAX, "STEM_PREFIX": STEM_PREFIX}
# labels beyond which a message's softmax runs in NumPy rather than plain Python (not part of SPEC:
# the probabilities agree to float rounding)
SOFTMAX_IN_NUMPY = 40


@dataclass(frozen=True)
class IntentClassifier:
    labels: tuple[str, ...]  # the last one is NONE
    featurizer: Featurizer
    weights: SoftmaxWeights
    threshold: float
    exact: dict[str, str]
    uses_embeddings: bool
    # over labels[:-1] (the intents), from the sentence encoder's vectors; None where there is none
    second: SoftmaxWeights | None = None

    def rerank(self, p: list[float], vector: Callable[[], F32 | None]) -> tuple[list[float], int | None]:
        """The first stage's probabilities `p` (over `labels`), the intents reordered by the second
        opinion when the first hesitates: by the product of both stages' probabilities. And the index
        of the first stage's best intent when the second confirms it (its best too, with at least
        SECOND_AGREE), else None.

        Only the order changes: the k-th most likely intent keeps the k-th largest probability of the
        first stage, so the best intent's probability, and with it whether the message is ambiguous,
        stays what the calibrated first stage says. (A bot's contexts get their intents' new shares.)
        Whether it is out of scope too, but for one case: the best intent under the threshold (not
        `none` winning) that the second opinion confirms is taken, in the contexts holding it (the
        caller waives the threshold there). Two classifiers that read the message differently
        (n-grams, a transformer) agreeing is evidence the threshold, calibrated on the first stage
        alone, cannot see. Where `none` wins outright the encoder is not asked: nothing it says
        would change the answer."""
        second = self.second
        n = len(p) - 1
        if second is None or n < 2:
            return p, None
        first = p[:n]
        best = max(first)
        if best >= SECOND_BELOW or best <= p[-1]:
            return p, None
        v = vector()
        if v is None:
            return p, None
        z = v @ second.dense + second.bias
        z -= z.max()
        # log P1 + log P2: the softmax's own normaliser is the same for every intent, so logits will do
        combined = np.log(np.maximum(np.asarray(first, np.float64), 1e-12)) + z
        ranked = sorted(first, reverse=True)
        out = [0.0] * n
        order = np.argsort(-combined, kind="stable").tolist()
        for rank, i in enumerate(order):
            out[i] = ranked[rank]
        top = first.index(best)
        # z's max is 0, so 1 / sum(exp(z)) is the second opinion's probability of its own best intent
        confirmed = int(np.argmax(z)) == top and 1.0 / float(np.exp(z).sum()) >= SECOND_AGREE
        return [*out, p[-1]], top if confirmed else None

    def scores(self, normalized: str, markers: Sequence[str], vector: F32 | None) -> list[float]:
        """P(label | utterance) over `labels`. One message: a few NumPy calls on tiny arrays, whose
        per-call cost is most of the time, so the fewer and cheaper the better (weights pre-scaled,
        `fromiter` and `take` rather than arrays made first, measured with callgrind); the softmax of
        a bot's dozen labels is cheaper in plain Python."""
        idx, vals = self.featurizer.row(normalized, markers)
        if not idx:
            # no word, character run or entity the bot ever saw ("zzzz qqq", another script): the scores
            # would be the biases alone, which chose some intent (a tiny bot's QnA answered gibberish)
            return [0.0] * (len(self.labels) - 1) + [1.0]
        z: F32 = np.fromiter(vals, np.float32, len(vals)) @ self.weights.sparse.take(idx, axis=0)
        z += self.weights.bias
        if self.uses_embeddings and vector is not None:
            z += vector @ self._dense_weighted
        if len(z) > SOFTMAX_IN_NUMPY:
            z -= z.max()
            np.exp(z, out=z)
            z /= z.sum()
            return z.tolist()  # type: ignore[no-any-return]
        logits: list[float] = z.tolist()
        top = max(logits)
        e = [math.exp(x - top) for x in logits]
        scale = 1.0 / sum(e)
        return [x * scale for x in e]

    @cached_property
    def _dense_weighted(self) -> F32:
        """The sentence vector's weights times its weight in the features (`batch_scores` gets the
        vectors already weighted)."""
        weighted: F32 = self.weights.dense * np.float32(EMBEDDING_WEIGHT)
        return weighted

    def batch_scores(self, xs: sparse.csr_matrix, xd: F32) -> F32:
        """`scores` for rows of already-built features (`xd` already weighted)."""
        z = xs @ self.weights.sparse + self.weights.bias
        if self.uses_embeddings:
            z += xd @ self.weights.dense
        z -= z.max(axis=1, keepdims=True)
        e: F32 = np.exp(z).astype(np.float32)
        e /= e.sum(axis=1, keepdims=True)
        return e

    def exact_match(self, normalized: str) -> str | None:
        return self.exact.get(exact_key(normalized))


def exact_key(normalized: str) -> str:
    return " ".join(words_of(normalized))


# ------------------------------------------------------------------------------------- training


def synthetic_none(texts: Sequence[str], count: int, rng: random.Random) -> list[str]:
    """Out-of-scope sentences made of the bot's own words: shuffled vocabulary words and junk words
    glued from pieces of them, 1 to 2× the average utterance length (after Botpress)."""
    vocab = sorted({w for t in texts for w in words_of(t)})
    if not vocab:
        return []
    lengths = [len(words_of(t)) for t in texts] or [3]
    avg = max(1, round(sum(lengths) / len(lengths)))
    pieces = [w[i:i + 3] for w in vocab for i in range(0, max(1, len(w) - 2), 2)]
    out = []
    for i in range(count):
        n = rng.randint(1, 2 * avg)
        if i % 2 == 0:
            out.append(" ".join(rng.choice(vocab) for _ in range(n)))
        else:
            out.append(" ".join("".join(rng.choice(pieces) for _ in range(rng.randint(1, 3))) for _ in range(n)))
    return out


def _folds(samples: Sequence[Sample], rng: random.Random, k: int) -> list[tuple[list[int], list[int]]]:
    """Stratified folds (k = 1: one 80/20 split). Intents with a single utterance always train."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, (_, _, label) in enumerate(samples):
        by_label[label].append(i)
    held: list[list[int]] = [[] for _ in range(max(k, 1))]
    always: list[int] = []
    for label in sorted(by_label):
        idx = by_label[label][:]
        rng.shuffle(idx)
        if len(idx) < 2:
            always += idx
        elif k == 1:
            cut = max(1, len(idx) // 5) if len(idx) >= 3 else 0
            held[0] += idx[:cut]
        else:
            for j, i in enumerate(idx):
                held[j % k].append(i)
    out = []
    everything = set(range(len(samples)))
    for part in held:
        if part:
            out.append((sorted(everything - set(part)), sorted(part)))
    return out


def _choose_threshold(inside: Sequence[tuple[float, float, float]],
                      outside: Sequence[tuple[float, float, float]]) -> float:
    """The threshold under which the best intent loses to `none`, from held-out (best, none, right) scores.

    With enough held-out out-of-scope sentences: the threshold that maximises the expected accuracy
    when OUTSIDE_SHARE of the messages are out of scope (an in-scope message counts when kept and
    right, an out-of-scope one when rejected). Otherwise: REJECT_QUANTILE of the in-scope utterances
    fall under it."""
    if not inside:
        return 0.0
    ins = np.array(inside)
    if len(outside) < 10:
        return min(MAX_THRESHOLD, float(np.quantile(ins[:, 0], REJECT_QUANTILE)))
    out = np.array(outside)
    candidates = np.unique(np.concatenate([[0.0], ins[:, 0], out[:, 0]]))
    candidates = candidates[candidates <= MAX_THRESHOLD]
    best_t, best_score = 0.0, -1.0
    for t in candidates:
        score = _expected_accuracy(ins, out, float(t))
        if score > best_score + 1e-9:
            best_t, best_score = float(t), score
    return best_t


def _expected_accuracy(inside: Sequence[tuple[float, float, float]] | NDArray[np.float64],
                       outside: Sequence[tuple[float, float, float]] | NDArray[np.float64], threshold: float) -> float:
    """The accuracy expected with `threshold` when OUTSIDE_SHARE of the messages are out of scope
    (an in-scope message counts when kept and right, an out-of-scope one when rejected)."""
    ins, out = np.asarray(inside, np.float64).reshape(-1, 3), np.asarray(outside, np.float64).reshape(-1, 3)
    kept_right = float(((ins[:, 0] > np.maximum(ins[:, 1], threshold)) * ins[:, 2]).mean()) if len(ins) else 0.0
    if not len(out):
        return kept_right
    rejected = float((out[:, 0] <= np.maximum(out[:, 1], threshold)).mean())
    return (1 - OUTSIDE_SHARE) * kept_right + OUTSIDE_SHARE * rejected


def _dense(embedder: Embedder | None, texts: Sequence[str]) -> F32:
    if embedder is None:
        return np.zeros((len(texts), 0), np.float32)
    return embedder.encode(list(texts)) * np.float32(EMBEDDING_WEIGHT)


def _unlike(candidates: Sequence[str], featurizer: Featurizer, xs_in: sparse.csr_matrix, xd_in: F32,
            embedder: Embedder | None) -> list[str]:
    """The background sentences that resemble none of the bot's utterances (TF-IDF and embedding)."""
    if not candidates or xs_in.shape[0] == 0:
        return list(candidates)
    xs_bg = featurizer.matrix([(t, ()) for t in candidates])
    # rows are two unit-length blocks (words, characters): their dot product is twice the cosine
    keep = np.asarray((xs_bg @ xs_in.T).max(axis=1).todense()).ravel() / 2 < BACKGROUND_MAX_TFIDF
    if embedder is not None:
        sims = (_dense(embedder, candidates) @ xd_in.T) / np.float32(EMBEDDING_WEIGHT ** 2)
        keep &= sims.max(axis=1) < BACKGROUND_MAX_COSINE
    return [t for t, k in zip(candidates, keep.tolist(), strict=True) if k]


def _class_weights(y: NDArray[np.int64], none: int) -> F32:
    """Intents weigh the same whatever their number of utterances; `none` weighs NONE_WEIGHT intents."""
    counts = Counter(y.tolist())
    per_class = {c: len(y) / (len(counts) * n) for c, n in counts.items()}
    if none in per_class:
        per_class[none] *= NONE_WEIGHT
    return np.array([per_class[c] for c in y.tolist()], np.float32)


@dataclass
class _HeldOut:
    """Scores of held-out rows under models trained without them (cross-validation)."""

    inside: list[tuple[float, float, float]]  # in-scope rows: (best intent, none, right?)
    outside: list[tuple[float, float, float]]  # out-of-scope rows: the same
    log_loss: float  # mean -log P(true label) over all held-out rows
    start: SoftmaxWeights | None  # the weights of a single split, to warm-start the final training


def _held_out(xs: sparse.csr_matrix, xd: F32, y: NDArray[np.int64], labels: tuple[str, ...],
              featurizer: Featurizer, uses_embeddings: bool, weights_of: F32,
              n_samples: int, folds: Sequence[tuple[list[int], list[int]]], outside_folds: Sequence[list[int]],
              c: float, max_iter: int) -> _HeldOut:
    """Train one probe per fold (rows `n_samples:` are out of scope) and score what it did not see."""
    result = _HeldOut([], [], 0.0, None)
    losses: list[float] = []
    for f, (train_idx, held_idx) in enumerate(folds):
        held_out = outside_folds[f] if f < len(outside_folds) else []
        held_set = set(held_out)
        rows = np.array(train_idx + [r for r in range(n_samples, len(y)) if r not in held_set])
        probe_w = train_softmax(xs[rows], xd[rows], y[rows], len(labels), c=c, sample_weight=weights_of[rows],
                                max_iter=max_iter)
        probe = IntentClassifier(labels, featurizer, probe_w, 0.0, {}, uses_embeddings)
        for target, idx in ((result.inside, held_idx), (result.outside, held_out)):
            if idx:
                sc = probe.batch_scores(xs[idx], xd[idx])
                right = (sc[:, :-1].argmax(axis=1) == y[idx]).astype(float)
                target += list(zip(sc[:, :-1].max(axis=1).tolist(), sc[:, -1].tolist(), right.tolist(), strict=True))
                losses += (-np.log(np.maximum(sc[np.arange(len(idx)), y[idx]], 1e-12))).tolist()
        if len(folds) == 1:
            result.start = probe_w
    result.log_loss = float(np.mean(losses)) if losses else 0.0
    return result


def train_intents(
    samples: Sequence[Sample],
    *,
    embedder: Embedder | None,
    seed: int,
    oos: Sequence[str] = (),
    calibrate: bool = True,
    language: str = "",
) -> IntentClassifier | None:
    """Train on in-scope `samples` (and optional real out-of-scope texts). None without utterances."""
    if not samples:
        return None
    rng = random.Random(seed)
    names = sorted({label for _, _, label in samples})
    labels = (*names, NONE)
    index = {label: i for i, label in enumerate(labels)}
    texts = [t for t, _, _ in samples]
    n_synthetic = min(300, max(20, len(samples) // 10))
    synthetic = synthetic_none(texts, n_synthetic, rng)

    in_scope: list[tuple[str, Sequence[str]]] = [(t, m) for t, m, _ in samples]
    featurizer, xs_in = Featurizer.fit_matrix(in_scope, in_scope)
    xd_in = _dense(embedder, texts)
    background = _unlike([normalize(t) for t in BACKGROUND.get(language, ())], featurizer, xs_in, xd_in, embedder)
    # real out-of-scope examples: the dataset's own (if any) and the background sentences
    outside = [*oos, *background]
    none_texts = [*synthetic, *outside]
    docs = in_scope + [(t, ()) for t in none_texts]
    xs = sparse.vstack([xs_in, featurizer.matrix([(t, ()) for t in none_texts])], format="csr")
    xd = np.vstack([xd_in, _dense(embedder, none_texts)])
    y = np.array([index[label] for _, _, label in samples] + [index[NONE]] * len(none_texts), np.int64)
    big = len(docs) > 5000
    first_outside = len(samples) + len(synthetic)

    threshold = 0.0
    start = None
    c = C_REGULARISATION
    weights_of = _class_weights(y, index[NONE])
    if calibrate and len(samples) >= 8:
        folds = _folds(samples, rng, 1 if len(samples) > CV_LIMIT else CV_FOLDS)
        outside_rows = list(range(first_outside, len(docs)))
        rng.shuffle(outside_rows)
        k = max(len(folds), 5) if len(folds) == 1 else len(folds)
        outside_folds = [outside_rows[i::k] for i in range(k)]
        # small bots: the regularisation too is chosen on the held-out folds (training is cheap there)
        choices = C_CHOICES if len(folds) > 1 else (C_REGULARISATION,)
        best_fit: tuple[float, float] | None = None
        for candidate in choices:
            held = _held_out(xs, xd, y, labels, featurizer, embedder is not None, weights_of, len(samples), folds,
                             outside_folds, candidate, max_iter=20 if big else 60)
            candidate_threshold = _choose_threshold(held.inside, held.outside)
            fit = (_expected_accuracy(held.inside, held.outside, candidate_threshold), -held.log_loss)
            if best_fit is None or fit > best_fit:
                best_fit, c, threshold, start = fit, candidate, candidate_threshold, held.start

    weights = train_softmax(xs, xd, y, len(labels), c=c, sample_weight=weights_of,
                            max_iter=(15 if big else 40) if start is not None else 60, start=start)
    exact: dict[str, str] = {}
    conflicts: set[str] = set()
    for t, _, label in samples:
        key = exact_key(t)
        if key in exact and exact[key] != label:
            conflicts.add(key)
        exact[key] = label
    for key in conflicts:
        del exact[key]
    return IntentClassifier(labels, featurizer, weights, threshold, exact, embedder is not None)


def second_sample(labels: Sequence[str], seed: int) -> list[int]:
    """Which utterances (indices into `labels`, one intent name per utterance) the second opinion
    learns from: up to SECOND_PER_INTENT per intent, picked at random (seeded), since encoding costs
    milliseconds per utterance. Empty when there are too few intents to need one."""
    by_intent: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_intent[label].append(i)
    if len(by_intent) < SECOND_MIN_INTENTS:
        return []
    rng = random.Random(f"{seed}:second")
    rows: list[int] = []
    for name in sorted(by_intent):
        members = by_intent[name]
        rows += members if len(members) <= SECOND_PER_INTENT else sorted(rng.sample(members, SECOND_PER_INTENT))
    return rows


def train_second(classifier: IntentClassifier, vectors: F32, labels: Sequence[str]) -> IntentClassifier:
    """`classifier` with its second opinion: softmax regression on the encoder's `vectors` of the
    utterances of `labels` (the intent of each row)."""
    names = classifier.labels[:-1]
    index = {name: i for i, name in enumerate(names)}
    y = np.array([index[label] for label in labels], np.int64)
    no_sparse = sparse.csr_matrix((len(y), 1), dtype=np.float32)
    w = train_softmax(no_sparse, vectors, y, len(names), c=SECOND_C, max_iter=200)
    return replace(classifier, second=SoftmaxWeights.dense_only(w.dense, w.bias))
