"""The instruction queue of a node (SPEC §3.8) and the parsing of `say` / action instructions.

Queues are plain dicts because Botpress persists them inside `context.queue` and the secured route
shows them; a resumed conversation must read back exactly what was written.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import orjson

from parley.bots.models import Flow, Node
from parley.engine.state import json_copy

Instruction = dict[str, Any]


class InstructionError(Exception):
    """An instruction that cannot run (bad JSON args, unknown content...): logged, the turn stops."""


def build_queue(
    flow: Flow, node: Node, *, has_jumped: bool = False, only_transitions: bool = False
) -> list[Instruction]:
    """A node's queue. Its instructions are built once per flow and shared by every turn that walks
    the node: they are only read, and `owned` copies those a conversation keeps in its context (where
    an action could change them)."""
    key = (node.name, has_jumped, only_transitions)
    shared = flow.queues.get(key)
    if shared is None:
        shared = flow.queues[key] = tuple(_build_queue(flow, node, has_jumped, only_transitions))
    return list(shared)


def owned(instructions: list[Instruction]) -> list[Instruction]:
    """Instructions of `build_queue` made the conversation's own, to keep in its context, arguments
    included (a `say` node's are its content's `formData`, part of the loaded bot)."""
    return [{**ins, "args": json_copy(ins["args"])} if "args" in ins else dict(ins) for ins in instructions]


def _build_queue(flow: Flow, node: Node, has_jumped: bool, only_transitions: bool) -> list[Instruction]:
    queue: list[Instruction] = []
    if has_jumped:
        queue += [{"type": "transition", "fn": t.condition, "node": t.node} for t in flow.catch_all.next]
    if not only_transitions:
        queue += [{"type": "on-enter", "fn": fn} for fn in node.on_enter]
        if node.on_receive is not None:
            queue.append({"type": "wait"})
            queue += [{"type": "on-receive", "fn": fn} for fn in (*flow.catch_all.on_receive, *node.on_receive)]
        if node.type == "say_something" and node.content:
            ctype = node.content.get("contentType")
            queue.append({"type": "on-enter", "fn": f"say @{ctype}", "args": node.content.get("formData") or {}})
    queue += [
        {"type": "transition", "fn": t.condition, "node": t.node} for t in flow.catch_all.next if t.node != node.name
    ]
    queue += [{"type": "transition", "fn": t.condition, "node": t.node} for t in node.next]
    return queue


@functools.lru_cache(maxsize=4096)
def _json_object(raw: str) -> tuple[Any, bytes | None]:
    """An instruction's JSON arguments, parsed once per distinct text (flows are static data, run
    every turn), and, when they hold nested values, their compact serialization: those are rebuilt
    for each use, so an action that changes its arguments never changes the next turn's."""
    value = json.loads(raw)
    nested = isinstance(value, dict) and any(isinstance(v, dict | list) for v in value.values())
    if not nested:
        return value, None
    try:
        packed = orjson.dumps(value)
    except TypeError:  # an integer past 64 bits
        return value, b""
    # NaN or an infinity (Python's JSON parser reads them) would come back as null: copied instead
    return value, packed if orjson.loads(packed) == value else b""


def _loads_object(raw: str) -> Any:
    value, packed = _json_object(raw)
    if not isinstance(value, dict):
        return value
    if packed is None:
        return dict(value)
    return orjson.loads(packed) if packed else copy.deepcopy(value)


@functools.lru_cache(maxsize=4096)
def _split_say(fn: str) -> tuple[str, str]:
    """The content reference and the raw arguments of a `say` (a flow's few strings, split once)."""
    chunks = fn.split(" ")
    if len(chunks) < 2 or not chunks[1]:
        raise InstructionError(
            f"Invalid text instruction. Expected an instruction along 'say #text Something', got {fn!r}"
        )
    return chunks[1], " ".join(chunks[2:]).strip()


def parse_say(fn: str) -> tuple[str, dict[str, Any]]:
    """`say #!id {"skill":"choice"}` -> ("#!id", {"skill": "choice"})."""
    ref, raw = _split_say(fn)
    if not raw:
        return ref, {}
    try:
        args = _loads_object(raw)
    except json.JSONDecodeError as exc:
        raise InstructionError(f'Say "{ref}" has invalid arguments (not a valid JSON string): {raw}') from exc
    if not isinstance(args, dict):
        raise InstructionError(f'Say "{ref}" has invalid arguments (expected a JSON object): {raw}')
    return ref, args


@functools.lru_cache(maxsize=4096)
def _split_action(fn: str) -> tuple[str, str | None, str]:
    """The name, the action server (or None) and the raw arguments of an action (split once)."""
    head, _, raw = fn.strip().partition(" ")
    server: str | None = None
    if ":" in head:
        server, _, head = head.partition(":")
    return head, server, raw.strip()


def parse_action(fn: str) -> tuple[str, str | None, dict[str, Any]]:
    """`builtin/setVariable {...}` or `server:name {...}` -> (name, server or None, args)."""
    head, server, raw = _split_action(fn)
    if not raw:
        return head, server, {}
    try:
        args = _loads_object(raw)
    except json.JSONDecodeError as exc:
        raise InstructionError(f'Action "{head}" has invalid arguments (not a valid JSON string): {raw}') from exc
    if not isinstance(args, dict):
        raise InstructionError(f'Action "{head}" has invalid arguments (expected a JSON object): {raw}')
    return head, server, args
