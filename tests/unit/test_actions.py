"""Builtin actions, the choice and slot skills, and a bot's own Python actions (SPEC §3.17–3.19, §2.8)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from parley.bots.models import Bot
from parley.engine.runtime import EngineOptions
from tests.unit.botfactory import (
    ERROR_FLOW,
    Chat,
    action,
    choice_skill,
    flow,
    make_bot,
    nlu,
    node,
    say,
    set_var,
)

JSONDict = dict[str, Any]


def _waiting_bot(tmp_path: Path, *on_enter: str, receive: list[str] | None = None, **kw: Any) -> Bot:
    """One node that runs `on_enter`, then waits and runs `receive` on every message."""
    return make_bot(tmp_path, flows={"main": flow(
        node("entry", *on_enter, receive=receive or [], next=[("true", "loop")]),
        node("loop", receive=receive or [], next=[("true", "loop")]),
    )}, **kw)


# -------------------------------------------------------------------------------- setVariable


async def test_set_variable_in_every_scope(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, set_var("user", "u", "U"), set_var("session", "s", 2),
                             set_var("temp", "t", {"deep": True}), set_var("bot", "b", "B")))
    await chat.send()
    assert chat.user["u"] == "U"
    assert chat.session["s"] == 2
    assert chat.temp["t"] == {"deep": True}
    assert chat.memory.bot_kv["global"] == {"b": "B"}
    assert chat.memory.bot_kv_writes["global"] == {"b": "B"}


async def test_set_variable_null_or_empty_deletes(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", set_var("user", "a", "1"), set_var("user", "b", "2"), set_var("user", "c", "3"),
             receive=[action("builtin/setVariable", {"type": "user", "name": "a"}), set_var("user", "b", ""),
                      set_var("user", "c", "null")],
             next=[("true", "show")]),
        node("show", say("a={{user.a}} b={{user.b}} c={{user.c}}")),
    )})
    chat = Chat(bot)
    await chat.send()
    assert chat.user == {"a": "1", "b": "2", "c": "3"}
    assert await chat.send() == ["a= b= c="]
    assert chat.user == {}


async def test_set_variable_without_a_name_writes_the_key_undefined(tmp_path: Path) -> None:
    """Botpress assigns `event.state[type][name]` with no check: a missing name is the key "undefined"."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", action("builtin/setVariable", {"type": "temp", "value": "kept"}),
                          say("got {{temp.undefined}}"))),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send() == ["got kept"]
    assert chat.errors == []


async def test_set_variable_json_null_stores_null(tmp_path: Path) -> None:
    """As in Botpress: only the string "null", "" or no value erase; `null` is a value."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", set_var("temp", "x", "1"), set_var("temp", "x", None),
             next=[("temp.x === null", "is-null"), ("true", "other")]),
        node("is-null", say("null")), node("other", say("other")),
    )})
    assert await Chat(bot).send() == ["null"]


async def test_null_user_attributes_are_not_saved(tmp_path: Path) -> None:
    """Botpress saves the user's attributes without nil values: null lasts for the turn only."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", set_var("user", "x", None), set_var("user", "y", "1"), say("x={{user.x}}"), receive=[],
             next=[("user.x === null", "is-null"), ("user.x === undefined", "gone")]),
        node("is-null", say("null")), node("gone", say("gone")),
    )})
    chat = Chat(bot)
    await chat.send()
    assert chat.last is not None and chat.last.state["user"] == {"x": None, "y": "1"}
    assert chat.user == {"y": "1"}
    assert await chat.send() == ["gone"]


async def test_bot_variables_are_visible_to_every_user(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("motd={{bot.motd}}"), set_var("bot", "motd", "sunny")))})
    first = Chat(bot, user_id="a")
    assert await first.send() == ["motd="]
    second = Chat(bot, user_id="b")
    second.memory.bot_kv = first.memory.bot_kv
    assert await second.send() == ["motd=sunny"]


async def test_set_variable_value_is_a_template(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, receive=[set_var("session", "last", "{{event.preview}}!")]))
    await chat.send("one")
    await chat.send("two")
    assert chat.session["last"] == "two!"


async def test_remove_variable(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, set_var("session", "x", "1"),
                             action("builtin/removeVariable", {"type": "session", "name": "x"})))
    await chat.send()
    assert "x" not in chat.session


# ------------------------------------------------------------------------------ NLU contexts


def _contexts(chat: Chat) -> list[JSONDict]:
    return list(chat.session.get("nluContexts") or [])


async def test_append_context_ttl_rules(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(
        tmp_path,
        action("builtin/appendContext", {"contexts": "a,b", "ttl": "1"}),
        action("builtin/appendContext", {"contexts": "c", "ttl": "soon"}),
        action("builtin/appendContext", {"contexts": "d"}),
        action("builtin/appendContext", {"contexts": "a", "ttl": 5}),
        action("builtin/appendContext", {"contexts": "b", "ttl": 0}),
        action("builtin/appendContext", {"contexts": "e", "ttl": ""}),
    ))
    await chat.send()
    assert _contexts(chat) == [
        {"context": "a", "ttl": 5},  # the higher ttl wins
        {"context": "b", "ttl": 1},  # a lower one does not replace it
        {"context": "c", "ttl": 1000},  # not a number: the default
        {"context": "d", "ttl": 1000},  # no ttl: the default
        {"context": "e", "ttl": 0},  # Number("") is 0 in JavaScript
    ]
    await chat.send()
    assert chat.last is not None and chat.last.nlu["includedContexts"] == ["a", "b", "c", "d", "e"]
    assert [c["context"] for c in _contexts(chat)] == ["a", "c", "d"]


async def test_remove_and_reset_context(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(
        tmp_path,
        action("builtin/appendContext", {"contexts": "a,b,c", "ttl": 3}),
        action("builtin/removeContext", {"contexts": "a,c"}),
    ))
    await chat.send()
    assert _contexts(chat) == [{"context": "b", "ttl": 3}]

    reset = Chat(_waiting_bot(tmp_path / "r", action("builtin/appendContext", {"contexts": "a"}),
                              action("builtin/resetContext", {})))
    await reset.send()
    assert _contexts(reset) == []


async def test_context_names_are_split_on_commas_only(tmp_path: Path) -> None:
    """Botpress splits on commas without trimming each name: `"a, b"` is `a` and ` b`."""
    chat = Chat(_waiting_bot(
        tmp_path,
        action("builtin/appendContext", {"contexts": " monkeys, global ", "ttl": 2}),
        action("builtin/removeContext", {"contexts": "monkeys,global"}),
    ))
    await chat.send()
    assert _contexts(chat) == [{"context": " global", "ttl": 2}]


async def test_nlu_contexts_override_included_contexts_and_expire(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, action("builtin/appendContext", {"contexts": "shop,help", "ttl": 2})))
    await chat.send("one", included_contexts=["global"])
    assert chat.last is not None and chat.last.nlu["includedContexts"] == ["global"]

    await chat.send("two", included_contexts=["global"])
    assert chat.last.nlu["includedContexts"] == ["shop", "help"]
    assert _contexts(chat) == [{"context": "shop", "ttl": 1}, {"context": "help", "ttl": 1}]

    await chat.send("three", included_contexts=["global"])
    assert chat.last.nlu["includedContexts"] == ["shop", "help"]
    assert _contexts(chat) == []

    await chat.send("four", included_contexts=["global"])
    assert chat.last.nlu["includedContexts"] == ["global"]


async def test_included_contexts_choose_which_qna_can_answer(tmp_path: Path) -> None:
    """What an NLU sees: the contexts a flow appended, not those of the request."""
    seen: list[list[str]] = []

    def understand(bot: Bot, event: JSONDict) -> JSONDict:
        seen.append(list(event["nlu"]["includedContexts"]))
        return {}

    chat = Chat(_waiting_bot(tmp_path, action("builtin/appendContext", {"contexts": "pets"})), understand=understand)
    await chat.send("a")
    await chat.send("b")
    assert seen == [["global"], ["pets"]]


# ------------------------------------------------------------------------------ conversations


async def test_increment_number_of_conversations_counts_from_zero(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node(
        "entry", action("builtin/incrementNumberOfConversations", {"output": "n"}),
        say("visit {{temp.n}}"), next=[("true", "END")]))})
    chat = Chat(bot)
    assert [(await chat.send())[0] for _ in range(3)] == ["visit 0", "visit 1", "visit 2"]


async def test_get_number_of_conversations(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node(
        "entry", action("builtin/getNumberOfConversations", {"output": "n"}), say("n={{temp.n}}"),
        action("builtin/incrementNumberOfConversations", {"output": "m"}), next=[("true", "END")]))})
    chat = Chat(bot)
    assert await chat.send() == ["n="]  # never counted: undefined, as in Botpress
    assert await chat.send() == ["n=0"]
    assert await chat.send() == ["n=1"]


async def test_reset_session_keeps_only_the_bookkeeping(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(
        tmp_path, set_var("session", "a", "1"), set_var("temp", "t", "1"), set_var("user", "u", "1"),
        action("builtin/appendContext", {"contexts": "x"}), say("hello"),
        receive=[action("builtin/resetSession", {})],
    ))
    await chat.send()
    await chat.send()
    assert "a" not in chat.session
    assert chat.temp == {}
    assert chat.user == {"u": "1"}
    assert chat.session["nluContexts"] == [{"context": "x", "ttl": 999}]
    assert chat.session["lastMessages"][0]["replyPreview"] == "#builtin_text"


async def test_global_variables_with_expiry(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(
        tmp_path,
        action("builtin/setGlobalVariable", {"name": "k", "value": "v", "expiry": "1h"}),
        action("builtin/getGlobalVariable", {"name": "k", "output": "got"}),
        action("builtin/setGlobalVariable", {"name": "old", "value": "v", "expiry": "-1h"}),
        action("builtin/resetGlobalVariable", {"name": "k"}),
        action("builtin/getGlobalVariable", {"name": "k", "output": "after"}),
    ))
    await chat.send()
    assert chat.temp["got"] == "v"
    assert "after" not in chat.temp  # undefined, as Botpress has it (it was null)


async def test_set_global_variable_also_writes_its_output(tmp_path: Path) -> None:
    """Botpress's setGlobalVariable.js: `if (output) temp[output] = value` (the output was ignored)."""
    args = {"name": "promo", "value": "SUMMER", "expiry": "never", "output": "code"}
    chat = Chat(_waiting_bot(tmp_path, action("builtin/setGlobalVariable", args)))
    await chat.send()
    assert chat.temp["code"] == "SUMMER"


# ------------------------------------------------------------------------------------ choice

CHOICE = {"id": "builtin_single-choice-q", "formData": {
    "text$en": "Which one?",
    "choices$en": [{"title": "Red apple", "value": "red"}, {"title": "Green pear", "value": "green"}],
}}
SORRY = {"id": "builtin_text-sorry", "formData": {"text$en": "Sorry, I did not get that."}}


def _choice_bot(tmp_path: Path, *, max_retries: int = 1) -> Bot:
    return make_bot(
        tmp_path,
        flows={
            "main": flow(
                node("ask", type="skill-call", skill="choice", flow="skills/choice-abc.flow.json", next=[
                    ("temp['skill-choice-ret-abc'] == \"red\"", "red"),
                    ("temp['skill-choice-ret-abc'] == \"green\"", "green"),
                    {"caption": "On failure", "condition": "true", "node": "failed"},
                ]),
                node("red", say("You chose red")),
                node("green", say("You chose green")),
                node("failed", say("Giving up")),
            ),
            "skills/choice-abc": choice_skill(
                random_id="abc", content_id="builtin_single-choice-q", invalid_content_id="builtin_text-sorry",
                keywords={"red": ["red", "Red apple", "crimson"], "green": ["green", "Green pear"]},
                max_retries=max_retries,
            ),
        },
        content={"builtin_single-choice": [CHOICE], "builtin_text": [SORRY]},
    )


async def _answer(tmp_path: Path, answer: str) -> list[str]:
    chat = Chat(_choice_bot(tmp_path))
    assert await chat.send() == ["Which one?"]
    assert chat.last is not None and chat.last.responses[0]["skill"] == "choice"
    return await chat.send(answer)


async def test_choice_keyword_matches(tmp_path: Path) -> None:
    for i, (answer, expected) in enumerate([
        ("red", "You chose red"),
        ("GREEN PEAR", "You chose green"),  # exact, case-insensitive
        ("I'd like the crimson one", "You chose red"),  # substring
        ("green", "You chose green"),
    ]):
        assert await _answer(tmp_path / str(i), answer) == [expected], answer


async def test_choice_number_answers_pick_the_nth_choice(tmp_path: Path) -> None:
    for i, (answer, expected) in enumerate([("1", "You chose red"), ("2.", "You chose green"),
                                            ("#1", "You chose red"), ("2)", "You chose green")]):
        assert await _answer(tmp_path / str(i), answer) == [expected], answer


async def test_choice_out_of_range_number_is_invalid(tmp_path: Path) -> None:
    chat = Chat(_choice_bot(tmp_path))
    await chat.send()
    assert await chat.send("3") == ["Sorry, I did not get that."]
    assert chat.temp["skill-choice-valid-abc"] is False
    assert chat.temp["skill-choice-invalid-count-abc"] == 1


async def test_choice_retries_then_fails(tmp_path: Path) -> None:
    chat = Chat(_choice_bot(tmp_path, max_retries=2))
    await chat.send()
    assert await chat.send("blue") == ["Sorry, I did not get that."]
    assert await chat.send("purple") == ["Sorry, I did not get that."]
    assert await chat.send("black") == ["Giving up"]
    assert chat.context == {}


async def test_choice_valid_after_a_retry(tmp_path: Path) -> None:
    chat = Chat(_choice_bot(tmp_path))
    await chat.send()
    assert await chat.send("blue") == ["Sorry, I did not get that."]
    assert await chat.send("Red apple") == ["You chose red"]


def _intent_choice_bot(tmp_path: Path, keyword: str) -> Bot:
    return make_bot(tmp_path, flows={
        "main": flow(node("ask", type="skill-call", skill="choice", flow="skills/choice-i.flow.json",
                          next=[("temp['skill-choice-ret-i'] == \"yes\"", "yes"), ("true", "no")]),
                     node("yes", say("yes!")), node("no", say("no!"))),
        "skills/choice-i": choice_skill(random_id="i", content_id="builtin_single-choice-q",
                                        keywords={"yes": [keyword], "no": ["no"]}),
    }, content={"builtin_single-choice": [CHOICE]})


async def test_choice_by_intent(tmp_path: Path) -> None:
    chat = Chat(_intent_choice_bot(tmp_path, "intent:affirm"))
    await chat.send()
    assert await chat.send("sure thing", understand=nlu(("affirm", 0.9))) == ["yes!"]


async def test_choice_by_intent_with_the_prefix_in_any_case(tmp_path: Path) -> None:
    """Botpress lower-cases the `intent:` prefix before looking for it; the intent name stays exact."""
    bot = _intent_choice_bot(tmp_path, "Intent:affirm")
    chat = Chat(bot)
    await chat.send()
    assert await chat.send("sure thing", understand=nlu(("affirm", 0.9))) == ["yes!"]
    other = Chat(bot)
    await other.send()
    assert "yes!" not in await other.send("sure thing", understand=nlu(("Affirm", 0.9)))  # names are exact


# -------------------------------------------------------------------------------------- slots


def _slot_bot(tmp_path: Path, entities: str, retries: int | None = 2, **extra_flows: JSONDict) -> Bot:
    fill = action("basic-skills/slot_fill", {"slotName": "city", "entities": entities, "turnExpiry": -1})
    extracted = "session.slots['city'] && (temp.valid === undefined || temp.valid == \"true\")"
    not_found_args = {} if retries is None else {"retryAttempts": retries}
    return make_bot(
        tmp_path,
        flows={
            "main": flow(
                node("book", type="skill-call", skill="Slot", flow="skills/slot-1.flow.json", next=[
                    ("temp.extracted == \"true\"", "got"),
                    ("temp.notExtracted == \"true\"", "gaveup"),
                    ("temp.alreadyExtracted == \"true\"", "known"),
                ]),
                node("got", say("Going to {{session.slots.city.value}}")),
                node("known", say("Still {{session.slots.city.value}}")),
                node("gaveup", say("No city then")),
            ),
            "skills/slot-1": flow(
                node("check-if-extracted", action("basic-skills/slot_update_contexts", {"intentName": "book"}),
                     next=[("session.slots['city'] !== undefined", "already-extracted"), ("true", "slot-extract")]),
                node("slot-extract", say("Which city?"), receive=[fill],
                     next=[(extracted, "extracted"), ("true", "not-extracted")]),
                node("extracted", set_var("temp", "extracted", "true"), next=[("true", "#")]),
                node("not-extracted", action("basic-skills/slot_not_found", not_found_args),
                     say("Sorry, which city?"), set_var("temp", "valid", "true"), receive=[fill],
                     next=[(extracted, "extracted"), ("temp.notExtracted == \"true\"", "#"),
                           ("true", "not-extracted")]),
                node("already-extracted", set_var("temp", "alreadyExtracted", "true"), next=[("true", "#")]),
            ),
            **extra_flows,
        },
        files={"intents/book.json": json.dumps({"name": "book", "contexts": ["travel"], "utterances": {"en": []},
                                               "slots": [{"name": "city", "entities": ["any"]}]})},
    )


async def test_slot_fill_with_any_takes_the_whole_text(tmp_path: Path) -> None:
    chat = Chat(_slot_bot(tmp_path, "any"))
    assert await chat.send("book a trip") == ["Which city?"]
    assert chat.session["nluContexts"] == [{"context": "travel", "ttl": 1000}]
    assert await chat.send("New York") == ["Going to New York"]
    assert chat.session["slots"]["city"]["value"] == "New York"
    # The slot is kept in the session: next time it is already extracted.
    assert await chat.send("again") == ["Still New York"]


async def test_slot_skill_without_the_nlu_module_runs_the_error_flow(tmp_path: Path) -> None:
    """Botpress's slot_update_contexts reads the intent through the NLU module's HTTP route: with the
    module disabled the request fails, the action throws, and the error flow runs."""
    chat = Chat(_slot_bot(tmp_path, "any", error=ERROR_FLOW), options=EngineOptions(nlu_module=False))
    assert await chat.send("book a trip") == ["Oops, error"]
    assert "nluContexts" not in chat.session
    assert "NLU module" in chat.errors[0]["message"]


async def test_slot_fill_from_an_nlu_entity(tmp_path: Path) -> None:
    chat = Chat(_slot_bot(tmp_path, "city"))
    await chat.send("book")
    entity = {"name": "city", "type": "list", "meta": {}, "data": {"value": "Paris", "unit": "city"}}
    assert await chat.send("to paris please", understand=nlu(("book", 0.9), entities=[entity])) == ["Going to Paris"]


async def test_slot_fill_any_ignores_the_text_when_the_nlu_found_entities(tmp_path: Path) -> None:
    """Botpress fills an `any` slot from the text only when the NLU found no entity at all: an entity
    of another type (a number here) means the slot is not filled and the skill asks again."""
    chat = Chat(_slot_bot(tmp_path, "any"))
    await chat.send("book")
    number = {"name": "number", "type": "system", "meta": {}, "data": {"value": 5, "unit": ""}}
    assert await chat.send("5 people", understand=nlu(("book", 0.9), entities=[number])) == ["Sorry, which city?"]
    assert "city" not in chat.session["slots"]
    assert await chat.send("Lisbon") == ["Going to Lisbon"]
    slot = chat.session["slots"]["city"]
    assert slot["entity"] == {"name": "any", "type": "any", "meta": {"start": 0, "end": 6},
                              "data": {"extras": {}, "value": "Lisbon"}}
    assert slot["expiresAfterTurns"] == -1 and isinstance(slot["timestamp"], int)


async def test_slot_fill_takes_the_first_matching_entity(tmp_path: Path) -> None:
    chat = Chat(_slot_bot(tmp_path, "city,any"))
    await chat.send("book")
    paris = {"name": "city", "type": "list", "meta": {}, "data": {"value": "Paris"}}
    rome = {"name": "city", "type": "list", "meta": {}, "data": {"value": "Rome"}}
    assert await chat.send("paris or rome", understand=nlu(("book", 0.9), entities=[paris, rome])) == [
        "Going to Paris"
    ]
    assert "expiresAfterTurns" not in chat.session["slots"]["city"]  # Botpress passes no expiry here


async def test_slot_not_found_retries_then_gives_up(tmp_path: Path) -> None:
    chat = Chat(_slot_bot(tmp_path, "city", retries=2))
    assert await chat.send("book") == ["Which city?"]
    assert await chat.send("hmm") == ["Sorry, which city?"]
    assert chat.temp["tryFillSlotCount"] == 2
    assert await chat.send("dunno") == ["Sorry, which city?"]
    assert chat.temp["notExtracted"] == "true"
    assert await chat.send("whatever") == ["No city then"]
    assert "city" not in chat.session["slots"]


# ------------------------------------------------------------------------------ Python actions

ECHO_PARAMS = """
async def run(args, temp):
    temp["received"] = sorted(args)
    temp["greeting"] = "Hello " + args["name"]
"""

DECLARES_ALL = """
async def run(event, user, session, temp, bot, args, reply):
    temp["preview"] = event["preview"]
    temp["bot_motd"] = bot.get("motd")
"""

ONLY_KWARGS = """
async def run(**kwargs):
    kwargs["temp"]["names"] = sorted(kwargs)
"""

REPLIES = """
async def run(reply, user):
    await reply({"text": "plain"}, {"type": "image", "image": "https://x/y.png"})
    await reply([{"type": "text", "text": "from a list", "markdown": False}])
    user["replied"] = True
"""

MUTATES = """
async def run(user, session, temp):
    user["visits"] = user.get("visits", 0) + 1
    session["seen"] = True
    temp["count"] = temp.get("count", 0) + 1
"""


async def test_python_action_receives_only_declared_parameters(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, action("echo", {"name": "{{event.preview}}"}), "all", "kw",
                             say("{{temp.greeting}}"), actions={"echo": ECHO_PARAMS, "all": DECLARES_ALL,
                                                               "kw": ONLY_KWARGS}))
    chat.memory.bot_kv["global"] = {"motd": "hi all"}
    assert await chat.send("Ann") == ["Hello Ann"]
    assert chat.temp["received"] == ["name"]
    assert chat.temp["preview"] == "Ann"
    assert chat.temp["bot_motd"] == "hi all"
    assert chat.temp["names"] == ["args", "bot", "event", "reply", "send_later", "session", "temp", "user"]


async def test_python_action_replies_in_order(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, say("before"), "talk", say("after"), actions={"talk": REPLIES}))
    await chat.send()
    assert chat.last is not None
    assert chat.last.responses == [
        {"type": "text", "text": "before"},
        {"type": "text", "text": "plain"},
        {"type": "image", "image": "https://x/y.png"},
        {"type": "text", "text": "from a list", "markdown": False},
        {"type": "text", "text": "after"},
    ]
    assert chat.user["replied"] is True


async def test_python_action_mutations_persist_into_the_next_turn(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", "count", receive=["count"], next=[("true", "show")]),
        node("show", say("visits={{user.visits}} count={{temp.count}} seen={{session.seen}}")),
    )}, actions={"count": MUTATES})
    chat = Chat(bot)
    await chat.send()
    assert chat.temp == {"count": 1}
    assert await chat.send() == ["visits=2 count=2 seen=true"]
    assert chat.user["visits"] == 2 and chat.session["seen"] is True


async def test_python_action_in_a_subfolder(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, "tools/shout", say("{{temp.loud}}"), actions={"tools/shout": """
        async def run(event, temp):
            temp["loud"] = event["preview"].upper()
    """}))
    assert await chat.send("hey") == ["HEY"]


async def test_python_action_that_replies_badly_runs_the_error_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", "bad")), "error": ERROR_FLOW}, actions={"bad": """
        async def run(reply):
            await reply("just a string")
    """})
    assert await Chat(bot).send() == ["Oops, error"]


async def test_remote_action_server_is_skipped(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, 'myserver:doit {"a":1}', say("after")))
    assert await chat.send() == ["after"]


async def test_action_arguments_see_the_state(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, set_var("temp", "first", "Jo"),
                             set_var("temp", "full", "{{temp.first}} {{user.last}}")))
    chat.memory.user["last"] = "O'Neil"
    await chat.send()
    assert chat.temp["full"] == "Jo O'Neil"


async def test_switch_language(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, action("builtin/switchLanguage", {"lang": "DE"})))
    await chat.send()
    assert chat.user["language"] == "de"


async def test_switch_language_without_a_language_runs_the_error_flow(tmp_path: Path) -> None:
    """Botpress lower-cases `args.lang` unchecked: without one the action throws."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", action("builtin/switchLanguage", {}), say("switched"))),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send() == ["Oops, error"]
    assert "language" not in chat.user


async def test_slot_expires_after_its_turns(tmp_path: Path) -> None:
    bot = _slot_bot(tmp_path, "any")
    chat = Chat(bot)
    await chat.send("book")
    assert await chat.send("Rome") == ["Going to Rome"]
    chat.session["slots"]["city"]["expiresAfterTurns"] = 1
    assert await chat.send("book again") == ["Which city?"]  # the slot was forgotten before the flow ran


async def test_slot_already_filled_by_the_nlu(tmp_path: Path) -> None:
    chat = Chat(_slot_bot(tmp_path, "city"))
    slot = {"name": "city", "value": "Oslo", "source": "oslo", "entity": None, "confidence": 1, "start": 8, "end": 12}
    assert await chat.send("book to oslo", understand=nlu(("book", 0.9), slots={"city": slot})) == ["Still Oslo"]


async def test_slot_not_found_without_a_number_of_attempts_gives_up_at_once(tmp_path: Path) -> None:
    """`count < Math.min(Number(undefined), 10)` is false in JavaScript: no retry at all."""
    chat = Chat(_slot_bot(tmp_path, "city", retries=None))
    assert await chat.send("book") == ["Which city?"]
    assert await chat.send("hmm") == ["Sorry, which city?"]
    assert chat.temp["notExtracted"] == "true"
    assert chat.session["slots"]["notFound"] == 1
    assert await chat.send("dunno") == ["No city then"]


async def test_an_nlu_slot_without_a_value_is_not_kept(tmp_path: Path) -> None:
    chat = Chat(_slot_bot(tmp_path, "city"))
    empty = {"name": "city", "value": "", "source": "", "entity": None, "confidence": 1, "start": 0, "end": 0}
    assert await chat.send("book", understand=nlu(("book", 0.9), slots={"city": empty})) == ["Which city?"]
    assert "city" not in chat.session["slots"]


async def test_choice_exact_match_wins_over_an_earlier_substring(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("ask", type="skill-call", skill="choice", flow="skills/choice-s.flow.json",
                          next=[("temp['skill-choice-ret-s'] == \"red\"", "red"),
                                ("temp['skill-choice-ret-s'] == \"other\"", "other")]),
                     node("red", say("red")), node("other", say("other"))),
        "skills/choice-s": choice_skill(random_id="s", content_id="builtin_single-choice-q",
                                        keywords={"red": ["red"], "other": ["not red"]}),
    }, content={"builtin_single-choice": [CHOICE]})
    chat = Chat(bot)
    await chat.send()
    assert await chat.send("Not Red") == ["other"]
    again = Chat(bot)
    await again.send()
    assert await again.send("reddish") == ["red"]


async def test_number_of_conversations_is_empty_until_counted(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", action("builtin/getNumberOfConversations", {"output": "n"}),
             say("Seen [{{temp.n}}]"), action("builtin/incrementNumberOfConversations", {"output": "n"}),
             action("builtin/getNumberOfConversations", {"output": "m"}), say("Now [{{temp.n}}/{{temp.m}}]")),
    )})
    chat = Chat(bot)
    assert await chat.send() == ["Seen []", "Now [0/0]"]
    assert await chat.send() == ["Seen [0]", "Now [1/1]"]


def _keyword_choice_bot(tmp_path: Path, keywords: dict[str, list[Any]]) -> Bot:
    return make_bot(tmp_path, flows={
        "main": flow(node("ask", type="skill-call", skill="choice", flow="skills/choice-k.flow.json",
                          next=[*((f"temp['skill-choice-ret-k'] == \"{key}\"", key) for key in keywords),
                                ("true", "failed")]),
                     *(node(key, say(f"picked {key}")) for key in keywords), node("failed", say("failed"))),
        "skills/choice-k": choice_skill(random_id="k", content_id="builtin_single-choice-q", keywords=keywords,
                                        max_retries=0),
    }, content={"builtin_single-choice": [CHOICE]})


async def test_choice_with_an_empty_keyword_accepts_any_answer(tmp_path: Path) -> None:
    """A choice without a title gets the keyword "" from Botpress's editor, and every text contains ""."""
    chat = Chat(_keyword_choice_bot(tmp_path, {"red": ["red", "Red apple"], "blank": ["blank", ""]}))
    await chat.send()
    assert await chat.send("something else") == ["picked blank"]
    assert chat.temp == {}


async def test_choice_keywords_compare_the_text_as_typed(tmp_path: Path) -> None:
    """No trimming: the keyword "ok " is found in "ok " but not in "ok"."""
    bot = _keyword_choice_bot(tmp_path, {"fine": ["ok "], "other": ["k"]})
    chat = Chat(bot)
    await chat.send()
    assert await chat.send("ok ") == ["picked fine"]
    again = Chat(bot)
    await again.send()
    assert await again.send("ok") == ["picked other"]


async def test_choice_intent_keyword_keeps_everything_after_the_prefix(tmp_path: Path) -> None:
    chat = Chat(_keyword_choice_bot(tmp_path, {"yes": ["intent:confirm:yes"], "no": ["no"]}))
    await chat.send()
    assert await chat.send("sure", understand=nlu(("confirm:yes", 0.9))) == ["picked yes"]


async def test_slot_skill_for_an_intent_the_bot_does_not_have_fails(tmp_path: Path) -> None:
    """Botpress asks its NLU API for the intent's contexts; an unknown intent makes the action fail."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("book", type="skill-call", skill="Slot", flow="skills/slot-1.flow.json",
                          next=[("temp.extracted == \"true\"", "got")]),
                     node("got", say("got it"))),
        "skills/slot-1": flow(
            node("check-if-extracted", action("basic-skills/slot_update_contexts", {"intentName": "gone"}),
                 say("Which city?"), receive=[]),
        ),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send("book") == ["Oops, error"]
    assert "tryFillSlotCount" not in chat.temp


# -------------------------------------------------------------------------------- call API


class _Api(BaseHTTPRequestHandler):
    """A real HTTP endpoint: /ok echoes the JSON body it got, anything else answers 500."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        status, answer = ((200, {"got": json.loads(body or b"null"), "user": self.headers.get("x-user")})
                          if self.path == "/ok" else (500, {"oops": 1}))
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


def _call_api_bot(tmp_path: Path, url: str, random_id: str = "") -> Bot:
    """A Call API skill node as Botpress's studio writes it: the call, then "On success" / "On failure"
    (on `temp.valid_<randomId>`, or `temp.valid` without one)."""
    valid = f"temp.valid_{random_id}" if random_id else "temp.valid"
    return make_bot(tmp_path, flows={"main": flow(
        node("entry", set_var("session", "name", "Bob"),
             action("basic-skills/call_api", {"url": url, "method": "post", "body": '{"name": "Ada"}',
                                              "headers": {"X-User": "{{session.name}}"}, "randomId": random_id,
                                              "memory": "temp", "variable": "response"}),
             next=[(valid, "success"), (f"!{valid}", "failure")]),
        node("success", say("ok {{temp.response.status}} {{temp.response.body.got.name}} {{temp.response.body.user}}")),
        node("failure", say("failed {{temp.response.status}}")),
    )})


@pytest.mark.parametrize("random_id", ["", "r1"])
async def test_call_api_sets_temp_valid_and_the_answer_as_botpress_does(tmp_path: Path, random_id: str) -> None:
    """Botpress 12.31's call_api.js: a 2xx answer is `{body, status}` and `temp.valid_<randomId>` true; any
    other status is `{status}` and false; the headers' templates are rendered. parley set the strings
    "true"/"false" on `temp.valid` alone (so a failed call took "On success", and a skill with a randomId
    always "On failure") and sent the headers as written."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        chat = Chat(_call_api_bot(tmp_path / "ok", f"{base}/ok", random_id))
        assert await chat.send() == ["ok 200 Ada Bob"]  # the JSON body went out, the JSON answer came back
        chat = Chat(_call_api_bot(tmp_path / "ko", f"{base}/ko", random_id))
        assert await chat.send() == ["failed 500"]  # `!temp.valid…` holds: false, not "false"
    finally:
        server.shutdown()


async def test_call_api_records_what_failed(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", action("basic-skills/call_api", {"url": f"http://127.0.0.1:{port}/x", "method": "get",
                                                       "memory": "session", "variable": "api"}),
             receive=[], next=[("true", "entry")]),
    )})
    chat = Chat(bot)
    await chat.send()
    assert chat.session["api"] == {"status": "ECONNREFUSED"}
    assert chat.temp["valid"] is False


async def test_send_email_fails_into_the_skills_on_failure_branch(tmp_path: Path) -> None:
    """Without a mail transport Botpress's send_email.js sets temp.success false and onErrorFlowTo "#" before
    failing: the dialog returns to the skill node, whose "On failure" answers. It went to the error flow."""
    bot = make_bot(tmp_path, flows={
        "main": flow(
            node("entry", type="skill-call", skill="SendEmail", flow="skills/SendEmail-1.flow.json",
                 next=[("temp.success", "sent"), ("!temp.success", "unsent")]),
            node("sent", say("sent")),
            node("unsent", say("the request could not be sent")),
        ),
        "skills/SendEmail-1": flow(node("entry", action("basic-skills/send_email", {
            "fromAddress": "bot@example.com", "toAddress": "a@example.com", "subjectElement": "builtin_text-s",
            "contentElement": "builtin_text-c"}), next=[("true", "#")])),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send() == ["the request could not be sent"]


async def test_hitl_next_skill_finds_no_agent_and_takes_that_branch(tmp_path: Path) -> None:
    """Botpress's HITL Next skill starts with hitlnext/check_agents; parley has no human agents, so none is
    online and the skill says so. The action was unknown and the conversation stopped at the skill."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", type="skill-call", skill="HitlNext", flow="skills/HitlNext-1.flow.json",
                          next=[("temp['hitlnext-noAgent'] === true", "no-agent"), ("true", "handed-off")]),
                     node("no-agent", say("no agent is available")), node("handed-off", say("an agent will answer"))),
        "skills/HitlNext-1": flow(node("entry", action("hitlnext/check_agents"),
                                       next=[("temp['hitlnext-noAgent'] === true", "#"), ("true", "#")])),
    })
    assert await Chat(bot).send() == ["no agent is available"]


# ------------------------------------------------------------------ builtin actions, read against their source


def _error_flow_bot(tmp_path: Path, *on_enter: str) -> Bot:
    return make_bot(tmp_path, flows={"main": flow(node("entry", *on_enter, say("after"))), "error": ERROR_FLOW})


async def test_hitlnext_handoff_is_discarded_on_the_converse_api(tmp_path: Path) -> None:
    """handoff.js returns at once for an event of the Converse API; the skill goes on (the action was
    unknown, so the error flow ran)."""
    for name in ("hitlnext/handoff", "hitlnext/escalate"):
        chat = Chat(_error_flow_bot(tmp_path / name.replace("/", "-"), action(name, {"timeoutDelay": 10})))
        assert await chat.send() == ["after"]


async def test_call_api_with_a_bad_url_fails_into_on_failure(tmp_path: Path) -> None:
    """axios throws on a bad URL inside the action's try: the catch records it (the error flow ran)."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", action("basic-skills/call_api", {"url": "{{temp.nothing}}", "method": "get",
                                                       "memory": "session", "variable": "api"}),
             next=[("temp.valid", "success"), ("!temp.valid", "failure")]),
        node("success", say("ok")),
        node("failure", say("failed {{session.api.status}}")),
    ), "error": ERROR_FLOW})
    assert await Chat(bot).send() == ["failed ERR_INVALID_URL"]


async def test_call_api_into_bot_memory_needs_bot_variables_and_is_not_saved(tmp_path: Path) -> None:
    """`event.state.bot[variable] = ...`: undefined without bot variables (the action throws: error flow),
    otherwise seen for the rest of the turn and never saved. parley wrote to temp."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    call = action("basic-skills/call_api", {"url": f"http://127.0.0.1:{server.server_address[1]}/ok",
                                            "method": "post", "body": "{}", "memory": "bot", "variable": "r"})
    try:
        bot = make_bot(tmp_path, flows={"main": flow(
            node("entry", receive=[], next=[("event.payload.text === 'set'", "set"), ("true", "call")]),
            node("set", set_var("bot", "motd", "hi"), next=[("true", "entry")]),
            node("call", call, say("status {{bot.r.status}} temp {{temp.r.status}}"), next=[("true", "entry")]),
        ), "error": ERROR_FLOW})
        chat = Chat(bot)
        await chat.send("start")
        assert await chat.send("call") == ["Oops, error"]
        await chat.send("start")
        await chat.send("set")
        assert await chat.send("call") == ["status 200 temp "]
        assert "r" not in chat.memory.bot_kv.get("global", {})
    finally:
        server.shutdown()


async def test_global_variable_actions_follow_botpress(tmp_path: Path) -> None:
    """resetGlobalVariable removes every key starting with the name; an expiry `ms` cannot read has
    expired at once; without `output` the value goes to `temp.undefined`; a missing value is undefined."""
    chat = Chat(_waiting_bot(
        tmp_path,
        action("builtin/setGlobalVariable", {"name": "user", "value": "a"}),
        action("builtin/setGlobalVariable", {"name": "username", "value": "b"}),
        action("builtin/setGlobalVariable", {"name": "other", "value": "c"}),
        action("builtin/resetGlobalVariable", {"name": "user"}),
        action("builtin/getGlobalVariable", {"name": "username", "output": "username"}),
        action("builtin/getGlobalVariable", {"name": "other", "output": "other"}),
        action("builtin/setGlobalVariable", {"name": "promo", "value": "X", "expiry": "forever"}),
        action("builtin/getGlobalVariable", {"name": "promo", "output": "promo"}),
        action("builtin/getGlobalVariable", {"name": "other"}),
    ))
    await chat.send()
    assert "username" not in chat.temp and "promo" not in chat.temp
    assert chat.temp["other"] == "c" and chat.temp["undefined"] == "c"
    chat = Chat(_error_flow_bot(tmp_path / "empty", action("builtin/setGlobalVariable",
                                                           {"name": "x", "value": 1, "expiry": ""})))
    assert await chat.send() == ["Oops, error"]  # `ms("")` throws


async def test_conversation_counters_without_output_write_temp_undefined(tmp_path: Path) -> None:
    chat = Chat(_waiting_bot(tmp_path, action("builtin/incrementNumberOfConversations", {})))
    await chat.send()
    assert chat.temp == {"undefined": 0}


async def test_send_feedback_accepts_only_one_or_minus_one(tmp_path: Path) -> None:
    """sendFeedback.js throws on anything `parseInt` does not read as 1 or -1 (it did nothing)."""
    for value, replies in (("1", ["after"]), (" -1 ", ["after"]), ("1star", ["after"]), ("5", ["Oops, error"]),
                           (None, ["Oops, error"])):
        args = {} if value is None else {"value": value}
        chat = Chat(_error_flow_bot(tmp_path / str(value).strip(), action("builtin/sendFeedback", args)))
        assert await chat.send() == replies, value


async def test_bot_variables_set_in_a_turn_show_from_the_next_one(tmp_path: Path) -> None:
    """Botpress reads `state.bot` once, when the turn's state is restored: `{{bot.x}}` right after
    setVariable is still the old value (parley showed the new one at once)."""
    chat = Chat(_waiting_bot(tmp_path, set_var("bot", "x", "NEW"), say("now [{{bot.x}}]"),
                             receive=[say("next [{{bot.x}}]")]))
    assert await chat.send() == ["now []"]
    assert await chat.send() == ["next [NEW]"]


async def test_action_argument_templates_see_the_state_not_the_arguments(tmp_path: Path) -> None:
    """Botpress renders arguments with `{event, user, session, temp, bot}` only: "{{name}}" is ""."""
    chat = Chat(_waiting_bot(tmp_path, action("builtin/setVariable",
                                              {"type": "temp", "name": "x", "value": "[{{name}}-{{type}}]"})))
    await chat.send()
    assert chat.temp["x"] == "[-]"


async def test_wait_without_a_delay_or_with_zero_waits_a_second(tmp_path: Path, monkeypatch: Any) -> None:
    """wait.js: `args.delay || 1000`, so 0 waits a second too (parley did not wait)."""
    from parley.engine.actions import builtin

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(builtin.asyncio, "sleep", sleep)
    chat = Chat(_waiting_bot(tmp_path, action("builtin/wait", {"delay": 0}), action("builtin/wait", {}),
                             action("builtin/wait", {"delay": "250"})))
    await chat.send()
    assert slept == [1.0, 1.0, 0.25]
