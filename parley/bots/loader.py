"""Turn a Botpress v12 bot folder into a validated `Bot`, or a `BrokenBot` listing every problem.

Loading never raises for a bad bot: one broken file makes that bot answer 503 with the reason while
every other bot keeps serving. JavaScript actions and hooks cannot run in parley; they are listed by
file as skipped so that an author knows what to port.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parley.bots.jsonloc import JsonFileError, PathPart, locate, read_json
from parley.bots.models import (
    Bot,
    BotConfig,
    BrokenBot,
    CatchAll,
    ContentElement,
    Entity,
    Flow,
    Intent,
    Node,
    Problem,
    QnaItem,
    Transition,
)
from parley.engine.expressions import ExpressionError, compile_expression

log = logging.getLogger("parley.bots")

ActionFn = Callable[..., Any]


class _SchemaError(Exception):
    def __init__(self, parts: tuple[PathPart, ...], message: str) -> None:
        super().__init__(message)
        self.parts = parts
        self.message = message


@dataclass
class _Collector:
    root: Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def read(self, path: Path) -> Any:
        try:
            return read_json(path, self.rel(path))
        except JsonFileError as exc:
            self.problems.append(exc.problem)
            return None

    def schema(self, path: Path, exc: _SchemaError) -> None:
        self.problems.append(Problem(self.rel(path), exc.message, locate(path, exc.parts)))


def bot_id_for(folder: Path) -> str:
    """The folder's name, as Botpress names its bots (the directory of each `bot.config.json`); the
    `id` written in that file does not route requests there, so a copied folder is a bot of its own."""
    return folder.name


def peek_config(folder: Path) -> BotConfig:
    """A bot folder's bot.config.json alone (empty when unreadable), without loading the bot: lets the
    server start slow work a bot will need (its language identifier) before the bots are loaded."""
    cfg_path = folder / "bot.config.json"
    try:
        cfg = read_json(cfg_path, str(cfg_path))
    except JsonFileError:
        return BotConfig({})
    return BotConfig(cfg if isinstance(cfg, dict) else {})


def discover(data_dir: Path) -> list[Path]:
    bots = data_dir / "bots"
    if not bots.is_dir():
        return []
    return sorted(p for p in bots.iterdir() if p.is_dir() and (p / "bot.config.json").is_file())


def load_bot(folder: Path, global_actions: Mapping[str, ActionFn] | None = None) -> Bot | BrokenBot:
    col = _Collector(folder)
    bot_id = bot_id_for(folder)
    raw_cfg = col.read(folder / "bot.config.json")
    if raw_cfg is not None and not isinstance(raw_cfg, dict):
        col.problems.append(Problem(col.rel(folder / "bot.config.json"), "must be a JSON object", "$"))
        raw_cfg = None
    config = BotConfig(raw_cfg or {})

    flows = _load_flows(folder, col)
    content = _load_content(folder, col)
    intents = _load_intents(folder, col, config.default_language)
    entities = _load_entities(folder, col)
    qna = _load_qna(folder, col)
    actions, skipped = _load_actions(folder, col)
    merged_actions = {**(global_actions or {}), **actions}

    if col.problems:
        return BrokenBot(bot_id, folder, tuple(col.problems), disabled=config.disabled)
    if "main.flow.json" not in flows:
        col.warnings.append(Problem(col.rel(folder / "flows"), "no main.flow.json: the bot cannot answer"))
    _check_references(flows, content, col)
    for w in col.warnings:
        log.warning("bot %s: %s", bot_id, w)
    for s in skipped:
        log.warning("bot %s: skipped %s (JavaScript cannot run in parley; port it to Python)", bot_id, s)
    return Bot(
        id=bot_id,
        path=folder,
        config=config,
        flows=flows,
        content=content,
        intents=intents,
        entities=entities,
        qna=qna,
        actions=merged_actions,
        skipped=tuple(skipped),
        warnings=tuple(col.warnings),
    )


# ---------------------------------------------------------------------------------------------- flows


def _str_list(value: Any, parts: tuple[PathPart, ...], *, allow_null: bool) -> tuple[str, ...] | None:
    if value is None:
        if allow_null:
            return None
        return ()
    if not isinstance(value, list):
        raise _SchemaError(parts, "must be an array of strings" + (" or null" if allow_null else ""))
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _SchemaError((*parts, i), 'must be a string (an instruction such as "say #!id")')
    return tuple(value)


def _transitions(value: Any, parts: tuple[PathPart, ...]) -> tuple[Transition, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _SchemaError(parts, "must be an array of transitions")
    out = []
    for i, t in enumerate(value):
        if not isinstance(t, dict):
            raise _SchemaError((*parts, i), "a transition must be an object {condition, node}")
        # Botpress evaluates `return <condition>;`: a missing or empty condition is never true
        cond = t.get("condition")
        node = t.get("node", "")
        if cond is None:
            cond = ""
        if not isinstance(cond, str):
            raise _SchemaError((*parts, i, "condition"), "must be a string")
        if node is None:
            node = ""
        if not isinstance(node, str):
            raise _SchemaError((*parts, i, "node"), "must be a string")
        out.append(Transition(cond, node))
    return tuple(out)


def parse_flow(name: str, data: Any) -> Flow:
    if not isinstance(data, dict):
        raise _SchemaError((), "a flow must be a JSON object")
    version = data.get("version")
    if not isinstance(version, str) or not version.startswith("0."):
        raise _SchemaError(("version",), 'required: a string starting with "0." (e.g. "0.0.1")')
    nodes_raw = data.get("nodes")
    if not isinstance(nodes_raw, list):
        raise _SchemaError(("nodes",), "required: an array of nodes")
    catch_raw = data.get("catchAll") or {}
    if not isinstance(catch_raw, dict):
        raise _SchemaError(("catchAll",), "must be an object")
    if catch_raw.get("onEnter"):
        raise _SchemaError(("catchAll", "onEnter"), "catchAll cannot have onEnter")
    catch_all = CatchAll(
        on_receive=_str_list(catch_raw.get("onReceive"), ("catchAll", "onReceive"), allow_null=False) or (),
        next=_transitions(catch_raw.get("next"), ("catchAll", "next")),
    )
    nodes: dict[str, Node] = {}
    for i, n in enumerate(nodes_raw):
        p: tuple[PathPart, ...] = ("nodes", i)
        if not isinstance(n, dict):
            raise _SchemaError(p, "a node must be an object")
        node_name = n.get("name")
        if not isinstance(node_name, str) or not node_name:
            raise _SchemaError((*p, "name"), "required: a non-empty string")
        if node_name in nodes:
            raise _SchemaError((*p, "name"), f'duplicate node name "{node_name}"')
        node_id = n.get("id", node_name)
        if not isinstance(node_id, str):
            raise _SchemaError((*p, "id"), "must be a string")
        node_type = n.get("type") or "standard"
        if not isinstance(node_type, str):
            raise _SchemaError((*p, "type"), "must be a string")
        sub = n.get("flow")
        if node_type == "skill-call" and not isinstance(sub, str):
            raise _SchemaError((*p, "flow"), "a skill-call node needs the skill's flow name")
        content = n.get("content")
        if content is not None and not isinstance(content, dict):
            raise _SchemaError((*p, "content"), "must be an object {contentType, formData}")
        nodes[node_name] = Node(
            id=node_id,
            name=node_name,
            type=node_type,
            on_enter=_str_list(n.get("onEnter"), (*p, "onEnter"), allow_null=False) or (),
            on_receive=_str_list(n.get("onReceive"), (*p, "onReceive"), allow_null=True),
            next=_transitions(n.get("next"), (*p, "next")),
            skill=n.get("skill") if isinstance(n.get("skill"), str) else None,
            flow=sub if isinstance(sub, str) else None,
            content=content,
        )
    start = data.get("startNode")
    if not isinstance(start, str) or start not in nodes:
        raise _SchemaError(("startNode",), f"must name an existing node (got {start!r})")
    skill_data = data.get("skillData")
    return Flow(
        name=name,
        start_node=start,
        nodes=nodes,
        catch_all=catch_all,
        skill_data=skill_data if isinstance(skill_data, dict) else None,
    )


def _load_flows(folder: Path, col: _Collector) -> dict[str, Flow]:
    flows: dict[str, Flow] = {}
    root = folder / "flows"
    if not root.is_dir():
        return flows
    for path in sorted(root.rglob("*.flow.json")):
        name = path.relative_to(root).as_posix()
        data = col.read(path)
        if data is None:
            continue
        try:
            flow = parse_flow(name, data)
        except _SchemaError as exc:
            col.schema(path, exc)
            continue
        flows[name.lower()] = flow
    return flows


def _check_references(flows: Mapping[str, Flow], content: Mapping[str, ContentElement], col: _Collector) -> None:
    """Faults Botpress only finds at run time: reported as warnings, the bot still loads."""
    for flow in flows.values():
        transitions = list(flow.catch_all.next)
        for node in flow.nodes.values():
            transitions.extend(node.next)
            if node.type == "skill-call" and node.flow and (node.flow + "").lower() not in flows:
                col.warnings.append(
                    Problem(f"flows/{flow.name}", f'node "{node.name}": skill flow "{node.flow}" not found')
                )
            for instr in (*node.on_enter, *(node.on_receive or ())):
                if instr.startswith("say #!"):
                    ref = instr[6:].split(" ", 1)[0]
                    if ref not in content:
                        col.warnings.append(
                            Problem(f"flows/{flow.name}", f'node "{node.name}": content element "{ref}" not found')
                        )
        for t in transitions:
            try:
                if t.condition.strip() not in ("true", "") and not t.condition.startswith("lastNode="):
                    compile_expression(t.condition)
            except ExpressionError as exc:
                col.warnings.append(Problem(f"flows/{flow.name}", f"condition {t.condition!r}: {exc}"))
            target = t.node
            if not target or target == "END" or target.startswith("#") or ".flow.json" in target:
                continue
            if target not in flow.nodes:
                col.warnings.append(Problem(f"flows/{flow.name}", f'transition to unknown node "{target}"'))


# --------------------------------------------------------------------------------------- content, NLU


def _load_content(folder: Path, col: _Collector) -> dict[str, ContentElement]:
    out: dict[str, ContentElement] = {}
    root = folder / "content-elements"
    if not root.is_dir():
        return out
    for path in sorted(root.glob("*.json")):
        data = col.read(path)
        if data is None:
            continue
        if not isinstance(data, list):
            col.schema(path, _SchemaError((), "must be an array of content elements"))
            continue
        for i, el in enumerate(data):
            if not isinstance(el, dict) or not isinstance(el.get("id"), str):
                col.schema(path, _SchemaError((i, "id"), "each element needs a string id"))
                continue
            form = el.get("formData", {})
            if not isinstance(form, dict):
                col.schema(path, _SchemaError((i, "formData"), "must be an object"))
                continue
            out[el["id"]] = ContentElement(el["id"], path.stem, form)
    return out


def _lang_lists(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        return {}
    return {
        lang: tuple(x for x in items if isinstance(x, str)) for lang, items in value.items() if isinstance(items, list)
    }


def _name(data: dict[str, Any], key: str, default: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) and value else default


def _str_tuple(value: Any) -> tuple[str, ...]:
    return tuple(x for x in value if isinstance(x, str)) if isinstance(value, list) else ()


def _load_intents(folder: Path, col: _Collector, default_language: str) -> dict[str, Intent]:
    out: dict[str, Intent] = {}
    root = folder / "intents"
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        data = col.read(path)
        if data is None:
            continue
        if not isinstance(data, dict):
            col.schema(path, _SchemaError((), "an intent must be a JSON object"))
            continue
        name = _name(data, "name", path.stem)
        # Botpress 12.0.1's migration: the `numeral` entity became `number`
        slots = tuple({**s, "entities": ["number" if e == "numeral" else e for e in s["entities"]]}
                      if isinstance(s.get("entities"), list) else s
                      for s in data.get("slots") or [] if isinstance(s, dict))
        utterances = data.get("utterances")
        if isinstance(utterances, list):  # a Botpress 11 intent: one language, the bot's
            col.warnings.append(Problem(col.rel(path), f"utterances without a language: read as the bot's default "
                                                       f"language ({default_language}); Botpress 12 keys them by "
                                                       f'language, {{"{default_language}": [...]}}'))
            utterances = {default_language: utterances}
        out[name] = Intent(name, _str_tuple(data.get("contexts")) or ("global",), _lang_lists(utterances), slots)
    return out


def _load_entities(folder: Path, col: _Collector) -> dict[str, Entity]:
    out: dict[str, Entity] = {}
    root = folder / "entities"
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        data = col.read(path)
        if data is None:
            continue
        if not isinstance(data, dict):
            col.schema(path, _SchemaError((), "an entity must be a JSON object"))
            continue
        name = _name(data, "name", path.stem)
        out[name] = Entity(name, str(data.get("type", "list")), _migrated_entity(data))
    return out


def _migrated_entity(data: dict[str, Any]) -> dict[str, Any]:
    """An entity file as Botpress's migrations leave it when it mounts an older bot: 12.3.2 renamed
    the misspelt `occurences`, and 12.2.3 turned a list's `fuzzy` flag into a tolerance (on: medium,
    0.8; off: strict, 1)."""
    if "occurences" in data and "occurrences" not in data:
        data = {**{k: v for k, v in data.items() if k != "occurences"}, "occurrences": data["occurences"]}
    if isinstance(data.get("fuzzy"), bool):
        data = {**data, "fuzzy": 0.8 if data["fuzzy"] else 1.0}
    return data


def _load_qna(folder: Path, col: _Collector) -> dict[str, QnaItem]:
    out: dict[str, QnaItem] = {}
    root = folder / "qna"
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        data = col.read(path)
        if data is None:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
            col.schema(path, _SchemaError(("data",), "a QnA file needs a `data` object"))
            continue
        d = data["data"]
        qid = _name(data, "id", path.stem)
        out[qid] = QnaItem(
            id=qid,
            questions=_lang_lists(d.get("questions")),
            answers=_lang_lists(d.get("answers")),
            action=str(d.get("action") or "text"),
            redirect_flow=str(d.get("redirectFlow") or ""),
            redirect_node=str(d.get("redirectNode") or ""),
            enabled=bool(d.get("enabled", True)),
            contexts=_str_tuple(d.get("contexts")) or ("global",),
        )
    return out


# -------------------------------------------------------------------------------------------- actions


def load_python_actions(root: Path, col: _Collector, namespace: str) -> dict[str, ActionFn]:
    """Every `*.py` under `root` is one action named by its path without `.py`; it must define `run`."""
    actions: dict[str, ActionFn] = {}
    if not root.is_dir():
        return actions
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).with_suffix("").as_posix()
        if path.name.startswith("_"):
            continue
        module_name = f"parley_actions.{namespace}.{name.replace('/', '.').replace('-', '_')}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ImportError("cannot create a module spec")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # an author's file may raise anything while importing
            col.problems.append(Problem(col.rel(path), f"cannot import action: {type(exc).__name__}: {exc}"))
            continue
        fn = getattr(module, "run", None)
        if fn is None or not inspect.iscoroutinefunction(fn):
            col.problems.append(Problem(col.rel(path), "an action module must define `async def run(...)`"))
            continue
        actions[name] = fn
    return actions


def _js_files(root: Path) -> Iterable[Path]:
    return sorted(root.rglob("*.js")) if root.is_dir() else []


def _load_actions(folder: Path, col: _Collector) -> tuple[dict[str, ActionFn], list[str]]:
    actions = load_python_actions(folder / "actions", col, namespace=folder.name)
    skipped = [col.rel(p) for p in (*_js_files(folder / "actions"), *_js_files(folder / "hooks"))]
    return actions, skipped


def load_global_actions(data_dir: Path) -> tuple[dict[str, ActionFn], list[Problem], list[str]]:
    col = _Collector(data_dir / "global")
    actions = load_python_actions(data_dir / "global" / "actions", col, namespace="__global__")
    skipped = [
        col.rel(p) for p in (*_js_files(data_dir / "global" / "actions"), *_js_files(data_dir / "global" / "hooks"))
    ]
    return actions, col.problems, skipped
