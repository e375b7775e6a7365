"""One NLU model per bot and language: training data, training, prediction, and its files on disk.

A model's id is derived from its training data, as Botpress's is: `<content>.<spec>.<seed>.<lang>`,
where `content` hashes the intents and entities of that language and `spec` the NLU version and the
embedding table. The same data always gives the same id, so a model found on disk is reused instead
of retrained, also after a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from parley.bots.models import Bot
from parley.nlu.election import elect
from parley.nlu.embeddings import F32, Embedder
from parley.nlu.encoder import SentenceEncoder, load_encoder
from parley.nlu.encoder import identity as encoder_identity
from parley.nlu.entities import Found
from parley.nlu.entities.lists import ListEntity, extract_list
from parley.nlu.entities.patterns import PatternEntity, extract_pattern
from parley.nlu.entities.system import extract_system
from parley.nlu.features import Block, Featurizer, words_of
from parley.nlu.intents import (
    SECOND_MIN_INTENTS,
    IntentClassifier,
    Sample,
    second_sample,
    train_intents,
    train_second,
)
from parley.nlu.intents import SPEC as INTENT_SPEC
from parley.nlu.linear import SoftmaxWeights
from parley.nlu.slots import SlotDefinition, SlotTagger, slot_definitions
from parley.nlu.spelling import SpellChecker
from parley.nlu.text import Token, Utterance, fold, normalize, parse_utterance, tokenize

log = logging.getLogger("parley.nlu")

# 2: system entities read as Duckling does (the slot taggers learn from them); 3: Botpress's slot tags (`/any`);
# 4: no word feature where an entity covers the word
NLU_VERSION = "parley-nlu-4"
# WordLlama's table was trained on English sentence pairs: it lifts English intents by several points
# and lowers French ones (measured on bitfan bpds A), so other languages use TF-IDF features only.
EMBEDDING_LANGUAGES = frozenset({"en"})


def embedder_for(language: str, embedder: Embedder | None) -> Embedder | None:
    return embedder if language in EMBEDDING_LANGUAGES else None
QNA_PREFIX = "__qna__"
JSONDict = dict[str, Any]


# ------------------------------------------------------------------------------------ training data


@dataclass(frozen=True)
class IntentData:
    name: str
    contexts: tuple[str, ...]
    utterances: tuple[Utterance, ...]
    slots: tuple[SlotDefinition, ...]


@dataclass(frozen=True)
class TrainingSet:
    """What the model of one language learns from."""

    language: str
    intents: tuple[IntentData, ...]
    lists: tuple[ListEntity, ...] = ()
    patterns: tuple[PatternEntity, ...] = ()
    seed: int = 0
    oos: tuple[str, ...] = ()  # known out-of-scope utterances (evaluation datasets may have some)

    @property
    def contexts(self) -> tuple[str, ...]:
        return tuple(sorted({c for i in self.intents for c in i.contexts})) or ("global",)

    def content_hash(self) -> str:
        content = {
            "intents": [
                {"name": i.name, "contexts": sorted(i.contexts), "slots": [[s.name, list(s.entities)] for s in i.slots],
                 "utterances": [[u.text, [[s.name, s.start, s.end] for s in u.slots]] for u in i.utterances]}
                for i in sorted(self.intents, key=lambda i: i.name)
            ],
            "lists": [[e.name, e.fuzzy, e.sensitive, [[c, list(f)] for c, f in e.values]] for e in self.lists],
            "patterns": [[e.name, e.pattern, e.match_case, e.sensitive] for e in self.patterns],
            "oos": list(self.oos),
        }
        raw = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.md5(raw).hexdigest()[:16]

    def model_id(self, embedder: Embedder | None, *, encoder_failed: bool = False) -> str:
        """Names the trained model: the training data, the NLU's settings, the sentence vectors' table
        and, for bots big enough to get a second opinion, its encoder (or that it failed: such a model
        is not taken for one trained with it once the encoder works)."""
        embedder = embedder_for(self.language, embedder)
        many = sum(1 for i in self.intents if i.utterances) >= SECOND_MIN_INTENTS
        encoder = encoder_identity(self.language) if many and not encoder_failed else "no-encoder"
        spec = json.dumps([NLU_VERSION, INTENT_SPEC, embedder.identity if embedder is not None else "no-embeddings",
                           encoder], sort_keys=True)
        spec_hash = hashlib.md5(spec.encode()).hexdigest()[:16]
        return f"{self.content_hash()}.{spec_hash}.{self.seed}.{self.language}"


def bot_seed(bot: Bot) -> int:
    seed = bot.config.get("nluSeed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    return int(hashlib.md5(bot.id.encode()).hexdigest()[:6], 16) % 100_000


def bot_entities(bot: Bot) -> tuple[tuple[ListEntity, ...], tuple[PatternEntity, ...]]:
    lists: list[ListEntity] = []
    patterns: list[PatternEntity] = []
    for name, entity in sorted(bot.entities.items()):
        if entity.type == "list":
            lists.append(ListEntity.from_definition(name, entity.raw))
        elif entity.type == "pattern":
            try:
                patterns.append(PatternEntity.from_definition(name, entity.raw))
            except ValueError as exc:
                log.warning("bot %s: entity %s ignored: %s", bot.id, name, exc)
    return tuple(lists), tuple(patterns)


def training_sets(bot: Bot) -> dict[str, TrainingSet]:
    """One training set per bot language: intent files, plus QnAs whose intent file is missing."""
    raw: list[tuple[str, tuple[str, ...], Mapping[str, Sequence[str]], tuple[SlotDefinition, ...]]] = []
    for name, intent in sorted(bot.intents.items()):
        raw.append((name, intent.contexts, intent.utterances, slot_definitions(intent.slots)))
    for qid, item in sorted(bot.qna.items()):
        name = QNA_PREFIX + qid
        if name not in bot.intents and item.enabled:
            raw.append((name, item.contexts, item.questions, ()))
    lists, patterns = bot_entities(bot)
    seed = bot_seed(bot)
    out: dict[str, TrainingSet] = {}
    for lang in bot.config.languages:
        intents = tuple(
            IntentData(name, contexts or ("global",),
                       tuple(u for u in (parse_utterance(t) for t in utterances.get(lang, ())) if u.text), slots)
            for name, contexts, utterances, slots in raw
        )
        out[lang] = TrainingSet(lang, intents, lists, patterns, seed)
    return out


# ------------------------------------------------------------------------------------ the model


def custom_entities(text: str, lists: Sequence[ListEntity], patterns: Sequence[PatternEntity]) -> list[Found]:
    found: list[Found] = []
    if lists:
        tokens = tokenize(text)
        for e in lists:
            found += extract_list(text, e, tokens)
    for p in patterns:
        found += extract_pattern(text, p)
    return found


def markers(found: Sequence[Found]) -> tuple[str, ...]:
    return tuple(sorted({f"__ent_{f.name}" for f in found if not f.entity_id.startswith("system.")}))


_FIRST = itemgetter(0)
# `y + _ROUND - _ROUND` is `round(y)` (to the nearest integer, ties to even) for 0 <= y < 2**51, as a float,
# in two additions instead of a call (a bot's confidences: a dozen a message)
_ROUND = 1.5 * 2.0**52


class _Members(NamedTuple):
    """A context's intents, for `LanguageModel._contexts`."""

    context: str
    names: list[str]
    indices: frozenset[int]  # in the classifier's labels
    pick: Callable[[list[float]], Sequence[float]]  # their probabilities, from a list over the labels


@dataclass
class LanguageModel:
    id: str
    language: str
    contexts: tuple[str, ...]
    intent_contexts: dict[str, tuple[str, ...]]  # intents that have utterances -> their contexts
    lists: tuple[ListEntity, ...]
    patterns: tuple[PatternEntity, ...]
    classifier: IntentClassifier | None
    taggers: dict[str, SlotTagger]
    vocabulary: frozenset[str]
    embedder: Embedder | None = field(default=None, repr=False)
    # the second opinion's encoder, for a model that has one (loaded with the model, off the event loop)
    encoder: SentenceEncoder | None = field(default=None, repr=False)
    _members_cache: list[_Members] | None = field(default=None, repr=False)
    _speller: SpellChecker | None = field(default=None, repr=False)

    def speller(self) -> SpellChecker:
        """The spell checker over the words this model learnt (and its list entities' values)."""
        if self._speller is None:
            words = set(self.vocabulary)
            for e in self.lists:
                for canonical, synonyms in e.values:
                    for value in (canonical, *synonyms):
                        words.update(words_of(fold(value)))
            self._speller = SpellChecker(words)
        return self._speller

    # -------------------------------------------------------------------------------- training

    @classmethod
    def train(cls, data: TrainingSet, embedder: Embedder | None) -> LanguageModel:
        embedder = embedder_for(data.language, embedder)
        samples: list[Sample] = []
        raw: list[str] = []
        vocabulary: set[str] = set()
        for intent in data.intents:
            for u in intent.utterances:
                found = custom_entities(u.text, data.lists, data.patterns)
                samples.append((normalize(u.text), markers(found), intent.name))
                raw.append(u.text)
                vocabulary.update(words_of(fold(u.text)))
        labels = [label for _, _, label in samples]
        rows = second_sample(labels, data.seed)
        encoder = load_encoder(data.language) if rows else None
        with ThreadPoolExecutor(1) as pool:
            # the second opinion's sentences are encoded while the first stage trains: both are mostly
            # BLAS, which runs without the GIL, and neither keeps two cores busy all the time alone
            vectors = pool.submit(encoder.encode, [raw[i] for i in rows]) if encoder is not None else None
            classifier = train_intents(samples, embedder=embedder, seed=data.seed, language=data.language,
                                       oos=[normalize(t) for t in data.oos])
            if classifier is not None and vectors is not None:
                try:
                    encoded = vectors.result()
                except Exception as exc:  # the first stage alone, as without the encoder
                    log.warning("the sentence encoder failed (%s): no second opinion for this model", exc)
                else:
                    classifier = train_second(classifier, encoded, [labels[i] for i in rows])
        taggers: dict[str, SlotTagger] = {}
        for intent in data.intents:
            if intent.slots and intent.utterances:
                examples = [(u, _all_entities(u.text, data.lists, data.patterns, data.language))
                            for u in intent.utterances]
                taggers[intent.name] = SlotTagger.train(intent.slots, examples, data.seed)
        failed = encoder_identity(data.language) != "no-encoder" and bool(rows) and (
            classifier is not None and classifier.second is None)
        return cls(
            id=data.model_id(embedder, encoder_failed=failed),
            language=data.language,
            contexts=data.contexts,
            intent_contexts={i.name: i.contexts for i in data.intents if i.utterances},
            lists=data.lists,
            patterns=data.patterns,
            classifier=classifier,
            taggers=taggers,
            vocabulary=frozenset(vocabulary),
            embedder=embedder,
            encoder=encoder if classifier is not None and classifier.second is not None else None,
        )

    # -------------------------------------------------------------------------------- prediction

    def entities(self, text: str, now: datetime | None = None) -> list[Found]:
        found = custom_entities(text, self.lists, self.patterns)
        found += extract_system(text, self.language, now)
        return sorted(found, key=lambda f: (f.start, -f.end))

    def predict(self, text: str, *, now: datetime | None = None) -> JSONDict:
        """Botpress's NLU output for one language: `predictions` per context and `entities`."""
        found = self.entities(text, now)
        predictions = self._contexts(text, found)
        tokens: list[Token] | None = None
        for ctx in predictions.values():
            if ctx["intents"]:
                top = ctx["intents"][0]
                tagger = self.taggers.get(top["label"])
                if tagger is not None:
                    tokens = tokenize(text) if tokens is None else tokens
                    top["slots"] = tagger.extract(text, tokens, found)
        return {"predictions": predictions, "entities": [f.to_botpress() for f in found]}

    def _members(self) -> list[_Members]:
        """Per context: its intents' names, their indices in the classifier's labels, and a function
        picking their probabilities out of a list over the labels (cached)."""
        cached = self._members_cache
        if cached is None:
            assert self.classifier is not None
            index = {label: i for i, label in enumerate(self.classifier.labels)}
            cached = []
            for c in self.contexts:
                names = [n for n, ctxs in self.intent_contexts.items() if c in ctxs and n in index]
                indices = [index[n] for n in names]
                pick: Callable[[list[float]], Sequence[float]]
                if len(indices) > 1:
                    pick = itemgetter(*indices)
                else:  # a slice: `itemgetter` of one index gives the item itself, not a sequence of it
                    first = indices[0] if indices else 0
                    pick = itemgetter(slice(first, first + len(indices)))
                cached.append(_Members(c, names, frozenset(indices), pick))
            self._members_cache = cached
        return cached

    def _contexts(self, text: str, found: Sequence[Found]) -> JSONDict:
        """Per context: its confidence, its out-of-scope score and its intents, best first.

        Plain Python floats from here on: a bot has a handful of contexts and intents, and NumPy's
        per-call cost on arrays that small is many times the arithmetic. Confidences are rounded to
        six decimals as Botpress shows them: `round(x * 1e6) / 1e6` (a tenth of `round(x, 6)`'s cost,
        which formats the number as decimal text; they differ only within a rounding error of a tie),
        written with `_ROUND`."""
        clf = self.classifier
        if clf is None:  # no utterance in this language: Botpress's NLU answers `none` in every context, as
            # an intent too (the election then weighs it against the out-of-scope `none`: 0.5 each, ambiguous)
            none = [{"label": "none", "confidence": 1.0, "slots": {}}]
            return {c: {"confidence": 1.0 / len(self.contexts), "oos": 1.0, "intents": none} for c in self.contexts}
        normalized = normalize(text)
        vector = self.embedder.encode_one(text) if self.embedder is not None and clf.uses_embeddings else None
        p = clf.scores(normalized, markers(found), vector)
        confirmed = None
        if clf.second is not None:
            p, confirmed = clf.rerank(p, lambda: self._encoded(text))
        p_none = p[-1]
        # Botpress's exact matcher: a message equal to a training utterance is that intent, with
        # confidence 1, in the contexts of that intent (the others keep the classifier's view)
        exact = clf.exact_match(normalized)
        exact_contexts = frozenset(self.intent_contexts.get(exact, ())) if exact is not None else frozenset()
        members = self._members()
        picked = [m.pick(p) for m in members]
        masses = list(map(sum, picked))
        total_mass = sum(masses)
        out: JSONDict = {}
        for m, q, mass in zip(members, picked, masses, strict=True):
            c, names = m.context, m.names
            if c in exact_contexts:
                out[c] = {"confidence": 1.0, "oos": 0.0, "intents": [
                    {"label": n, "confidence": 1.0 if n == exact else 0.0, "slots": {},
                     "extractor": "exact-matcher" if n == exact else "classifier"}
                    for n in sorted(names, key=lambda n: n != exact)]}
                continue
            if not names:
                out[c] = {"confidence": 0.0, "oos": 1.0, "intents": []}
                continue
            # waived where the second opinion confirmed the best intent: in the contexts holding it
            threshold = 0.0 if confirmed is not None and confirmed in m.indices else clf.threshold
            # the context's intents and `none`, rescaled to sum to 1 (nothing to rescale: all out of scope)
            denom = mass + p_none
            if denom > 0:
                share, q_none = mass / denom, p_none / denom
            else:  # each intent 0, all out of scope
                share, q_none, denom = 0.0, 1.0, math.inf
            # out of scope: the `none` class, or every intent under the calibrated threshold
            oos = max(q_none, threshold)
            norm = share + oos
            # best first; stable: ties keep the file order (and one intent, many a context's, needs no sort)
            ranked = (zip(q, names, strict=True) if len(names) == 1
                      else sorted(zip(q, names, strict=True), key=_FIRST, reverse=True))
            out[c] = {
                "confidence": ((mass / total_mass * 1e6 + _ROUND - _ROUND) / 1e6 if total_mass > 0
                               else 1.0 / len(self.contexts)) if not exact_contexts else 0.0,
                "oos": (oos / norm * 1e6 + _ROUND - _ROUND) / 1e6,
                "intents": [{"label": n, "confidence": (x / denom / norm * 1e6 + _ROUND - _ROUND) / 1e6, "slots": {},
                             "extractor": "classifier"} for x, n in ranked],
            }
        return out

    def _encoded(self, text: str) -> F32 | None:
        return self.encoder.encode_one(text) if self.encoder is not None else None

    # -------------------------------------------------------------------------------- files

    def save(self, root: Path) -> Path:
        """Write the model under `root/<id>/` atomically (a temporary folder renamed into place)."""
        final = root / self.id
        if final.is_dir():
            return final
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        try:
            meta: JSONDict = {
                "version": NLU_VERSION,
                "id": self.id,
                "language": self.language,
                "contexts": list(self.contexts),
                "intentContexts": {k: list(v) for k, v in self.intent_contexts.items()},
                "lists": [{"name": e.name, "fuzzy": e.fuzzy, "sensitive": e.sensitive,
                           "values": [[c, list(f)] for c, f in e.values]} for e in self.lists],
                "patterns": [{"name": e.name, "pattern": e.pattern, "matchCase": e.match_case,
                              "sensitive": e.sensitive} for e in self.patterns],
                "vocabulary": sorted(self.vocabulary),
                "slots": {},
            }
            arrays: dict[str, Any] = {}
            clf = self.classifier
            if clf is not None:
                meta["classifier"] = {
                    "labels": list(clf.labels),
                    "threshold": clf.threshold,
                    "exact": clf.exact,
                    "usesEmbeddings": clf.uses_embeddings,
                    "words": sorted(clf.featurizer.words.vocab, key=clf.featurizer.words.vocab.__getitem__),
                    "chars": sorted(clf.featurizer.chars.vocab, key=clf.featurizer.chars.vocab.__getitem__),
                }
                arrays = {
                    "word_idf": clf.featurizer.words.idf, "char_idf": clf.featurizer.chars.idf,
                    "w_sparse": clf.weights.sparse, "w_dense": clf.weights.dense, "bias": clf.weights.bias,
                }
                if clf.second is not None:
                    arrays |= {"second_dense": clf.second.dense, "second_bias": clf.second.bias}
            for i, (intent, tagger) in enumerate(sorted(self.taggers.items())):
                entry: JSONDict = {"definitions": [[d.name, list(d.entities)] for d in tagger.definitions]}
                if tagger.model is not None:
                    entry["file"] = f"slots-{i}.crfsuite"
                    (tmp / entry["file"]).write_bytes(tagger.model)
                meta["slots"][intent] = entry
            (tmp / "model.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            np.savez(str(tmp / "arrays.npz"), **arrays)
            try:
                os.replace(tmp, final)
            except OSError:  # another process saved the same model meanwhile
                if not final.is_dir():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    @classmethod
    def load(cls, folder: Path, embedder: Embedder | None) -> LanguageModel:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        embedder = embedder_for(str(meta.get("language")), embedder)
        if meta.get("version") != NLU_VERSION:
            raise ValueError(f"model {folder.name} was written by {meta.get('version')}")
        classifier = None
        second = None
        if "classifier" in meta:
            c = meta["classifier"]
            with np.load(folder / "arrays.npz") as arrays:
                featurizer = Featurizer(
                    Block({g: i for i, g in enumerate(c["words"])}, arrays["word_idf"]),
                    Block({g: i for i, g in enumerate(c["chars"])}, arrays["char_idf"]),
                )
                weights = SoftmaxWeights(arrays["w_sparse"], arrays["w_dense"], arrays["bias"])
                if "second_dense" in arrays:
                    second = SoftmaxWeights.dense_only(arrays["second_dense"], arrays["second_bias"])
            uses = bool(c["usesEmbeddings"]) and embedder is not None
            classifier = IntentClassifier(tuple(c["labels"]), featurizer, weights, float(c["threshold"]),
                                          dict(c["exact"]), uses, second)
        taggers = {}
        for intent, entry in meta.get("slots", {}).items():
            defs = tuple(SlotDefinition(n, tuple(e)) for n, e in entry["definitions"])
            model = (folder / entry["file"]).read_bytes() if "file" in entry else None
            taggers[intent] = SlotTagger(defs, model)
        lists = tuple(ListEntity(e["name"], tuple((c, tuple(f)) for c, f in e["values"]), e["fuzzy"], e["sensitive"])
                      for e in meta["lists"])
        patterns = tuple(PatternEntity.from_definition(e["name"], {"pattern": e["pattern"], "matchCase": e["matchCase"],
                                                                   "sensitive": e["sensitive"]})
                         for e in meta["patterns"])
        return cls(
            id=meta["id"],
            language=meta["language"],
            contexts=tuple(meta["contexts"]),
            intent_contexts={k: tuple(v) for k, v in meta["intentContexts"].items()},
            lists=lists,
            patterns=patterns,
            classifier=classifier,
            taggers=taggers,
            vocabulary=frozenset(meta["vocabulary"]),
            embedder=embedder,
            encoder=load_encoder(meta["language"]) if second is not None else None,
        )


def _all_entities(text: str, lists: Sequence[ListEntity], patterns: Sequence[PatternEntity], lang: str) -> list[Found]:
    return [*custom_entities(text, lists, patterns), *extract_system(text, lang)]


# a corrected text must beat what the user wrote by this much: a "correction" of a word the bot
# never learnt, in a message it does not handle, easily lands on some intent (out-of-scope recall)
SPELLING_MARGIN = 0.1


def predict_elected(model: LanguageModel, text: str, included: Sequence[str],
                    now: datetime | None = None) -> tuple[str, JSONDict]:
    """Predict and elect (SPEC §3.4 steps 1–3), with Botpress's spell check: when correcting the words
    the model never saw changes the text, predict that too and keep the better result (the more
    confident elected intent; `none` counts as no confidence). Returns (spell-checked text, result)."""
    output = model.predict(text, now=now)
    result = {**output, **elect(output["predictions"], included)}
    spans = [(int(e["meta"]["start"]), int(e["meta"]["end"])) for e in result["entities"]]
    checked = model.speller().correct(text, spans)
    if checked == text:
        return text, result
    output = model.predict(checked, now=now)
    other = {**output, **elect(output["predictions"], included)}
    if _strength(other) <= _strength(result) + SPELLING_MARGIN:
        return checked, result
    # the entities keep their places in what the user wrote; their
    # spans were not corrected, so the same entities were found either way
    other["entities"] = result["entities"]
    return checked, other


def _strength(result: JSONDict) -> float:
    intent = result.get("intent") or {}
    return 0.0 if intent.get("name") == "none" else float(intent.get("confidence") or 0.0)
