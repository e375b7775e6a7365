"""Content types and the rendering of content elements into outgoing payloads (SPEC §4).

One registry holds every builtin content type: the payload `type` it produces and the schema
properties that survive translation (Botpress keeps only schema properties, in schema order).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from parley.bots.models import Bot
from parley.engine.templating import render, render_data

JSONDict = dict[str, Any]

# Keys of the rendering context that never reach a payload.
CONTEXT_KEYS = frozenset({"event", "temp", "user", "session", "bot", "BOT_URL", "workflow"})
# Keys a payload never takes from the rendering data (its `type` is the content type's).
_NOT_IN_PAYLOAD = CONTEXT_KEYS | {"type"}


class ContentError(Exception):
    """A `say` that cannot be rendered; the dialog engine logs it and stops the turn (as Botpress does)."""


@dataclass(frozen=True, slots=True)
class ContentType:
    id: str
    payload_type: str | None  # None: renders nothing (action buttons live inside cards)
    properties: tuple[str, ...]


_MEDIA = ("title", "typing")

CONTENT_TYPES: Mapping[str, ContentType] = {
    t.id: t
    for t in (
        ContentType("builtin_text", "text", ("text", "variations", "markdown", "typing")),
        ContentType(
            "builtin_single-choice",
            "single-choice",
            (
                "text",
                "isDropdown",
                "dropdownPlaceholder",
                "choices",
                "markdown",
                "disableFreeText",
                "displayInMessage",
                "typing",
            ),
        ),
        ContentType("builtin_image", "image", ("image", *_MEDIA)),
        ContentType("builtin_card", "card", ("title", "subtitle", "image", "actions", "markdown")),
        ContentType("builtin_carousel", "carousel", ("items", "typing")),
        ContentType("builtin_action-button", None, ("title", "action", "text", "url", "payload")),
        ContentType("builtin_audio", "audio", ("audio", *_MEDIA)),
        ContentType("builtin_video", "video", ("video", *_MEDIA)),
        ContentType("builtin_file", "file", ("file", *_MEDIA)),
        ContentType("builtin_location", "location", ("latitude", "longitude", "address", "title", "typing")),
        ContentType(
            "dropdown",
            "dropdown",
            ("message", "buttonText", "placeholderText", "options", "width", "displayInKeyboard", "allowCreation",
             "allowMultiple", "markdown", "typing"),
        ),
    )
}


def _js_truthy(v: Any) -> bool:
    return v not in (None, False, "", 0) and not (isinstance(v, float) and v != v)


def translate(form: Mapping[str, Any], ctype: ContentType | None, lang: str, default_lang: str) -> JSONDict:
    """Pick each property's value for `lang`, falling back to the bot's default language.

    Like Botpress, a falsy translation falls through to the next candidate. Unlike Botpress, a plain
    untranslated `P` value is accepted last, so hand-written bots work without `$lang` suffixes.
    """
    if ctype is not None:
        props: list[str] = list(ctype.properties)
    else:
        props = []
        for key in form:
            base = key.split("$", 1)[0]
            if base not in props:
                props.append(base)
    out: JSONDict = {}
    for p in props:
        candidates = [form.get(f"{p}${lang}"), form.get(f"{p}${default_lang}")]
        nested = form.get(p)
        if isinstance(nested, Mapping):
            candidates += [nested.get(lang), nested.get(default_lang)]
        value = next((c for c in candidates if _js_truthy(c)), None)
        if value is None and p in form and not isinstance(nested, Mapping):
            value = nested
        if value is not None:
            out[p] = value
    return out


def _payload(ctype: ContentType, data: Mapping[str, Any]) -> list[JSONDict]:
    if ctype.payload_type is None:
        return []
    payload: JSONDict = {"type": ctype.payload_type}
    for k, v in data.items():
        if k not in _NOT_IN_PAYLOAD and v is not None:
            payload[k] = v
    return [payload]


def _static_payload(ctype: ContentType, args: Mapping[str, Any],
                    static: list[tuple[str, Any]]) -> JSONDict | None:
    """What `_payload` makes of an element without templates or variations: its type, the instruction's
    own arguments (`{"skill": "choice"}`), then the element's values in schema order. None when an
    argument is named like a schema property (the general path keeps that key's place)."""
    payload: JSONDict = {"type": ctype.payload_type}
    properties = ctype.properties
    for k, v in args.items():
        if k in _NOT_IN_PAYLOAD:
            continue
        if k in properties:
            return None
        if v is not None:
            payload[k] = v
    for k, v in static:
        payload[k] = v
    return payload


Renderer = Callable[[str, JSONDict], list[JSONDict]]


def render_content(
    bot: Bot,
    ref: str,
    args: JSONDict,
    *,
    lang: str | None,
    rng: random.Random,
    external_url: str = "",
    scope: JSONDict | None = None,
) -> list[JSONDict]:
    """Render `#!element-id`, `@type` (say_something node) or `type` (inline args) into payloads.

    `args` holds the instruction's own arguments plus the context (`event`, `user`, `session`,
    `temp`, `bot`), or, given `scope`, only its own arguments, the context being `scope` (which wins
    over an argument of the same name): an element without templates then never needs the two
    merged. Every template is rendered exactly once: text a user typed that ends up in a value is
    never interpreted as a template.
    """
    ref = ref[1:] if ref.startswith("#") else ref
    default_lang = bot.config.default_language
    lang = lang or default_lang
    if ref.startswith("!"):
        element = bot.content.get(ref[1:])
        if element is None:
            raise ContentError(f'Content element "{ref}" not found')
        ctype = CONTENT_TYPES.get(element.content_type)
        if ctype is None:
            raise ContentError(f'Content type "{element.content_type}" is not supported')
        cached = element.cache.get(lang)
        if cached is None:
            translated = translate(element.form_data, ctype, lang, default_lang)
            dynamic = _has_templates(translated)
            # without templates or variations, the element's part of the payload is the same every time
            static = None if dynamic or "variations" in translated else [
                (k, v) for k, v in {**dict.fromkeys(ctype.properties), **translated}.items()
                if k not in _NOT_IN_PAYLOAD and v is not None]
            cached = (translated, dynamic, _has_url_markers(translated), static)
            element.cache[lang] = cached
        translated, dynamic, urls, static = cached
        if static is not None and ctype.payload_type is not None:
            payload = _static_payload(ctype, args, static)
            if payload is not None:
                return [fix_urls(payload, bot.id, external_url)] if external_url and urls else [payload]
        if scope is not None:
            args = {**args, **scope}
        form = render_data(translated, args) if dynamic else dict(translated)
        urls = urls or dynamic  # a rendered value may be a bot media path
        if "variations" in form:  # `_.sample([text, ...variations])`; a falsy pick keeps the text as it is
            variations = form.get("variations")
            pick = rng.choice([form.get("text"), *(variations if isinstance(variations, list) else [])])
            if pick:
                form["text"] = pick
        # Every schema property comes from the element, even when it has no value there: an
        # instruction argument of the same name (`{"typing": true}`) does not survive.
        data = {**args, **dict.fromkeys(ctype.properties), **form}
    else:
        type_id = ref[1:] if ref.startswith("@") else ref
        ctype = CONTENT_TYPES.get(type_id)
        if ctype is None:
            raise ContentError(f'Content type "{type_id}" is not supported')
        data = dict(args) if scope is None else {**args, **scope}
        if ref.startswith("@"):
            own = {k: v for k, v in args.items() if k not in CONTEXT_KEYS}
            data.update(dict.fromkeys(ctype.properties))
            data.update(translate(own, ctype, lang, default_lang))
        # Botpress templates only the `text` of an inline or say_something output.
        text = data.get("text")
        if isinstance(text, str):
            data["text"] = render(text, data)
        urls = True
    payloads = _payload(ctype, data)
    return fixed_urls(payloads, bot.id, external_url) if urls else payloads


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _has_templates(form: JSONDict) -> bool:
    return any("{{" in s for s in _strings(form))


def _has_url_markers(form: JSONDict) -> bool:
    return any("BOT_URL" in s or s.startswith("/api/v") for s in _strings(form))


_BP_MEDIA_URL = re.compile(r"/api/.*/bots/.*/media/")


def fix_urls(value: Any, bot_id: str, external_url: str) -> Any:
    """Absolutize bot media paths and the `BOT_URL` placeholder, as Botpress's outgoing `messaging.fixUrl`
    middleware does to every payload: its `replace` takes the first `BOT_URL` only, and a media path is
    what its `isBpUrl` pattern matches."""
    if isinstance(value, str):
        if "BOT_URL" in value:
            value = value.replace("BOT_URL", external_url, 1)
        if value.startswith("/api/") and _BP_MEDIA_URL.match(value):
            value = external_url.rstrip("/") + value
        return value
    if isinstance(value, dict):
        return {k: fix_urls(v, bot_id, external_url) for k, v in value.items()}
    if isinstance(value, list):
        return [fix_urls(v, bot_id, external_url) for v in value]
    return value


def fixed_urls(payloads: list[JSONDict], bot_id: str, external_url: str) -> list[JSONDict]:
    """`fix_urls` on payloads that go out as they are (an action's reply, a QnA's text answer), as
    Botpress's outgoing middleware fixes every payload; nothing to do without an external URL."""
    return [fix_urls(p, bot_id, external_url) for p in payloads] if external_url else payloads


def render_text_answer(text: str | None, args: JSONDict) -> JSONDict:
    """A QnA answer: Botpress renders it as builtin_text with feedback enabled (no answer to pick from
    leaves the text out)."""
    payload: JSONDict = {"type": "text", "collectFeedback": True}
    if text is not None:
        payload["text"] = render(text, args)
    payload["typing"] = True
    payload["markdown"] = True
    return payload
