"""The NLU's small pieces: slot markup, election and ambiguity, language detection, the linear model."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from parley.nlu.election import elect, is_ambiguous
from parley.nlu.language import detect_language
from parley.nlu.linear import train_softmax
from parley.nlu.model import IntentData, LanguageModel, TrainingSet, predict_elected
from parley.nlu.slots import slot_definitions
from parley.nlu.text import SlotSpan, parse_utterance, tokenize


def test_slot_markup_is_removed_and_located() -> None:
    u = parse_utterance("  fly from [Montréal](from_city) to [New York](to_city) ")
    assert u.text == "fly from Montréal to New York"
    assert u.slots == (SlotSpan("from_city", 9, 17, "Montréal"), SlotSpan("to_city", 21, 29, "New York"))
    assert u.text[9:17] == "Montréal"
    assert parse_utterance("no markup [here]").slots == ()


def test_tokens_keep_offsets() -> None:
    assert [(t.text, t.start, t.end) for t in tokenize("Hi, bot!")] == [
        ("Hi", 0, 2), (",", 2, 3), ("bot", 4, 7), ("!", 7, 8)]


def ctx(confidence: float, oos: float, *intents: tuple[str, float]) -> dict[str, object]:
    return {"confidence": confidence, "oos": oos,
            "intents": [{"label": n, "confidence": c, "slots": {}, "extractor": "classifier"} for n, c in intents]}


def test_natural_election_takes_the_top_two_and_rescales() -> None:
    result = elect({"global": ctx(1.0, 0.1, ("hello", 0.6), ("bye", 0.3))}, ["global"])
    assert [i["name"] for i in result["intents"]] == ["hello", "bye"]
    assert abs(result["intents"][0]["confidence"] - 2 / 3) < 1e-9
    assert result["intent"] == {"name": "hello", "context": "global", "confidence": result["intents"][0]["confidence"]}
    assert result["ambiguous"] is False
    assert result["slots"] == {}


def test_none_carries_the_out_of_scope_score() -> None:
    result = elect({"global": ctx(1.0, 0.7, ("hello", 0.2), ("bye", 0.1))}, ["global"])
    assert [i["name"] for i in result["intents"]] == ["none", "hello"]
    assert abs(result["intents"][0]["confidence"] - 0.7 / 0.9) < 1e-9


def test_election_picks_the_most_confident_included_context() -> None:
    predictions = {"global": ctx(0.8, 0.1, ("hello", 0.9)), "shop": ctx(0.2, 0.1, ("buy", 0.9))}
    assert elect(predictions, ["global"])["intent"]["name"] == "hello"
    assert elect(predictions, ["shop"])["intent"]["name"] == "buy"
    assert elect(predictions, ["global", "shop"])["intent"]["context"] == "global"
    assert elect(predictions, ["unknown"])["intent"]["name"] == "hello"  # no included context exists: all
    assert elect({}, ["global"])["intent"]["name"] == "none"


def test_ambiguity_rule() -> None:
    assert is_ambiguous([{"name": "a", "confidence": 0.55}, {"name": "b", "confidence": 0.45}])
    assert not is_ambiguous([{"name": "a", "confidence": 0.75}, {"name": "b", "confidence": 0.25}])
    assert not is_ambiguous([{"name": "a", "confidence": 1.0}])
    # the range's upper end is excluded, as lodash's inRange excludes it: 0.6 / 0.4 is not ambiguous
    assert not is_ambiguous([{"name": "a", "confidence": 0.6}, {"name": "b", "confidence": 0.4}])
    result = elect({"global": ctx(1.0, 0.0, ("a", 0.5), ("b", 0.45))}, ["global"])
    assert result["ambiguous"] is True


def test_language_detection_is_restricted_to_the_bot_languages() -> None:
    vocab = {"en": frozenset({"hello", "pizza", "order"}), "fr": frozenset({"bonjour", "pizza", "commander"})}
    assert detect_language("I would like to order a pizza", ["en", "fr"], vocab) == "en"
    assert detect_language("je voudrais commander une pizza", ["en", "fr"], vocab) == "fr"
    assert detect_language("ich möchte eine Pizza bestellen", ["en", "fr"], vocab) in {"en", "fr", None}
    assert detect_language("pizza", ["en", "fr"], vocab) is None  # unsure: the caller falls back
    assert detect_language("je voudrais commander une pizza", ["en"], vocab) == "en"  # one language: that one


def test_softmax_regression_learns_a_separable_problem() -> None:
    rng = np.random.default_rng(0)
    xd = rng.normal(size=(300, 4)).astype(np.float32)
    y = (xd[:, 0] > 0).astype(np.int64) + 2 * (xd[:, 1] > 0).astype(np.int64)
    xs = sparse.csr_matrix(np.eye(300, 10, dtype=np.float32))
    w = train_softmax(xs, xd, y, 4, c=100.0)
    pred = (xs @ w.sparse + xd @ w.dense + w.bias).argmax(axis=1)
    assert (pred == y).mean() > 0.95


def _slot_model(intent: str, utterances: list[str], slots: list[dict[str, object]]) -> LanguageModel:
    data = TrainingSet("en", (IntentData(intent, ("global",), tuple(parse_utterance(u) for u in utterances),
                                         slot_definitions(slots)),), seed=1)
    return LanguageModel.train(data, None)


def _slots(model: LanguageModel, text: str) -> dict[str, Any]:
    slots: dict[str, Any] = model.predict(text)["predictions"]["global"]["intents"][0]["slots"]
    return slots


def test_a_tagged_slot_needs_no_entity_of_its_type() -> None:
    """As Botpress: what the tagger marks is a slot, its text the value, when no entity of the slot's
    types holds it (here the slot is typed `city` and flight numbers are no city). It was dropped."""
    model = _slot_model("flight_status", [
        "info about [AB123](flight) please", "what is the status of [KL456](flight)", "is [ZQ889](flight) late",
        "tell me about flight [TK89](flight)", "where is [AF1234](flight) now", "any news on [LH400](flight)",
    ], [{"name": "flight", "entities": ["city"]}])
    slot = _slots(model, "info about ZX999 please")["flight"]
    assert (slot["source"], slot["value"], slot["entity"]) == ("ZX999", "ZX999", None)
    assert (slot["start"], slot["end"]) == (11, 16)


def test_a_slot_keeps_the_tagged_text_and_takes_the_value_of_the_entity_holding_it() -> None:
    """As Botpress: the slot's span is what was tagged ("of june"), its value that of the time entity
    holding it ("the 3rd of june"). The slot used to take the entity's span."""
    model = _slot_model("book", ["book me for [june 3](when)", "I'd like [may 8](when) please", "book [march 9](when)",
                                 "can I come [july 14](when)", "reserve [august 2](when) for me"],
                        [{"name": "when", "entities": ["time"]}])
    text = "book me for the 3rd of june"
    slot = _slots(model, text)["when"]
    entity = slot["entity"]
    assert entity["meta"]["source"] == "the 3rd of june" and slot["value"] == entity["data"]["value"]
    assert slot["source"] == text[slot["start"]:slot["end"]] == "of june"


def test_a_message_sharing_nothing_with_the_bot_is_out_of_scope() -> None:
    """No word, character run or entity the bot ever saw: the scores were the classifier's biases alone,
    and a bot of two QnAs answered "hello" or "zzzz qqq" with one of them (a published Arabic bot)."""
    data = TrainingSet("ar", (
        IntentData("__qna__sad", ("global",), tuple(parse_utterance(u) for u in ("أنا حزين", "أشعر بالحزن")), ()),
        IntentData("__qna__happy", ("global",), tuple(parse_utterance(u) for u in ("أنا سعيد", "أشعر بالسعادة")), ()),
    ), seed=1)
    model = LanguageModel.train(data, None)
    for text in ("hello", "zzzz qqq", "2"):
        result = predict_elected(model, text, ["global"])[1]
        assert result["intent"]["name"] == "none" and result["intent"]["confidence"] == 1.0, text
    assert predict_elected(model, "أنا حزين جدا", ["global"])[1]["intent"]["name"] == "__qna__sad"


def test_a_tie_between_included_contexts_goes_to_the_first_prediction_not_the_first_requested() -> None:
    """lodash's maxBy over the predictions (ordered by the NLU) keeps the first of equal contexts; parley
    took the first of the request's `includedContexts`."""
    predictions = {"a": ctx(1.0, 0.0, ("order", 0.9)), "b": ctx(1.0, 0.0, ("cancel", 0.9))}
    assert elect(predictions, ["b", "a"])["intent"]["context"] == "a"
    assert elect(predictions, ["b"])["intent"]["context"] == "b"


def test_a_language_without_utterances_answers_none_twice_and_ambiguous() -> None:
    """Botpress's NLU answers `none` as an intent when a language has no utterance; the election weighs it
    against the out-of-scope `none`: 0.5 each, ambiguous. parley answered one `none` at 1."""
    model = LanguageModel.train(TrainingSet("fr", ()), None)
    result = predict_elected(model, "annuler ma commande", ["global"])[1]
    assert [(i["name"], i["confidence"]) for i in result["intents"]] == [("none", 0.5), ("none", 0.5)]
    assert result["ambiguous"] is True


def test_one_message_gets_the_features_training_gave_the_same_text() -> None:
    """A message's features, built one at a time when predicting, are the row the training matrix has
    for the same text: a word or character run seen twice counts 1 + ln 2, each block has unit length,
    entity markers count as words. A prediction on other numbers than the model learnt on is wrong."""
    from parley.nlu.features import Featurizer

    docs = [("book a flight to paris", ()), ("cancel my flight", ()), ("bye bye bye", ()),
            ("i want a pizza at noon", ("__ent_time",)), ("banana banana split", ())]
    featurizer = Featurizer.fit(docs)
    messages = [*docs, ("a flight a flight to to paris", ()), ("nana ban annan", ("__ent_time", "__ent_time")),
                ("zzz qqq", ()), ("", ())]
    matrix = featurizer.matrix(messages).toarray()
    for (text, extra), expected in zip(messages, matrix, strict=True):
        idx, vals = featurizer.row(text, extra)
        got = np.zeros(featurizer.size, np.float32)
        np.add.at(got, idx, vals)
        assert len(set(idx)) == len(idx), text  # each feature once
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=text)


def test_prediction_confidences_are_rounded_to_six_decimals_and_ranked() -> None:
    """As Botpress shows them: each context's confidence, out-of-scope score and intents' confidences
    rounded to six decimals (the nearest such number), the intents best first."""
    intents = (IntentData("book", ("global", "travel"), tuple(parse_utterance(u) for u in (
                   "book a flight", "i need a plane ticket", "reserve a seat to paris")), ()),
               IntentData("cancel", ("global", "travel"), tuple(parse_utterance(u) for u in (
                   "cancel my booking", "i want to cancel the flight", "drop my reservation")), ()),
               IntentData("hello", ("global",), tuple(parse_utterance(u) for u in ("hi", "hello there", "hey")), ()))
    model = LanguageModel.train(TrainingSet("en", intents, seed=1), None)
    seen = 0
    for text in ("book me a flight please", "cancel it", "hey you", "what about a seat", "flight"):
        for context in model.predict(text)["predictions"].values():
            values = [context["confidence"], context["oos"], *(i["confidence"] for i in context["intents"])]
            for v in values:
                assert v == round(v, 6) and 0.0 <= v <= 1.0, (text, v)
            seen += sum(0.0 < v < 1.0 for v in values)
            confidences = [i["confidence"] for i in context["intents"]]
            assert confidences == sorted(confidences, reverse=True), text
    assert seen > 10  # the check saw real fractions, not only 0 and 1
