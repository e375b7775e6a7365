"""The embedded NLU end to end: bots written in tmp folders and Botpress's templates, trained for real.

Models are small (a few dozen utterances), so training takes a fraction of a second; the bots are
trained once per module.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from parley.bots.loader import load_bot
from parley.bots.models import Bot
from parley.engine.state import default_nlu
from parley.nlu.model import LanguageModel
from parley.nlu.service import NluService
from tests.conftest import TEMPLATES
from tests.unit.botfactory import Chat, flow, node, say

JSONDict = dict[str, Any]

INTENTS: dict[str, JSONDict] = {
    "order_pizza": {
        "contexts": ["global"],
        "slots": [{"name": "size", "entities": ["size"]}, {"name": "topping", "entities": ["topping"]}],
        "utterances": {
            "en": ["I want a [large](size) pizza", "order a [small](size) [pepperoni](topping) pizza please",
                   "can I get a pizza with [mushrooms](topping)", "I'd like to order a pizza",
                   "one [medium](size) pizza for delivery", "pizza please", "get me a [hawaiian](topping) pizza",
                   "I am hungry, send me a pizza", "I would like a [large](size) [pepperoni](topping)"],
            "fr": ["je veux commander une pizza", "une pizza [moyenne](size) s'il vous plaît",
                   "je voudrais une pizza aux [champignons](topping)", "commander une pizza",
                   "livrez-moi une [grande](size) pizza", "j'ai faim, envoyez-moi une pizza",
                   "une pizza [ananas](topping) svp"],
        },
    },
    "opening_hours": {
        "contexts": ["global"],
        "utterances": {
            "en": ["when are you open", "what are your opening hours", "are you open on sunday",
                   "what time do you close", "until when are you open tonight", "hours of operation",
                   "is the shop open now"],
            "fr": ["quels sont vos horaires", "à quelle heure fermez-vous", "êtes-vous ouverts le dimanche",
                   "quand êtes-vous ouverts", "heures d'ouverture", "le magasin est-il ouvert maintenant"],
        },
    },
    "delivery_status": {
        "contexts": ["order"],
        "slots": [{"name": "order", "entities": ["order_number"]}],
        "utterances": {
            "en": ["where is my order", "how long until my pizza arrives", "is my delivery on the way",
                   "track my order [ORD-1234](order)", "my food has not arrived yet",
                   "status of order [ORD-5678](order)"],
            "fr": ["où est ma commande", "quand ma pizza va-t-elle arriver", "ma livraison est-elle en route",
                   "suivre ma commande [ORD-1234](order)"],
        },
    },
    "contact": {
        "contexts": ["global"],
        "utterances": {
            "en": ["how can I reach you", "what is your phone number", "give me your email address",
                   "I want to talk to someone", "contact information", "can I call you"],
            "fr": ["comment vous joindre", "quel est votre numéro de téléphone", "donnez-moi votre adresse courriel",
                   "je veux parler à quelqu'un", "coordonnées", "puis-je vous appeler"],
        },
    },
}
ENTITIES: dict[str, JSONDict] = {
    "size": {"type": "list", "fuzzy": 0.8, "occurrences": [
        {"name": "small", "synonyms": ["petite", "petit", "tiny"]},
        {"name": "medium", "synonyms": ["moyenne", "regular"]},
        {"name": "large", "synonyms": ["grande", "big", "grand"]}]},
    "topping": {"type": "list", "fuzzy": 0.8, "occurrences": [
        {"name": "pepperoni", "synonyms": ["salami"]},
        {"name": "mushrooms", "synonyms": ["champignons", "mushroom"]},
        {"name": "hawaiian", "synonyms": ["ananas", "pineapple"]}]},
    "order_number": {"type": "pattern", "pattern": "ORD-\\d{4}", "matchCase": False},
}


def write_shop(root: Path, *, config: JSONDict | None = None, name: str = "shop") -> Path:
    folder = root / name
    for sub in ("intents", "entities", "flows"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    cfg = {"id": name, "defaultLanguage": "en", "languages": ["en", "fr"], **(config or {})}
    (folder / "bot.config.json").write_text(json.dumps(cfg))
    main = flow(node("entry", receive=[], next=[("event.nlu.intent.name === 'order_pizza'", "pizza"),
                                                  ("true", "other")]),
                node("pizza", say("Pizza coming: {{event.nlu.slots.size.value}}")),
                node("other", say("Sorry?")))
    (folder / "flows" / "main.flow.json").write_text(json.dumps(main))
    for n, d in INTENTS.items():
        (folder / "intents" / f"{n}.json").write_text(json.dumps({"name": n, "slots": [], **d}))
    for n, d in ENTITIES.items():
        (folder / "entities" / f"{n}.json").write_text(json.dumps({"id": n, "name": n, **d}))
    return folder


def load(folder: Path) -> Bot:
    bot = load_bot(folder)
    assert isinstance(bot, Bot), getattr(bot, "reason", bot)
    return bot


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nlu-cache")


@pytest.fixture(scope="module")
def service(cache: Path) -> NluService:
    return NluService(cache)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, service: NluService) -> Bot:
    bot = load(write_shop(tmp_path_factory.mktemp("shop")))
    asyncio.run(service.train(bot))
    assert service.status()["shop"] == "ready"
    return bot


@pytest.fixture(scope="module")
def small_talk(service: NluService) -> Bot:
    bot = load(TEMPLATES / "small-talk")
    asyncio.run(service.train(bot))
    return bot


@pytest.fixture(scope="module")
def welcome(service: NluService) -> Bot:
    bot = load(TEMPLATES / "welcome-bot")
    asyncio.run(service.train(bot))
    return bot


def event(text: str, contexts: list[str] | None = None, user: JSONDict | None = None) -> JSONDict:
    return {"type": "text", "preview": text, "payload": {"type": "text", "text": text},
            "state": {"user": user or {}}, "nlu": default_nlu(contexts)}


def understand(service: NluService, bot: Bot, text: str, contexts: list[str] | None = None,
               user: JSONDict | None = None) -> JSONDict:
    result = service.understand(bot, event(text, contexts, user))
    assert result is not None
    return result


def intent(service: NluService, bot: Bot, text: str, contexts: list[str] | None = None,
           user: JSONDict | None = None) -> str:
    return str(understand(service, bot, text, contexts, user)["intent"]["name"])


# ------------------------------------------------------------------------------------------- intents


@pytest.mark.parametrize(("text", "expected"), [
    ("I'd love a big pizza", "order_pizza"),
    ("one pizza with salami please", "order_pizza"),
    ("what time do you open tomorrow", "opening_hours"),
    ("could I have your phone number?", "contact"),
    ("what is the capital of france", "none"),
    ("how do I fix my bike", "none"),
])
def test_english_paraphrases_and_unrelated_questions(service: NluService, shop: Bot, text: str, expected: str) -> None:
    assert intent(service, shop, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("je voudrais commander une grande pizza", "order_pizza"),
    ("vous fermez à quelle heure ?", "opening_hours"),
    ("comment puis-je vous contacter", "contact"),
    ("quelle est la capitale de l'espagne", "none"),
])
def test_french_paraphrases_and_unrelated_questions(service: NluService, shop: Bot, text: str, expected: str) -> None:
    result = understand(service, shop, text)
    assert result["intent"]["name"] == expected
    assert result["language"] == "fr"


def test_contexts_restrict_the_candidate_intents(service: NluService, shop: Bot) -> None:
    assert intent(service, shop, "where is my order", ["global"]) != "delivery_status"
    assert intent(service, shop, "where is my order", ["order"]) == "delivery_status"
    # a context that does not exist: Botpress then elects among all contexts
    assert intent(service, shop, "where is my order", ["nowhere"]) in {"delivery_status", "none", "contact"}


def test_slots_from_markup_entities_and_patterns(service: NluService, shop: Bot) -> None:
    result = understand(service, shop, "I want a large pizza with mushroom")
    assert result["intent"]["name"] == "order_pizza"
    assert result["slots"]["size"]["value"] == "large"
    assert result["slots"]["size"]["source"] == "large"
    assert result["slots"]["size"]["entity"]["type"] == "custom.list.size"
    assert result["slots"]["topping"]["value"] == "mushrooms"
    status = understand(service, shop, "any news about ORD-4321?", ["order"])
    assert status["intent"]["name"] == "delivery_status"
    assert status["slots"]["order"]["value"] == "ORD-4321"
    slot = status["slots"]["order"]
    assert set(slot) == {"name", "value", "source", "entity", "confidence", "start", "end"}


def test_result_has_botpress_shape(service: NluService, shop: Bot) -> None:
    result = understand(service, shop, "I'd love a big pizza")
    assert {"intent", "intents", "ambiguous", "entities", "slots", "language", "detectedLanguage", "errored", "ms",
            "modelId", "predictions", "spellChecked"} <= set(result)
    assert "includedContexts" not in result  # the engine keeps the event's own
    assert result["errored"] is False
    assert len(result["intents"]) == 2
    assert abs(sum(i["confidence"] for i in result["intents"]) - 1) < 1e-6
    assert result["intent"] == result["intents"][0]
    assert {i["context"] for i in result["intents"]} == {"global"}
    assert set(result["predictions"]) == {"global", "order"}
    ctx = result["predictions"]["global"]
    assert set(ctx) == {"confidence", "oos", "intents"}
    assert {"label", "confidence", "slots", "extractor"} <= set(ctx["intents"][0])
    assert result["modelId"].endswith(".en") and result["modelId"].count(".") == 3
    entity = result["entities"][0]
    assert entity["name"] == "size" and entity["type"] == "custom.list.size"
    assert set(entity["meta"]) >= {"confidence", "start", "end", "source", "sensitive"}
    assert entity["data"] == {"value": "large", "unit": ""}
    json.dumps(result)  # plain JSON values only


def test_merged_into_the_event_the_result_keeps_botpress_key_order(service: NluService, shop: Bot) -> None:
    """`_.merge` into the event's defaults: their keys first in their order (the intent's too), then the
    rest; `ms` is whole milliseconds (`Date.now() - t0`). parley's ms had decimals and its keys another order."""
    from parley.engine.state import default_nlu
    from parley.engine.turn import merge_nlu

    result = understand(service, shop, "I'd love a big pizza")
    assert isinstance(result["ms"], int)
    merged = merge_nlu(default_nlu(), result)
    assert list(merged) == ["entities", "language", "detectedLanguage", "spellChecked", "ambiguous", "slots", "intent",
                            "intents", "errored", "includedContexts", "ms", "modelId", "predictions"]
    assert list(merged["intent"]) == ["name", "confidence", "context"]
    assert merged["includedContexts"] == ["global"]


def test_language_follows_botpress_order(service: NluService, shop: Bot) -> None:
    assert understand(service, shop, "I would like to order a pizza")["language"] == "en"
    assert understand(service, shop, "je voudrais commander une pizza")["language"] == "fr"
    # too short to tell: the user's language, then the bot's default
    assert understand(service, shop, "pizza", user={"language": "fr"})["language"] == "fr"
    assert understand(service, shop, "pizza")["language"] in {"en", "fr"}
    # languages the bot does not have are never detected
    assert understand(service, shop, "ich möchte eine pizza bestellen")["detectedLanguage"] in {"en", "fr", "n/a"}


def test_exact_training_utterance_is_certain(service: NluService, shop: Bot) -> None:
    result = understand(service, shop, "What are your opening hours")
    assert result["intent"]["name"] == "opening_hours"
    assert result["intent"]["confidence"] == 1.0
    assert result["predictions"]["global"]["intents"][0]["extractor"] == "exact-matcher"


# ------------------------------------------------------------------------------------------- templates


@pytest.mark.parametrize(("text", "qna"), [
    ("hey there", "__qna__rkmsylph53_hello"),
    ("what do you do for fun", "__qna__f2osy09wyi_what_s_your_hobby"),
    ("who built you", "__qna__ewbosxr8fa_who_created_you"),
    ("thanks a lot", "__qna__2wys1802lo_thank_you"),
    ("make me laugh", "__qna__0xbmxyusvu_tell_me_a_joke"),
])
def test_small_talk_qna_intents(service: NluService, small_talk: Bot, text: str, qna: str) -> None:
    assert intent(service, small_talk, text) == qna


@pytest.mark.parametrize("text", ["what is the capital of france", "i need to renew my passport",
                                  "what is the weather tomorrow"])
def test_small_talk_unrelated_questions(service: NluService, small_talk: Bot, text: str) -> None:
    assert intent(service, small_talk, text) == "none"


async def test_small_talk_answers_through_the_engine(service: NluService, small_talk: Bot) -> None:
    chat = Chat(small_talk, understand=service.understand)
    answers = await chat.send("what do you do for fun")
    assert any("counting" in a for a in answers)
    assert chat.last is not None and chat.last.decision["sourceDetails"] == "__qna__f2osy09wyi_what_s_your_hobby"


@pytest.mark.parametrize("text", ["hey there", "hi bot", "hello!", "good morning bot"])
def test_welcome_bot_hello(service: NluService, welcome: Bot, text: str) -> None:
    assert intent(service, welcome, text) == "hello"


def test_welcome_bot_contexts(service: NluService, welcome: Bot) -> None:
    assert intent(service, welcome, "where do they live", ["monkeys"]) == "__qna__pgedex03mc_where_do_monkeys_live"
    assert intent(service, welcome, "where do they live", ["giraffes"]) == "__qna__31oi0r2lvp_where_do_giraffes_live"


async def test_engine_fills_slots_and_follows_the_intent(service: NluService, shop: Bot) -> None:
    chat = Chat(shop, understand=service.understand)
    await chat.send("hi")
    assert await chat.send("I want a big pizza please") == ["Pizza coming: large"]
    assert chat.session["slots"]["size"]["value"] == "large"


# ------------------------------------------------------------------------------------------- service


def test_same_data_is_not_trained_again(cache: Path, shop: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> LanguageModel:
        raise AssertionError("retrained although the model is in the cache")

    monkeypatch.setattr(LanguageModel, "train", refuse)
    fresh = NluService(cache)  # a restart: nothing in memory, the models are on disk
    asyncio.run(fresh.train(shop))
    assert fresh.status()["shop"] == "ready"
    assert intent(fresh, shop, "I'd love a big pizza") == "order_pizza"


def test_switches_turn_the_nlu_off(tmp_path: Path, cache: Path, shop: Bot) -> None:
    off = NluService(cache, enabled=False)
    asyncio.run(off.train(shop))
    assert off.understand(shop, event("I want a pizza")) is None
    bot = load(write_shop(tmp_path, config={"nlu": {"enabled": False}}, name="quiet"))
    on = NluService(cache)
    asyncio.run(on.train(bot))
    assert on.status()["quiet"] == "disabled"
    assert on.understand(bot, event("I want a pizza")) is None


def test_no_model_yet_means_no_understanding(cache: Path, shop: Bot) -> None:
    assert NluService(cache).understand(shop, event("I want a pizza")) is None


def test_sensitive_entities_are_neither_flagged_nor_masked_as_in_botpress_12_31(tmp_path: Path, cache: Path) -> None:
    """Botpress 12.31's NLU module maps every predicted entity with `sensitive: false` (its NLU server is
    never told which are), so its masking of the text never runs; parley masked it (SPEC 3.4 step 5)."""
    folder = write_shop(tmp_path, name="secret")
    (folder / "entities" / "card.json").write_text(json.dumps(
        {"id": "card", "name": "card", "type": "pattern", "pattern": "\\d{4}-\\d{4}", "sensitive": True}))
    bot = load(folder)
    svc = NluService(cache)
    asyncio.run(svc.train(bot))
    ev = event("my card is 1234-5678")
    result = svc.understand(bot, ev)
    assert result is not None
    card = next(e for e in result["entities"] if e["name"] == "card")
    assert card["meta"]["sensitive"] is False
    assert card["data"]["value"] == "1234-5678"
    assert ev["payload"]["text"] == "my card is 1234-5678"
