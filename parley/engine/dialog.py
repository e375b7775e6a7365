"""The dialog engine: walks flows and nodes for one event (SPEC §3.7–3.15).

It follows Botpress's rules closely, including the ones that surprise authors (a node whose
transitions all fail ends the dialog; `temp` lives until the dialog ends), because bots written for
Botpress rely on them.
"""

from __future__ import annotations

import logging
from typing import Any

from parley.bots.models import Flow, Node
from parley.engine.actions.base import ActionFailed
from parley.engine.actions.runner import run_action
from parley.engine.content import ContentError, render_content
from parley.engine.expressions import ExpressionError, evaluate_condition
from parley.engine.instructions import Instruction, InstructionError, build_queue, owned, parse_action, parse_say
from parley.engine.runtime import Turn
from parley.engine.state import JSONDict

log = logging.getLogger("parley.dialog")

MAIN_FLOW = "main.flow.json"
ERROR_FLOW = "error.flow.json"
TIMEOUT_FLOW = "timeout.flow.json"
END_FLOW = "conversation_end.flow.json"
LOOP_LIMIT = 3
MAX_STEPS = 2000  # a hard bound on instructions per turn, whatever the flows do


class FlowError(Exception):
    pass


class InfiniteLoopError(Exception):
    pass


def _as_is(instructions: list[Instruction]) -> list[Instruction]:
    return instructions


# What an instruction leads to: on to the next one, wait, an action to await, or a transition, which is
# its target itself (a string; "" ends the flow)
_NONE = object()
_WAIT = object()
_ACTION = object()


class DialogEngine:
    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.state: JSONDict = turn.state
        self.steps = 0
        self._counted_stack: Any = None  # `_check_loop`'s count of its frames so far
        self._counted = 0
        self._visits: dict[tuple[str, str], int] = {}

    # ----------------------------------------------------------------------------------- helpers

    def _flow(self, name: str) -> Flow:
        flow = self.turn.bot.find_flow(name)
        if flow is None:
            raise FlowError(f"Flow not found: {name}")
        return flow

    @staticmethod
    def _node(flow: Flow, name: str) -> Node:
        node = flow.nodes.get(name)
        if node is None:
            raise FlowError(f"Node not found: {name} (flow {flow.name})")
        return node

    def _push(self, flow: str, node: str) -> None:
        self.state["__stacktrace"].append({"flow": flow, "node": node})

    def _clean(self) -> None:
        self.state["context"] = {}
        self.state["temp"] = {}

    # ------------------------------------------------------------------------------ entry points

    async def process(self) -> None:
        """Run the current node's instructions until the bot waits, the flow ends or it jumps."""
        context = self.state["context"]
        if not context:
            main = self._flow(MAIN_FLOW)
            context = {"currentFlow": main.name, "currentNode": main.start_node}
            self.state["context"] = context
            self._push(main.name, main.start_node)
        flow = self._flow(context["currentFlow"])
        node = self._node(flow, context["currentNode"])

        if node.type == "skill-call" and not self._exiting_subflow(context):
            await self._enter_subflow(flow, node)
            return

        if context.get("hasJumped"):
            queue = build_queue(flow, node, has_jumped=True)
            context["hasJumped"] = False
            keep = owned
        elif isinstance(context.get("queue"), dict):
            queue = list(context["queue"].get("instructions") or [])
            keep = _as_is  # the context's own already
        else:
            queue = build_queue(flow, node)
            keep = owned

        # The queue is walked by index; what Botpress would have saved after each instruction (the
        # rest of the queue, `queue[i:]`) is written only where the walk stops, not after every step.
        i = 0
        while True:
            if i == len(queue):
                if i:
                    context["queue"] = {"instructions": []}
                await self._end_flow()
                return
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise InfiniteLoopError(f"More than {MAX_STEPS} instructions in one turn")
            instruction = queue[i]
            try:
                result = self._step(instruction)
                if result is _ACTION:
                    result = await self._action(instruction, flow, node)
            except (InstructionError, ContentError, ExpressionError) as exc:
                # Botpress logs the failure and stops the turn; the queue is left as it was.
                log.warning("bot %s: %s:%s: %s", self.turn.bot.id, flow.name, node.name, exc)
                self.turn.add_error("dialog-engine", str(exc))
                if i:
                    context["queue"] = {"instructions": keep(queue[i:])}
                return
            # The saved queue is a copy: if a later instruction of this node fails, the saved queue
            # still holds it, so the next message retries it (Botpress copies its queue the same way).
            if result is _NONE:
                i += 1
                continue
            if result is _WAIT:
                context["queue"] = {"instructions": keep(queue[i + 1:])}
                return
            assert isinstance(result, str)
            if not result:
                if i:
                    context["queue"] = {"instructions": keep(queue[i:])}
                await self._end_flow()
                return
            context.pop("queue", None)
            # A transition is taken the way Botpress's node does, catching what it throws right here.
            # An infinite loop cleans the dialog (context and temp) and ends the turn, saved, without the
            # error flow: Botpress 12.31's dialog engine rethrows the loop from its transition's own `catch`
            # into the `catch` of the same node, which only logs it ("we don't even want to transition to
            # error handling flow as risk of another infinite loop is too high"), so the decision engine
            # never sees it (SPEC 3.7 and 3.14 say it runs the error flow: the source says otherwise). Any
            # other failure (a missing flow or node, further down too) leads to `temp.onErrorFlowTo` or the
            # error flow; when that fails as well, the turn stops there, logged. The turn is saved.
            try:
                await self._transition(result)
            except InfiniteLoopError as loop:
                self._looped(loop)
            except Exception as failure:
                await self._transition_failed(result, failure)
            return

    async def jump_to(self, flow_name: str, node_name: str | None = None) -> None:
        """Botpress's `jumpTo`: used by QnA redirects, the error flow and timeouts."""
        flow = self._flow(flow_name)
        node = node_name or flow.start_node
        self._node(flow, node)
        self._push(flow.name, node)
        context = self.state["context"]
        context["currentFlow"] = flow.name
        context["currentNode"] = node
        context.pop("queue", None)
        context["hasJumped"] = True

    # ----------------------------------------------------------------------------- instructions

    def _step(self, ins: Instruction) -> Any:
        """Run a wait, a transition or a `say` right away; an action is left to `_action` (`_ACTION`),
        the only kind that awaits (no coroutine for the others, a dozen of which run per turn)."""
        kind = ins.get("type")
        if kind == "wait":
            return _WAIT
        fn = str(ins.get("fn", ""))
        if kind == "transition":
            return str(ins.get("node") or "") if self._condition(fn) else _NONE
        if fn.startswith("say "):
            self._say(fn, ins.get("args"))
            return _NONE
        return _ACTION

    async def _action(self, ins: Instruction, flow: Flow, node: Node) -> Any:
        # Unreadable arguments stop the turn like any faulty instruction; only running the action
        # (unknown name, exception, timeout) leads to the error flow.
        name, server, args = parse_action(str(ins.get("fn", "")))
        try:
            if server:
                log.warning(
                    "bot %s: remote action server %r is not supported; skipping %s", self.turn.bot.id, server, name
                )
                return _NONE
            await run_action(self.turn, name, args, where=f"{flow.name}:{node.name}")
        except ActionFailed as exc:
            log.warning("bot %s: action failed in %s:%s: %s", self.turn.bot.id, flow.name, node.name, exc)
            self.turn.add_error("action-execution", str(exc))
            return self._error_target()
        return _NONE

    def _condition(self, source: str) -> bool:
        source = source.strip()
        if source == "true":
            return True
        if not source:  # `return ;` gives undefined
            return False
        if source.startswith("lastNode="):
            stack = self.state["__stacktrace"]
            if not stack:
                return False
            previous = stack[-2] if len(stack) > 1 else stack[-1]
            return bool(previous.get("node") == source[len("lastNode=") :])
        return evaluate_condition(source, self.turn.scope())

    def _say(self, fn: str, node_args: Any) -> None:
        ref, args = parse_say(fn)
        if isinstance(node_args, dict):
            args = {**node_args, **args}
        self.turn.note_reply("dialogManager", ref)
        payloads = render_content(
            self.turn.bot,
            ref,
            args,
            lang=self.turn.user_lang,
            rng=self.turn.rng,
            external_url=self.turn.options.external_url,
            scope=self.turn.scope(),
        )
        self.turn.say(payloads)

    # ------------------------------------------------------------------------------ transitions

    def _exiting_subflow(self, context: JSONDict) -> bool:
        used = [jp for jp in context.get("jumpPoints") or [] if jp.get("used")]
        if not used:
            return False
        jp = used[0]
        return bool(
            jp.get("flow") == context.get("currentFlow")
            and jp.get("node") == context.get("currentNode")
            and not jp.get("executeNode")
        )

    async def _enter_subflow(self, parent: Flow, node: Node) -> None:
        sub = self._flow(node.flow or "")
        context = self.state["context"]
        jump_points = [jp for jp in context.get("jumpPoints") or [] if not jp.get("used")]
        self.state["context"] = {
            "currentFlow": sub.name,
            "currentNode": sub.start_node,
            "previousFlow": parent.name,
            "previousNode": node.name,
            "jumpPoints": [*jump_points, {"flow": parent.name, "node": node.name}],
        }  # no frame on the stack trace: Botpress's _goToSubflow pushes none (`lastNode=` sees the caller's)
        await self.process()

    def _check_loop(self) -> None:
        """Botpress's loop check: a node visited `LOOP_LIMIT` times in one turn. The frames are counted
        once each, as they are pushed between two checks (a stack trace replaced or shortened, by an
        action for example, is counted again from its start)."""
        stack = self.state["__stacktrace"]
        if stack is not self._counted_stack or len(stack) < self._counted:  # a new count
            self._counted_stack, self._counted, self._visits = stack, 0, {}
        visits = self._visits
        for i in range(self._counted, len(stack)):
            frame = stack[i]
            key = (frame.get("flow", ""), frame.get("node", ""))
            n = visits[key] = visits.get(key, 0) + 1
            if n >= LOOP_LIMIT:
                path = " --> ".join(f"{f.get('flow')} ({f.get('node')})" for f in stack)
                raise InfiniteLoopError(f"Infinite loop detected. ({path})")
        self._counted = len(stack)

    def _error_target(self) -> str:
        """Where a failure leads: `temp.onErrorFlowTo` when an action set it, else the error flow."""
        target = self.state["temp"].get("onErrorFlowTo")
        return target if isinstance(target, str) and target else ERROR_FLOW

    def _looped(self, exc: InfiniteLoopError) -> None:
        """A transition found an infinite loop (see `_transition`'s guard in `process`)."""
        log.warning("bot %s: %s", self.turn.bot.id, exc)
        self.turn.add_error("dialog-transition", str(exc))
        self.turn.add_error("dialog-engine", str(exc))
        self._clean()

    async def _transition_failed(self, target: str, exc: Exception) -> None:
        """A transition failed otherwise (see `_transition`'s guard in `process`)."""
        self.turn.add_error("dialog-transition", str(exc))
        log.warning("bot %s: transition to %r failed: %s", self.turn.bot.id, target, exc)
        try:
            await self._transition(self._error_target())
        except Exception as again:
            log.warning("bot %s: the error flow failed too: %s", self.turn.bot.id, again)
            self.turn.add_error("dialog-engine", str(again))

    async def _transition(self, target: str) -> None:
        self._check_loop()
        context = self.state["context"]
        jump_points = [jp for jp in context.get("jumpPoints") or [] if not jp.get("used")]
        current_flow = context.get("currentFlow", MAIN_FLOW)
        current_node = context.get("currentNode", "")

        if ".flow.json" in target:
            flow_name, _, node_name = target.partition("#")
            flow = self._flow(flow_name)
            node_name = node_name or flow.start_node
            self._node(flow, node_name)  # a missing node fails here, the context untouched (as in Botpress)
            self._push(flow.name, node_name)
            self.state["context"] = {
                "currentFlow": flow.name,
                "currentNode": node_name,
                "previousFlow": current_flow,
                "previousNode": current_node,
                "jumpPoints": [*jump_points, {"flow": current_flow, "node": current_node}],
            }
        elif target.startswith("#"):
            execute_node = target.startswith("##")
            node_name = target[2:] if execute_node else target[1:]
            if not jump_points:
                log.debug("bot %s: no jump point to return to from %s", self.turn.bot.id, current_flow)
                if "jumpPoints" in context:
                    context["jumpPoints"] = jump_points
                return
            jp = jump_points[-1]
            jp["used"] = True
            if execute_node:
                jp["executeNode"] = True
            flow = self._flow(jp["flow"])
            node_name = node_name or jp["node"]
            node = self._node(flow, node_name)
            queue = owned(build_queue(flow, node, only_transitions=not execute_node))
            self.state["context"] = {
                **context,
                "currentFlow": flow.name,
                "currentNode": node_name,
                "jumpPoints": jump_points,
                "queue": {"instructions": queue},
            }
            self._push(flow.name, node_name)
        elif target == "END":
            await self._end_flow()
            return
        else:
            self._push(current_flow, target)
            if not current_flow.startswith("skills/"):
                context["previousNode"] = current_node
            context["currentNode"] = target
            if "jumpPoints" in context:  # Botpress leaves it undefined when no flow was entered
                context["jumpPoints"] = jump_points
        await self.process()

    async def _end_flow(self) -> None:
        current = str(self.state["context"].get("currentFlow", "")).lower()
        if current == TIMEOUT_FLOW:
            self._clean()
            return
        if current == END_FLOW:
            return
        end = self.turn.bot.find_flow(END_FLOW)
        if end is None:
            self._clean()
            return
        context = self.state["context"]
        jump_points = [
            *(context.get("jumpPoints") or []),
            {"flow": context.get("currentFlow"), "node": context.get("currentNode")},
        ]
        self.state["context"] = {
            **{k: v for k, v in context.items() if k != "queue"},
            "currentFlow": end.name,
            "currentNode": end.start_node,
            "previousFlow": context.get("currentFlow"),
            "previousNode": context.get("currentNode"),
            "hasJumped": True,
            "jumpPoints": jump_points,
        }
        await self.process()
        if len(self.state["context"].get("jumpPoints") or []) == len(jump_points):
            self._clean()

    # ---------------------------------------------------------------------------------- timeout

    async def process_timeout(self) -> bool:
        """A context timed out: run the `timeout` node or `timeout.flow.json` (SPEC §3.15).

        Returns whether a timeout handler ran. Afterwards the context survives only if the handler
        left the bot waiting for an answer.
        """
        context = self.state["context"]
        if not context.get("currentFlow"):
            return False  # no conversation in progress: Botpress finds no flow and runs nothing
        context.pop("queue", None)
        flow = self.turn.bot.find_flow(str(context.get("currentFlow", "")))
        if flow is None:  # Botpress's `_findFlow` throws: the janitor logs it and resets the context
            self._clean()
            return False
        target: tuple[str, str] | None = None
        # the current flow's `timeout` node, else timeout.flow.json: a skill's flow has no timeout node,
        # and Botpress does not look in the flow that called it (SPEC 3.15 says it does; its source does not)
        if "timeout" in flow.nodes:
            target = (flow.name, "timeout")
        if target is None:
            tflow = self.turn.bot.find_flow(TIMEOUT_FLOW)
            if tflow is not None:
                target = (tflow.name, tflow.start_node)
        if target is None:
            self._clean()
            return False
        jump_points = [
            *(context.get("jumpPoints") or []),
            {"flow": context.get("currentFlow"), "node": context.get("currentNode")},
        ]
        # entered like a jump: the context keeps whatever else it holds (Botpress spreads it)
        self.state["context"] = {
            **context,
            "currentFlow": target[0],
            "currentNode": target[1],
            "previousFlow": context.get("currentFlow"),
            "previousNode": context.get("currentNode"),
            "jumpPoints": jump_points,
            "hasJumped": True,
        }  # and, as Botpress's fillContextForTransition, no frame on the stack trace
        try:
            await self.process()
        finally:
            ctx = self.state["context"]
            if not (isinstance(ctx.get("queue"), dict) and ctx["queue"].get("instructions")):
                self._clean()
        return True
