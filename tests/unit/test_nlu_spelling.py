"""Botpress's spell check (SPEC §3.4 step 2): unknown words are corrected towards the bot's vocabulary,
the message is predicted again, and the better result is kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from parley.bots.loader import load_bot
from parley.bots.models import Bot
from parley.engine.state import default_nlu
from parley.nlu.service import NluService
from parley.nlu.spelling import SpellChecker
from tests.conftest import TEMPLATES, shared_or_skip

WORDS = ["hello", "help", "hey", "memory", "monkey", "monkeys", "live", "what", "giraffe", "lifespan"]


@pytest.mark.parametrize(("typed", "meant"), [
    ("helo", "hello"),  # one letter missing; "help" is as near but shares fewer letters
    ("memroy", "memory"),  # two letters swapped: one edit
    ("monky", "monkey"),
    ("girafe", "giraffe"),
    ("lifespna", "lifespan"),
    ("hello", "hello"),
])
def test_closest_known_word(typed: str, meant: str) -> None:
    assert SpellChecker(WORDS).closest(typed) == meant


@pytest.mark.parametrize("typed", ["xylophone", "jelo", "helooooo", "lve"])
def test_nothing_close_enough(typed: str) -> None:
    """Too many edits, another first letter, or (for `correct`) too short a word: left as typed."""
    checker = SpellChecker(WORDS)
    assert checker.correct(typed) == typed


def test_correct_keeps_numbers_short_words_and_entities() -> None:
    checker = SpellChecker(WORDS)
    text = "Helo, wat is the memroy of monky 42b at ada@exmple.com"
    email = (text.index("ada@"), len(text))
    assert checker.correct(text, [email]) == "hello, wat is the memory of monkey 42b at ada@exmple.com"
    assert checker.correct("") == "" and SpellChecker([]).correct("helo") == "helo"


@pytest.fixture(scope="module")
def small_talk(tmp_path_factory: pytest.TempPathFactory) -> Any:
    shared_or_skip()
    bot = load_bot(TEMPLATES / "small-talk")
    assert isinstance(bot, Bot)
    service = NluService(tmp_path_factory.mktemp("nlu"))
    asyncio.run(service.train(bot))
    yield service, bot
    service.close()


def understand(service: NluService, bot: Bot, text: str) -> dict[str, Any]:
    event = {"type": "text", "preview": text, "payload": {"type": "text", "text": text}, "state": {"user": {}},
             "nlu": default_nlu()}
    result = service.understand(bot, event)
    assert result is not None
    return result


@pytest.mark.parametrize(("typed", "corrected", "qna"), [
    ("who bulit you", "who built you", "who_created_you"),
    ("tell me a jkoe", "tell me a joke", "tell_me_a_joke"),
])
def test_a_typo_reaches_the_right_answer(small_talk: Any, typed: str, corrected: str, qna: str) -> None:
    service, bot = small_talk
    result = understand(service, bot, typed)
    assert result["spellChecked"] == corrected
    assert result["intent"]["name"].endswith(qna), result["intent"]


def test_a_correct_message_is_left_alone(small_talk: Any) -> None:
    service, bot = small_talk
    assert understand(service, bot, "who built you?")["spellChecked"] == "who built you?"


def test_entities_keep_their_place_in_what_the_user_wrote(small_talk: Any) -> None:
    service, bot = small_talk
    text = "who bulit you? write to ada@example.com"
    result = understand(service, bot, text)
    emails = [e for e in result["entities"] if e["name"] == "email"]
    assert emails and text[emails[0]["meta"]["start"]:emails[0]["meta"]["end"]] == "ada@example.com"
