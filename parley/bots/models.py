"""Typed, immutable views of a Botpress v12 bot folder.

A bot is parsed and validated once when it loads; the engine then only reads these objects, so a turn
never touches the disk and never re-parses JSON. Free-form Botpress data (content formData, config
sections) stays as plain JSON values because bot authors put arbitrary keys there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

JSON = Any

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Transition:
    condition: str
    node: str


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    name: str
    type: str
    on_enter: tuple[str, ...]
    # None means "do not wait"; an empty tuple means "wait, then do nothing" (Botpress's distinction).
    on_receive: tuple[str, ...] | None
    next: tuple[Transition, ...]
    skill: str | None = None
    flow: str | None = None
    content: Mapping[str, JSON] | None = None


@dataclass(frozen=True, slots=True)
class CatchAll:
    on_receive: tuple[str, ...] = ()
    next: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    start_node: str
    nodes: Mapping[str, Node]
    catch_all: CatchAll
    skill_data: Mapping[str, JSON] | None = None
    # Instruction queues of its nodes, built on first use (parley.engine.instructions.build_queue)
    queues: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def is_skill(self) -> bool:
        return self.name.startswith("skills/")


@dataclass(frozen=True, slots=True)
class ContentElement:
    id: str
    content_type: str
    form_data: Mapping[str, JSON]
    # Per-language translations computed on first use: a bot never changes once loaded, so the
    # hot path does not translate (or scan for templates) the same element on every message.
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    contexts: tuple[str, ...]
    utterances: Mapping[str, tuple[str, ...]]
    slots: tuple[Mapping[str, JSON], ...]


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    type: str
    raw: Mapping[str, JSON]


@dataclass(frozen=True, slots=True)
class QnaItem:
    id: str
    questions: Mapping[str, tuple[str, ...]]
    answers: Mapping[str, tuple[str, ...]]
    action: str
    redirect_flow: str
    redirect_node: str
    enabled: bool
    contexts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a bot folder, located precisely enough for an author to fix it."""

    path: str
    message: str
    location: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.location}" if self.location else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class BotConfig:
    raw: Mapping[str, JSON]

    def get(self, *path: str, default: JSON = None) -> JSON:
        cur: JSON = self.raw
        for key in path:
            # dict first: bot configs come from JSON, and the ABC check costs several times more
            if not (isinstance(cur, dict) or isinstance(cur, Mapping)) or key not in cur:
                return default
            cur = cur[key]
        return cur

    @property
    def disabled(self) -> bool:
        return bool(self.raw.get("disabled", False))

    @property
    def private(self) -> bool:
        return bool(self.raw.get("private", False))

    @property
    def default_language(self) -> str:
        lang = self.raw.get("defaultLanguage")
        return lang if isinstance(lang, str) and lang else "en"

    @property
    def languages(self) -> tuple[str, ...]:
        langs = self.raw.get("languages")
        if isinstance(langs, list) and all(isinstance(x, str) for x in langs) and langs:
            return tuple(langs)
        return (self.default_language,)


@dataclass(frozen=True)
class Bot:
    """A loaded bot. `actions` maps an action name to a Python callable found in `actions/*.py`."""

    id: str
    path: Path
    config: BotConfig
    flows: Mapping[str, Flow]
    content: Mapping[str, ContentElement]
    intents: Mapping[str, Intent] = field(default_factory=dict)
    entities: Mapping[str, Entity] = field(default_factory=dict)
    qna: Mapping[str, QnaItem] = field(default_factory=dict)
    actions: Mapping[str, Any] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()
    # Values derived from the bot and the server settings (durations, engine options), computed once.
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def derived(self, key: Any, compute: Callable[..., _T], *args: Any) -> _T:
        """`compute(*args)`, kept under `key` for the bot's lifetime: its configuration and the server's
        are fixed (a changed bot folder loads a new Bot), so what follows from them is computed once.
        (A function and its arguments rather than a closure: this runs several times per message.)"""
        cache = self.cache
        if key in cache:
            return cast(_T, cache[key])
        value = cache[key] = compute(*args)
        return value

    def find_flow(self, name: str) -> Flow | None:
        """Botpress adds `.flow.json` when missing and compares names case-insensitively. (`flows` is keyed
        by the lowercased name, which most look-ups, made with a flow's own name, already are.)"""
        flow = self.flows.get(name)
        if flow is not None:
            return flow
        key = name if name.endswith(".flow.json") else name + ".flow.json"
        return self.flows.get(key.lower())


@dataclass(frozen=True)
class BrokenBot:
    """A bot whose files could not be loaded: it answers 503 with the reason; other bots run on."""

    id: str
    path: Path
    problems: tuple[Problem, ...]
    disabled: bool = False

    @property
    def reason(self) -> str:
        return "; ".join(str(p) for p in self.problems)
