"""parley's own example bots, spoken to through a real server, as a user of `make serve` would."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import EXAMPLES, Server, start_server, stop_server


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("examples")
    data = root / "data"
    shutil.copytree(EXAMPLES, data, ignore=shutil.ignore_patterns("storage"))
    # A short context timeout so that the timeout flow can be observed.
    cfg_path = data / "bots" / "pizza-bot" / "bot.config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["dialog"] = {"timeoutInterval": "3s"}  # long enough for the other tests' turns on a slow machine
    cfg_path.write_text(json.dumps(cfg))
    server = start_server(data, root / "server.log")
    yield server
    stop_server(server)


def say(server: Server, user: str, text: str) -> list[dict[str, Any]]:
    req = urllib.request.Request(
        f"{server.base}/api/v1/bots/pizza-bot/converse/{user}",
        data=json.dumps({"type": "text", "text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = json.loads(resp.read())
    return [p for p in body["responses"] if p["type"] != "typing"]


def texts(payloads: list[dict[str, Any]]) -> list[str]:
    return [p.get("text", "") for p in payloads]


def test_order_with_choice_subflow_memory_and_python_actions(example_server: Server) -> None:
    first = say(example_server, "ada", "hi")
    assert texts(first)[0] == "Hi! I'm Pizza Bot."
    assert first[1]["type"] == "single-choice" and [c["value"] for c in first[1]["choices"]] == ["small", "large"]
    assert texts(say(example_server, "ada", "a large one please")) == ["Who is this pizza for?"]
    assert texts(say(example_server, "ada", "Ada")) == ["Ada, a large pizza costs 14 €. Shall I order it? (yes/no)"]
    placed = texts(say(example_server, "ada", "yes"))
    assert placed[0] in ("Order #1 is in the oven, Ada!", "Done! Order #1 is on its way, Ada.")
    # Memory across conversations: the name is remembered and the order count goes on.
    assert texts(say(example_server, "ada", "hello again"))[0] == "Hi Ada! I'm Pizza Bot."
    assert texts(say(example_server, "ada", "2")) == ["Ada, a large pizza costs 14 €. Shall I order it? (yes/no)"]
    placed = texts(say(example_server, "ada", "yes"))
    assert placed[0] in ("Order #2 is in the oven, Ada!", "Done! Order #2 is on its way, Ada.")


def test_invalid_choice_retries_then_fails(example_server: Server) -> None:
    say(example_server, "bob", "hi")
    for _ in range(2):
        retry = say(example_server, "bob", "banana")
        assert texts(retry)[0] == "Please pick one of the sizes." and retry[1]["type"] == "single-choice"
    assert texts(say(example_server, "bob", "banana")) == ["Sorry, we only bake small and large pizzas."]


def test_timeout_flow_runs_before_the_next_message(example_server: Server) -> None:
    say(example_server, "carol", "hi")
    say(example_server, "carol", "small")  # now waiting for a name
    time.sleep(3.5)
    # The context expired: the timeout flow cancelled the order (and noted it in the user's memory),
    # so this message starts afresh and the bot says what happened.
    answer = say(example_server, "carol", "Carol")
    assert texts(answer)[:2] == ["Hi! I'm Pizza Bot.", "Welcome back! I cancelled the unfinished order when you left."]
    assert answer[2]["type"] == "single-choice"
    # The notice is given once.
    assert texts(say(example_server, "carol", "hello"))[1] == "Which size would you like?"
