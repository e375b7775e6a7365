"""How the NLU uses its second opinion (parley/nlu/intents.py `rerank`, parley/nlu/model.py), with made-up
probabilities and vectors: no encoder needed."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from parley.nlu.features import Featurizer
from parley.nlu.intents import IntentClassifier
from parley.nlu.linear import SoftmaxWeights
from parley.nlu.model import IntentData, LanguageModel, TrainingSet, predict_elected
from parley.nlu.text import parse_utterance


def _classifier(second_dense: list[list[float]]) -> IntentClassifier:
    """Intents a, b, c and `none`; the second opinion maps a 2-d vector to the three intents."""
    first = SoftmaxWeights(np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32), np.zeros(4, np.float32))
    second = SoftmaxWeights(np.zeros((1, 3), np.float32), np.array(second_dense, np.float32), np.zeros(3, np.float32))
    return IntentClassifier(("a", "b", "c", "none"), Featurizer.fit([("x", ())]), first, 0.3, {}, False, second)


def test_the_second_opinion_reorders_the_intents_and_they_keep_the_first_stages_probabilities() -> None:
    clf = _classifier([[0.0, 5.0, 0.0], [0.0, 0.0, 0.0]])  # the vector (1, 0) says b, strongly
    p, confirmed = clf.rerank([0.5, 0.3, 0.1, 0.1], lambda: np.array([1.0, 0.0], np.float32))
    assert p == [0.3, 0.5, 0.1, 0.1]  # b takes the best probability, a the second; `none` keeps its own
    assert confirmed is None  # the second opinion's best (b) is not the first stage's (a)


def test_the_second_opinion_confirms_the_first_stages_best_intent_when_it_is_sure_of_it() -> None:
    clf = _classifier([[5.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # says a
    assert clf.rerank([0.25, 0.2, 0.15, 0.4], lambda: np.array([1.0, 0.0], np.float32)) == (
        [0.25, 0.2, 0.15, 0.4], None)  # `none` wins: not asked, nothing confirmed
    p, confirmed = clf.rerank([0.25, 0.2, 0.15, 0.1], lambda: np.array([1.0, 0.0], np.float32))
    assert confirmed == 0 and p[0] == 0.25
    p, confirmed = clf.rerank([0.25, 0.2, 0.15, 0.1], lambda: np.array([0.1, 0.0], np.float32))
    assert confirmed is None  # a, but at 0.38 < 0.5: not sure enough


def test_a_confident_first_stage_or_an_outright_none_never_runs_the_encoder() -> None:
    clf = _classifier([[5.0, 0.0, 0.0], [0.0, 0.0, 0.0]])

    def encoder() -> Any:
        raise AssertionError("the encoder was asked")

    assert clf.rerank([0.8, 0.1, 0.05, 0.05], encoder) == ([0.8, 0.1, 0.05, 0.05], None)
    assert clf.rerank([0.0, 0.0, 0.0, 1.0], encoder) == ([0.0, 0.0, 0.0, 1.0], None)


TOPICS = ["weather", "music", "pizza", "flight", "hotel", "taxi", "bank", "alarm", "timer", "news", "sports",
          "movie", "recipe", "translate", "calendar", "email", "shopping", "joke", "traffic", "battery"]


def test_a_confirmed_intent_is_in_scope_in_its_own_contexts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The threshold is waived for the confirmed intent, not for the message: in a context that does not
    hold it, intents under the threshold stay out of scope."""
    monkeypatch.setenv("PARLEY_NLU_ENCODER", "off")
    intents = tuple(IntentData(t, ("global",) if k % 2 == 0 else ("other",),
                               tuple(parse_utterance(s) for s in (f"tell me about {t}", f"I need {t} help",
                                                                  f"what about the {t}", f"{t} please")), ())
                    for k, t in enumerate(TOPICS))
    model = LanguageModel.train(TrainingSet("en", intents, seed=1), None)
    clf = model.classifier
    assert clf is not None
    names = list(clf.labels[:-1])
    model = dataclasses.replace(model, classifier=dataclasses.replace(
        clf, second=SoftmaxWeights(np.zeros((1, len(names)), np.float32), np.zeros((1, len(names)), np.float32),
                                   np.zeros(len(names), np.float32))))
    probabilities = np.zeros(len(clf.labels), np.float32)
    probabilities[names.index("music")] = 0.40  # in "other": the best intent, the one confirmed
    for t in TOPICS[::2]:
        probabilities[names.index(t)] = 0.05  # in "global": ten intents, each under the threshold
    probabilities[-1] = 0.05
    probabilities /= probabilities.sum()
    assert 0.05 / probabilities.sum() < clf.threshold
    monkeypatch.setattr(IntentClassifier, "scores", lambda self, *a: probabilities.tolist())

    for confirmed in (None, names.index("music")):
        monkeypatch.setattr(IntentClassifier, "rerank", lambda self, p, v, c=confirmed: (p, c))
        assert predict_elected(model, "anything", ["global"])[1]["intent"]["name"] == "none"
        assert predict_elected(model, "anything", ["other"])[1]["intent"]["name"] == "music"
