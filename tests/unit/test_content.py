"""Rendering what the bot says (SPEC §4): elements, translation, variations, templating, escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from parley.bots.models import Bot
from parley.engine.dates import EventDate
from parley.engine.runtime import EngineOptions
from parley.outbox import shape_responses
from tests.unit.botfactory import Chat, flow, make_bot, nlu, node, say, set_var, text_element

JSONDict = dict[str, Any]


def _bot(tmp_path: Path, *on_enter: str, content: dict[str, list[JSONDict]] | None = None, **kw: Any) -> Bot:
    return make_bot(tmp_path, flows={"main": flow(node("entry", *on_enter))}, content=content or {}, **kw)


async def _responses(tmp_path: Path, *on_enter: str, user: JSONDict | None = None, text: str = "hi",
                     **kw: Any) -> list[JSONDict]:
    chat = Chat(_bot(tmp_path, *on_enter, **kw))
    chat.memory.user.update(user or {})
    await chat.send(text)
    assert chat.last is not None
    return chat.last.responses


# ------------------------------------------------------------------------------------ elements


async def test_stored_text_element_payload(tmp_path: Path) -> None:
    el = text_element("builtin_text-abc123", "Hello {{user.name}}", typing=True, markdown=True)
    out = await _responses(tmp_path, "say #!builtin_text-abc123", user={"name": "Bob"},
                           content={"builtin_text": [el]})
    assert out == [{"type": "text", "text": "Hello Bob", "markdown": True, "typing": True}]


async def test_extra_say_arguments_reach_the_payload(tmp_path: Path) -> None:
    el = text_element("builtin_text-abc123", "Hello")
    out = await _responses(tmp_path, 'say #!builtin_text-abc123 {"skill":"choice"}', content={"builtin_text": [el]})
    assert out == [{"type": "text", "skill": "choice", "text": "Hello"}]


async def test_an_element_without_templates_gives_a_fresh_payload_each_time(tmp_path: Path) -> None:
    """Its payload is built from a kept part: the say's own arguments first, then the element's
    fields in schema order, and a change to one answer never reaches the next."""
    el = text_element("builtin_text-abc123", "Hello", typing=True)
    chat = Chat(_bot(tmp_path, 'say #!builtin_text-abc123 {"skill":"choice"}', content={"builtin_text": [el]}))
    await chat.send("hi")
    assert chat.last is not None
    first = chat.last.responses
    assert [list(p) for p in first] == [["type", "skill", "text", "typing"]]
    first[0]["text"] = "changed"
    await chat.send("hi again")
    assert chat.last.responses == [{"type": "text", "skill": "choice", "text": "Hello", "typing": True}]


async def test_an_elements_own_fields_win_over_say_arguments_even_when_empty(tmp_path: Path) -> None:
    """Botpress spreads every schema property of the element over the arguments, unset ones too."""
    el = text_element("builtin_text-abc123", "Hello")
    out = await _responses(tmp_path, 'say #!builtin_text-abc123 {"typing":true,"markdown":true,"skill":"x"}',
                           content={"builtin_text": [el]})
    assert out == [{"type": "text", "skill": "x", "text": "Hello"}]


async def test_inline_and_say_something_outputs_template_only_their_text(tmp_path: Path) -> None:
    inline = 'say #builtin_image {"image":"https://x.test/{{temp.n}}.png","title":"T {{temp.n}}","text":"{{temp.n}}"}'
    out = await _responses(tmp_path, set_var("temp", "n", "7"), inline)
    assert out == [{"type": "image", "image": "https://x.test/{{temp.n}}.png", "title": "T {{temp.n}}", "text": "7"}]

    bot = make_bot(tmp_path / "s", flows={"main": flow(node(
        "entry", set_var("temp", "n", "7"), type="say_something",
        content={"contentType": "builtin_card",
                 "formData": {"title$en": "Card {{temp.n}}", "subtitle$en": "{{temp.n}}"}},
    ))})
    chat = Chat(bot)
    await chat.send()
    assert chat.last is not None
    card = chat.last.responses[0]
    assert (card["type"], card["title"], card["subtitle"]) == ("card", "Card {{temp.n}}", "{{temp.n}}")


async def test_payloads_carry_no_rendering_context(tmp_path: Path) -> None:
    el = text_element("builtin_text-abc123", "Hi")
    out = await _responses(tmp_path, "say #!builtin_text-abc123", content={"builtin_text": [el]})
    assert not {"event", "user", "session", "temp", "bot", "BOT_URL"} & set(out[0])


async def test_single_choice_element_renders_its_choices(tmp_path: Path) -> None:
    el = {"id": "builtin_single-choice-q1", "formData": {
        "text$en": "Pick, {{user.name}}",
        "choices$en": [{"title": "Red {{user.name}}", "value": "red"}, {"title": "Blue", "value": "blue"}],
        "typing$en": True,
    }}
    out = await _responses(tmp_path, "say #!builtin_single-choice-q1", user={"name": "Al"},
                           content={"builtin_single-choice": [el]})
    assert out == [{
        "type": "single-choice", "text": "Pick, Al",
        "choices": [{"title": "Red Al", "value": "red"}, {"title": "Blue", "value": "blue"}], "typing": True,
    }]


async def test_image_with_triple_mustache_url(tmp_path: Path) -> None:
    el = {"id": "builtin_image-i1", "formData": {"image$en": "{{{temp.url}}}", "title$en": "A picture"}}
    url = "https://example.com/a.png?x=1&y=2"
    out = await _responses(tmp_path, set_var("temp", "url", url), "say #!builtin_image-i1",
                           content={"builtin_image": [el]})
    assert out == [{"type": "image", "image": url, "title": "A picture"}]


async def test_action_button_element_renders_nothing(tmp_path: Path) -> None:
    el = {"id": "builtin_action-button-b1", "formData": {"title$en": "Go", "action$en": "Say something"}}
    out = await _responses(tmp_path, "say #!builtin_action-button-b1", say("after"),
                           content={"builtin_action-button": [el]})
    assert out == [{"type": "text", "text": "after"}]


async def test_location_element_keeps_its_typing_indicator(tmp_path: Path) -> None:
    el = {"id": "builtin_location-l1", "formData": {"latitude$en": 45.5, "longitude$en": -73.6,
                                                     "title$en": "Office", "typing$en": True}}
    out = await _responses(tmp_path, "say #!builtin_location-l1", content={"builtin_location": [el]})
    assert out == [{"type": "location", "latitude": 45.5, "longitude": -73.6, "title": "Office", "typing": True}]


async def test_a_ref_stays_as_written_as_botpress_renders_it(tmp_path: Path) -> None:
    """Botpress resolves `##ref(id)` only for the studio's previews; renderElement sends it as written.
    parley put the referenced element's raw formData there (its `$en` keys included)."""
    card = {"id": "builtin_card-c1",
            "formData": {"title$en": "Card", "actions$en": ["##ref(builtin_action-button-b1)"]}}
    button = {"id": "builtin_action-button-b1", "formData": {"title": "Go", "action": "Open URL", "url": "https://x"}}
    out = await _responses(tmp_path, "say #!builtin_card-c1",
                           content={"builtin_card": [card], "builtin_action-button": [button]})
    assert out == [{"type": "card", "title": "Card", "actions": ["##ref(builtin_action-button-b1)"]}]


async def test_variations_are_drawn_with_the_text_and_an_empty_draw_keeps_the_text(tmp_path: Path) -> None:
    """`_.sample([text, ...variations])`, then the text only if the draw is not empty: an element with
    variations and no text sometimes has no text. parley drew among the non-empty ones only."""
    el = {"id": "builtin_text-v", "formData": {"variations$en": ["V1", "V2"]}}
    chat = Chat(_bot(tmp_path, "say #!builtin_text-v", content={"builtin_text": [el]}))
    seen = set()
    for _ in range(200):
        await chat.send()
        assert chat.last is not None
        seen.add(chat.last.responses[0].get("text"))
    assert seen == {"V1", "V2", None}


async def test_every_outgoing_payload_gets_its_urls_fixed_once(tmp_path: Path) -> None:
    """Botpress's `messaging.fixUrl` runs on every outgoing payload (an action's reply and a QnA answer
    too, which parley left alone), replaces the first BOT_URL only and absolutizes `/api/.../bots/.../media/`."""
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", "send", say("BOT_URL/a and BOT_URL/b")))},
                   actions={"send": """
        async def run(reply):
            await reply({"type": "image", "image": "/api/v1/bots/testbot/media/a.png", "title": "from BOT_URL",
                         "other": "/api/v1/media/x.png"})
    """}, qna={"map": {"questions": {"en": ["map"]}, "answers": {"en": ["Map: BOT_URL/map.png"]}, "action": "text",
                       "enabled": True}})
    options = EngineOptions(external_url="https://bots.example.com")
    chat = Chat(bot, options=options)
    await chat.send()
    assert chat.last is not None
    assert chat.last.responses == [
        {"type": "image", "image": "https://bots.example.com/api/v1/bots/testbot/media/a.png",
         "title": "from https://bots.example.com", "other": "/api/v1/media/x.png"},
        {"type": "text", "text": "https://bots.example.com/a and BOT_URL/b"},
    ]
    qna_chat = Chat(bot, options=options, understand=nlu(("__qna__map", 0.9)))
    assert await qna_chat.send("map") == ["Map: https://bots.example.com/map.png"]


async def test_unknown_content_type_does_not_crash(tmp_path: Path) -> None:
    chat = Chat(_bot(tmp_path, say("before"), 'say #no_such_type {"text":"x"}', say("after")))
    assert await chat.send() == ["before"]
    assert chat.errors[0]["type"] == "dialog-engine"


async def test_media_urls_and_bot_url_are_made_absolute(tmp_path: Path) -> None:
    el = {"id": "builtin_image-i1", "formData": {"image$en": "/api/v1/bots/testbot/media/cat.png",
                                                  "title$en": "See BOT_URL/docs"}}
    chat = Chat(_bot(tmp_path, "say #!builtin_image-i1", content={"builtin_image": [el]}),
                options=EngineOptions(external_url="https://bots.example.com"))
    await chat.send()
    assert chat.last is not None
    assert chat.last.responses == [{"type": "image", "image": "https://bots.example.com/api/v1/bots/testbot/media/cat.png",
                                    "title": "See https://bots.example.com/docs"}]


# --------------------------------------------------------------------------------- translation


TRANSLATED = [
    {"id": "builtin_text-greet", "formData": {"text$en": "Hello", "text$fr": "Bonjour"}},
    {"id": "builtin_text-en", "formData": {"text$en": "English only"}},
    {"id": "builtin_text-nested", "formData": {"text": {"en": "nested en", "fr": "nested fr"}}},
]


async def test_text_in_the_users_language_with_fallback_to_the_default(tmp_path: Path) -> None:
    bot = _bot(tmp_path, 'builtin/switchLanguage {"lang":"FR"}', "say #!builtin_text-greet", "say #!builtin_text-en",
               "say #!builtin_text-nested", content={"builtin_text": TRANSLATED},
               config={"languages": ["en", "fr"]})
    chat = Chat(bot)
    assert await chat.send() == ["Bonjour", "English only", "nested fr"]
    assert chat.user["language"] == "fr"


async def test_default_language_without_user_language(tmp_path: Path) -> None:
    bot = _bot(tmp_path, "say #!builtin_text-greet", "say #!builtin_text-nested",
               content={"builtin_text": TRANSLATED}, config={"languages": ["en", "fr"]})
    assert await Chat(bot).send() == ["Hello", "nested en"]


async def test_default_language_of_the_bot_is_used_for_fallback(tmp_path: Path) -> None:
    bot = _bot(tmp_path, "say #!builtin_text-greet", content={"builtin_text": TRANSLATED},
               config={"defaultLanguage": "fr", "languages": ["fr", "en"]})
    chat = Chat(bot)
    chat.memory.user["language"] = "de"
    assert await chat.send() == ["Bonjour"]


async def test_say_something_node_translates_its_form_data(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, config={"languages": ["en", "fr"]}, flows={"main": flow(node(
        "entry", type="say_something",
        content={"contentType": "builtin_text", "formData": {"text$en": "Hi", "text$fr": "Salut {{user.name}}"}},
    ))})
    chat = Chat(bot)
    chat.memory.user.update({"language": "fr", "name": "Léa"})
    assert await chat.send() == ["Salut Léa"]


# ---------------------------------------------------------------------------------- variations


VARIED = [text_element("builtin_text-v", "Hello", variations=["Hi", "Welcome {{user.name}}"])]
ALLOWED = {"Hello", "Hi", "Welcome Max"}


async def test_variations_pick_one_of_the_allowed_texts(tmp_path: Path) -> None:
    bot = _bot(tmp_path, "say #!builtin_text-v", content={"builtin_text": VARIED})
    seen = set()
    for seed in range(30):
        chat = Chat(bot, seed=seed)
        chat.memory.user["name"] = "Max"
        said = await chat.send()
        assert len(said) == 1 and said[0] in ALLOWED
        seen.add(said[0])
        assert chat.last is not None
        assert chat.last.responses[0]["variations"] == ["Hi", "Welcome Max"]
    assert seen == ALLOWED


async def test_variations_are_reproducible_with_a_seed(tmp_path: Path) -> None:
    bot = _bot(tmp_path, "say #!builtin_text-v", content={"builtin_text": VARIED})
    first = [await Chat(bot, seed=seed).send() for seed in range(10)]
    again = [await Chat(bot, seed=seed).send() for seed in range(10)]
    assert first == again


# ---------------------------------------------------------------------------------- templating


async def test_double_mustache_escapes_and_triple_mustache_does_not(tmp_path: Path) -> None:
    said = await Chat(_bot(tmp_path, set_var("temp", "x", "I'm <here> & \"there\""),
                           say("{{temp.x}}"), say("{{{temp.x}}}"))).send()
    assert said == ["I&#39;m &lt;here&gt; &amp; &quot;there&quot;", "I'm <here> & \"there\""]


async def test_missing_values_render_empty(tmp_path: Path) -> None:
    assert await Chat(_bot(tmp_path, say("Hi {{user.name}}!{{temp.nothing.deeper}}"))).send() == ["Hi !"]


async def test_template_paths_reach_event_and_indices(tmp_path: Path) -> None:
    bot = _bot(tmp_path, say("{{event.preview}}|{{event.payload.text}}|{{session.items.1}}|{{temp.n}}"))
    chat = Chat(bot)
    chat.memory.session["items"] = ["a", "b"]
    chat.memory.temp["n"] = 0
    assert await chat.send("ping") == ["ping|ping|b|0"]


async def test_event_created_on_renders_as_a_javascript_date(tmp_path: Path) -> None:
    """Botpress's `event.createdOn` is a Date, which Mustache prints with Date.prototype.toString."""
    chat = Chat(_bot(tmp_path, set_var("temp", "at", "{{{event.createdOn}}}"), say("{{event.createdOn}}"),
                     say("{{temp.at}}")))
    before = datetime.now(UTC).replace(microsecond=0)
    said, copied = await chat.send()
    shown = datetime.strptime(said, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")
    assert shown.replace(tzinfo=UTC) >= before
    assert copied == said  # action arguments go through the same Mustache


def test_a_javascript_date_prints_like_node() -> None:
    assert EventDate("2026-11-25T23:40:27.123Z").js_string() == (
        "Wed Nov 25 2026 23:40:27 GMT+0000 (Coordinated Universal Time)")
    assert json.dumps({"createdOn": EventDate("2026-11-25T23:40:27.123Z")}) == (
        '{"createdOn": "2026-11-25T23:40:27.123Z"}')


async def test_user_text_with_mustache_is_never_interpreted(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("ask", say("Your nickname?"),
             receive=[set_var("user", "nickname", "{{event.payload.text}}")], next=[("true", "greet")]),
        node("greet", say("Hello, {{user.nickname}}!")),
    )})
    chat = Chat(bot)
    chat.memory.user["secret"] = "s3cr3t"
    await chat.send()
    assert await chat.send("{{user.secret}}") == ["Hello, {{user.secret}}!"]
    assert chat.user["nickname"] == "{{user.secret}}"


async def test_values_are_html_escaped_exactly_once(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("ask", say("Name?"), receive=[set_var("user", "name", "{{event.payload.text}}")],
             next=[("true", "greet")]),
        node("greet", say("Hi {{user.name}}"), 'say #builtin_text {"text":"Raw {{{user.name}}}"}'),
    )})
    chat = Chat(bot)
    await chat.send()
    assert await chat.send("O'Brien <b>") == ["Hi O&#39;Brien &lt;b&gt;", "Raw O'Brien <b>"]
    assert chat.user["name"] == "O'Brien <b>"  # stored as typed


async def test_qna_answer_is_templated(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry"))}, qna={"q": {
        "questions": {"en": ["who"]}, "answers": {"en": ["You are {{user.name}}"]}, "action": "text",
        "enabled": True}})
    chat = Chat(bot, understand=nlu(("__qna__q", 0.95)))
    chat.memory.user["name"] = "D'Arcy"
    assert await chat.send("who") == ["You are D&#39;Arcy"]


async def test_qna_answer_can_be_a_content_element(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry"))},
                   content={"builtin_text": [text_element("builtin_text-a", "From element")]},
                   qna={"q": {"questions": {"en": ["x"]}, "answers": {"en": ["#!builtin_text-a"]},
                              "action": "text", "enabled": True}})
    chat = Chat(bot, understand=nlu(("__qna__q", 0.95)))
    assert await chat.send("x") == ["From element"]



def test_any_truthy_typing_gets_the_typing_entry() -> None:
    """Botpress emits the payload's typing as it is; any JavaScript-truthy value shows the indicator."""
    shaped = shape_responses([
        {"type": "text", "text": "a", "typing": 1500}, {"type": "text", "text": "b", "typing": 0},
        {"type": "text", "text": "c", "typing": "yes"}, {"type": "text", "text": "d", "typing": ""},
    ])
    assert shaped == [{"type": "typing", "value": True}, {"type": "text", "text": "a"}, {"type": "text", "text": "b"},
                      {"type": "typing", "value": True}, {"type": "text", "text": "c"}, {"type": "text", "text": "d"}]
