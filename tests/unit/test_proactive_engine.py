"""The engine's side of proactive messages: a turn that starts in a flow, and `send_later`."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from parley.engine.actions.user import MAX_LATER_PER_TURN, delay_seconds
from parley.engine.state import Memory
from parley.engine.turn import run_proactive
from tests.unit.botfactory import ERROR_FLOW, Chat, flow, make_bot, node, say, texts

LATER = """
async def run(send_later, args):
    await send_later([{"text": "first"}, {"type": "image", "image": "https://x/y.png"}], delay=args["delay"])
    await send_later({"text": "second"}, "2m")
"""


async def test_send_later_schedules_payloads_without_saying_them(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", 'later {"delay": 30}', say("now")))},
                   actions={"later": LATER})
    chat = Chat(bot)
    assert await chat.send() == ["now"]
    assert chat.last is not None
    assert chat.last.later == [
        (30.0, [{"type": "text", "text": "first"}, {"type": "image", "image": "https://x/y.png"}]),
        (120.0, [{"type": "text", "text": "second"}]),
    ]


@pytest.mark.parametrize("bad", ['"-5s"', '"soon"', "-1", "true", "1e12"])
async def test_send_later_with_a_bad_delay_runs_the_error_flow(tmp_path: Path, bad: str) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", f'later {{"delay": {bad}}}', say("now"))),
                                    "error": ERROR_FLOW}, actions={"later": LATER})
    chat = Chat(bot)
    assert await chat.send() == ["Oops, error"]
    assert chat.last is not None and chat.last.later == []


async def test_send_later_is_bounded_per_turn(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", "many", say("now"))), "error": ERROR_FLOW},
                   actions={"many": f"""
                       async def run(send_later):
                           for i in range({MAX_LATER_PER_TURN + 1}):
                               await send_later({{"text": str(i)}}, 1)
                   """})
    assert await Chat(bot).send() == ["Oops, error"]


def test_delay_seconds() -> None:
    assert delay_seconds(0) == 0 and delay_seconds(2.5) == 2.5 and delay_seconds("15m") == 900
    for bad in (math.nan, -1, "nope", None, True):
        with pytest.raises((ValueError, TypeError)):
            delay_seconds(bad)


async def test_a_proactive_turn_starts_in_the_given_flow_and_node(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("hello"))),
        "promo": flow(node("intro", say("intro")),
                      node("offer", say("{{event.type}}: {{event.payload.coupon}}"), receive=[],
                           next=[("true", "thanks")]),
                      node("thanks", say("thanks {{event.preview}}"))),
    })
    result = await run_proactive(bot, Memory(), {"coupon": "C10"}, user_id="u", flow="promo", node="offer",
                                 rng=random.Random(1))
    assert texts(result) == ["proactive: C10"]
    assert result.memory.context["currentFlow"] == "promo.flow.json"
    # The user's answer continues the flow the bot started.
    chat = Chat(bot, memory=result.memory)
    assert await chat.send("sure") == ["thanks sure"]
    # Without a node: the flow's start node.
    result = await run_proactive(bot, Memory(), {}, user_id="u", flow="promo.flow.json")
    assert texts(result) == ["intro"]
