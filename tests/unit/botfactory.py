"""Write small synthetic Botpress bots into a temporary folder and chat with them.

Tests describe a bot as Python dicts (flows, content elements, Python actions), `make_bot` writes the
folder exactly as an author would and loads it with the real loader, and `Chat` drives turns the way
the Converse route does: the memory returned by one turn feeds the next.
"""

from __future__ import annotations

import json
import random
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from parley.bots.loader import load_bot
from parley.bots.models import Bot, BrokenBot
from parley.engine.runtime import EngineOptions
from parley.engine.state import Memory
from parley.engine.turn import TurnResult, Understand, run_timeout, run_turn

JSONDict = dict[str, Any]
NextSpec = Iterable[tuple[str, str] | Mapping[str, Any]]


# ------------------------------------------------------------------------------------ building bits


def node(
    name: str,
    *on_enter: str,
    receive: Iterable[str] | None = None,
    next: NextSpec | None = None,  # noqa: A002 - Botpress's own key
    **extra: Any,
) -> JSONDict:
    """A flow node. `next` takes `(condition, target)` pairs; `receive=[]` waits and does nothing."""
    out: JSONDict = {
        "id": f"id-{name}",
        "name": name,
        "onEnter": list(on_enter),
        "onReceive": None if receive is None else list(receive),
        "next": [t if isinstance(t, Mapping) else {"condition": t[0], "node": t[1]} for t in next or ()],
    }
    out.update(extra)
    return out


def flow(*nodes: JSONDict, start: str | None = None, catch_all: JSONDict | None = None, **extra: Any) -> JSONDict:
    out: JSONDict = {"version": "0.0.1", "startNode": start or nodes[0]["name"], "nodes": list(nodes)}
    if catch_all is not None:
        out["catchAll"] = catch_all
    out.update(extra)
    return out


def say(text: str, **args: Any) -> str:
    """An inline text output: `say #builtin_text {"text": ...}`."""
    return "say #builtin_text " + json.dumps({"text": text, **args})


def set_var(scope: str, name: str, value: Any) -> str:
    return "builtin/setVariable " + json.dumps({"type": scope, "name": name, "value": value})


def action(name: str, args: JSONDict | None = None) -> str:
    return f"{name} {json.dumps(args)}" if args is not None else name


def text_element(element_id: str, text: str, *, lang: str = "en", **fields: Any) -> JSONDict:
    """A stored builtin_text element, translated the way Botpress stores them (`text$en`)."""
    form: JSONDict = {f"text${lang}": text}
    form.update({f"{k}${lang}": v for k, v in fields.items()})
    return {"id": element_id, "formData": form}


def choice_skill(
    *,
    random_id: str,
    content_id: str,
    keywords: Mapping[str, list[str]],
    invalid_content_id: str | None = None,
    max_retries: int = 1,
) -> JSONDict:
    """The choice skill flow as Botpress's (newer) generator writes it, with a `-<randomId>` suffix."""
    sfx = f"-{random_id}"
    config = {"nbMaxRetries": max_retries, "repeatChoicesOnInvalid": False, "variableName": random_id}
    data = {"randomId": random_id, "contentId": content_id, "invalidContentId": invalid_content_id or "",
            "keywords": dict(keywords), "config": config}
    sorry = [f"say #!{invalid_content_id}"] if invalid_content_id else []
    return flow(
        node(
            "entry",
            set_var("temp", f"skill-choice-invalid-count{sfx}", 0),
            set_var("temp", f"skill-choice-valid{sfx}", None),
            set_var("temp", f"skill-choice-ret{sfx}", None),
            f'say #!{content_id} {{"skill":"choice"}}',
            next=[("true", "parse")],
        ),
        node(
            "parse",
            receive=["basic-skills/choice_parse_answer " + json.dumps(data)],
            next=[(f"temp['skill-choice-valid{sfx}'] === true", "#"), ("true", "invalid")],
        ),
        node(
            "invalid",
            action("basic-skills/choice_invalid_answer", {"randomId": random_id}),
            next=[
                (f"Number(temp['skill-choice-invalid-count{sfx}']) > Number({max_retries})", "#"),
                ("true", "sorry"),
            ],
        ),
        node("sorry", *sorry, next=[("true", "parse")]),
        skillData=data,
    )


# --------------------------------------------------------------------------------------- the folder


def write_bot(
    root: Path,
    *,
    flows: Mapping[str, JSONDict | str],
    content: Mapping[str, list[JSONDict]] | None = None,
    actions: Mapping[str, str] | None = None,
    config: JSONDict | None = None,
    qna: Mapping[str, JSONDict] | None = None,
    files: Mapping[str, str] | None = None,
    name: str = "testbot",
) -> Path:
    """Write a bot folder. Flow values that are strings are written verbatim (to test broken JSON);
    action values are Python source (dedented); `files` adds any other file by relative path."""
    folder = root / name
    (folder / "flows").mkdir(parents=True)
    cfg: JSONDict = {"id": name, "defaultLanguage": "en", "languages": ["en"]}
    cfg.update(config or {})
    (folder / "bot.config.json").write_text(json.dumps(cfg, indent=2))
    for fname, data in flows.items():
        path = folder / "flows" / (fname if fname.endswith(".flow.json") else fname + ".flow.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    for ctype, elements in (content or {}).items():
        (folder / "content-elements").mkdir(exist_ok=True)
        (folder / "content-elements" / f"{ctype}.json").write_text(json.dumps(elements, indent=2))
    for aname, source in (actions or {}).items():
        path = folder / "actions" / f"{aname}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    for qid, data in (qna or {}).items():
        (folder / "qna").mkdir(exist_ok=True)
        (folder / "qna" / f"{qid}.json").write_text(json.dumps({"id": qid, "data": data}))
    for rel, text in (files or {}).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def make_bot(root: Path, **kwargs: Any) -> Bot:
    """Write and load a bot that must load cleanly."""
    loaded = load_bot(write_bot(root, **kwargs))
    assert isinstance(loaded, Bot), f"bot failed to load: {getattr(loaded, 'reason', loaded)}"
    return loaded


def make_broken(root: Path, **kwargs: Any) -> BrokenBot:
    loaded = load_bot(write_bot(root, **kwargs))
    assert isinstance(loaded, BrokenBot), "the bot was expected not to load"
    return loaded


# ------------------------------------------------------------------------------------------ chatting


def texts(result: TurnResult) -> list[str]:
    """What the user reads: the `text` of every payload that has one."""
    return [str(p["text"]) for p in result.responses if "text" in p]


class Chat:
    """One user talking to one bot; each `send` is a Converse request."""

    def __init__(
        self,
        bot: Bot,
        *,
        user_id: str = "u1",
        seed: int = 1,
        options: EngineOptions | None = None,
        understand: Understand | None = None,
        memory: Memory | None = None,
    ) -> None:
        self.bot = bot
        self.user_id = user_id
        self.rng = random.Random(seed)
        self.options = options
        self.understand = understand
        self.memory = memory or Memory()
        self.last: TurnResult | None = None

    async def send(self, text: str = "hi", *, understand: Understand | None = None,
                   included_contexts: list[str] | None = None) -> list[str]:
        self.last = await run_turn(
            self.bot,
            self.memory,
            {"type": "text", "text": text},
            user_id=self.user_id,
            options=self.options,
            understand=understand or self.understand,
            included_contexts=included_contexts,
            rng=self.rng,
        )
        self.memory = self.last.memory
        return texts(self.last)

    async def timeout(self) -> list[str]:
        self.last = await run_timeout(self.bot, self.memory, user_id=self.user_id, options=self.options,
                                      rng=self.rng)
        self.memory = self.last.memory
        return texts(self.last)

    @property
    def temp(self) -> JSONDict:
        return self.memory.temp

    @property
    def context(self) -> JSONDict:
        return self.memory.context

    @property
    def session(self) -> JSONDict:
        return self.memory.session

    @property
    def user(self) -> JSONDict:
        return self.memory.user

    @property
    def errors(self) -> list[JSONDict]:
        assert self.last is not None
        return self.last.errors


ERROR_FLOW = flow(node("entry", say("Oops, error")))


def nlu(*intents: tuple[str, float], context: str = "global", **extra: Any) -> Understand:
    """An `understand` function that always answers these intents (first = elected)."""
    listed = [{"name": n, "confidence": c, "context": context} for n, c in intents]

    def understand(bot: Bot, event: JSONDict) -> JSONDict:
        out: JSONDict = {"intents": listed, "intent": listed[0] if listed else {"name": "none"}}
        out.update(extra)
        return out

    return understand
