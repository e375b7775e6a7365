"""What outlives a turn: memory across restarts, shared user memory, session and context expiry,
bot reloads on a live server, and several worker processes on one SQLite file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from parley.conversations import Conversations
from parley.store.base import ConversationKey
from tests.conftest import EXAMPLES, NO_JANITOR, Server, ShiftedClock, free_port, start_server, stop_server
from tests.http.test_converse import converse_url, copy_pizza, make_data, node, say, serve, write_bot


def _pizza_text(element: str) -> str:
    """The example bot's own wording (it may change; the flow structure is what is tested)."""
    path = EXAMPLES / "bots" / "pizza-bot" / "content-elements" / "builtin_text.json"
    elements = {e["id"]: e["formData"] for e in json.loads(path.read_text())}
    text = elements[f"builtin_text-{element}"]["text$en"]
    assert isinstance(text, str)
    return text


GREETING = _pizza_text("welcome").replace("{{#user.name}} {{user.name}}{{/user.name}}", "")
ASK_SIZE = "Which size would you like?"
TIMEOUT_TEXT = _pizza_text("timeout")
WELCOME_BACK = _pizza_text("welcome-back")


def conversations_of(app: Any) -> Conversations:
    conv = app.state.conversations
    assert isinstance(conv, Conversations)
    return conv


# --------------------------------------------------------------------------------- memory and time


async def test_memory_survives_a_restart(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    copy_pizza(data)
    async with serve(data) as (client, _):
        assert await say(client, "pizza-bot", "ada", "hi") == [GREETING, ASK_SIZE]
        assert await say(client, "pizza-bot", "ada", "small") == [_pizza_text("ask-name")]
    assert (data / "storage" / "parley.sqlite").is_file()
    async with serve(data) as (client, _):  # the conversation goes on where it stopped
        quote = await say(client, "pizza-bot", "ada", "Ada")
        assert len(quote) == 1 and "Ada" in quote[0] and "small" in quote[0] and "9.5" in quote[0]
        placed = await say(client, "pizza-bot", "ada", "yes")
        assert len(placed) == 1 and "#1" in placed[0] and "Ada" in placed[0]
    async with serve(data) as (client, _):  # user memory too
        greeting, *rest = await say(client, "pizza-bot", "ada", "hi")
        assert greeting != GREETING and "Ada" in greeting
        assert rest == [ASK_SIZE]


async def test_user_memory_is_shared_by_bots_for_one_user(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    copy_pizza(data, "pizza-one")
    copy_pizza(data, "pizza-two")
    async with serve(data) as (client, _):
        for text in ("hi", "large", "Grace"):
            await say(client, "pizza-one", "grace", text)
        assert "Grace" in (await say(client, "pizza-two", "grace", "hi"))[0]
        assert (await say(client, "pizza-two", "someone-else", "hi"))[0] == GREETING
        # each bot keeps its own conversation: pizza-one still waits for the yes/no
        assert await say(client, "pizza-one", "grace", "no") == [_pizza_text("cancelled")]


MEMORY_ACTION = """
async def run(event, user, session, temp):
    if event["payload"]["text"] == "set":
        user["u"], session["s"], temp["t"] = "U", "S", "T"
"""


def memory_bot(data: Path, config: dict[str, Any]) -> None:
    """Shows user/session/temp memory and the node it runs from; `set` fills all three."""
    write_bot(
        data,
        "memory",
        config=config,
        nodes=[
            node("entry", ["remember {}", "say #!builtin_text-show"], next_node="again", on_receive=[]),
            node("again", ["remember {}", "say #!builtin_text-again"], next_node="again", on_receive=[]),
        ],
        texts={"show": "start u={{user.u}} s={{session.s}} t={{temp.t}}",
               "again": "again u={{user.u}} s={{session.s}} t={{temp.t}}"},
        actions={"remember": MEMORY_ACTION},
    )


async def test_session_expiry_forgets_session_but_not_user_memory(tmp_path: Path, clock: ShiftedClock) -> None:
    data = make_data(tmp_path, NO_JANITOR)  # the clock moves: only the next message may fire the expiry
    memory_bot(data, {"dialog": {"sessionTimeoutInterval": "1m", "timeoutInterval": "1h"}})
    async with serve(data) as (client, app):
        assert await say(client, "memory", "a", "set") == ["start u=U s=S t=T"]
        assert await say(client, "memory", "a", "look") == ["again u=U s=S t=T"]
        # the janitor forgets the idle session
        await conversations_of(app).fire_timeouts(now=time.time() + 65)
        assert await say(client, "memory", "a", "look") == ["start u=U s= t="]

        # ... and so does the next message when the janitor has not run yet
        assert await say(client, "memory", "b", "set") == ["start u=U s=S t=T"]
        clock.advance(61)
        assert await say(client, "memory", "b", "look") == ["start u=U s= t="]


TIMEOUT_BOT_TIMEOUT_FLOW = [
    node("entry", ['builtin/setVariable {"type":"user","name":"timedOut","value":"yes"}'], next_node=None),
]


async def test_context_timeout_runs_the_timeout_flow_before_the_next_message(tmp_path: Path,
                                                                            clock: ShiftedClock) -> None:
    data = make_data(tmp_path, NO_JANITOR)  # the clock moves: only the next message may fire the expiry
    copy_pizza(data, config={"dialog": {"timeoutInterval": "1m"}})
    write_bot(
        data,
        "waiter",
        config={"dialog": {"timeoutInterval": "1m"}},
        nodes=[node("entry", ["say #!builtin_text-ask"], next_node="reply", on_receive=[]),
               node("reply", ["say #!builtin_text-reply"])],
        texts={"ask": "question (timedOut={{user.timedOut}})", "reply": "got {{event.payload.text}}"},
        flows={"timeout": TIMEOUT_BOT_TIMEOUT_FLOW},
    )
    async with serve(data) as (client, app):
        conversations = conversations_of(app)
        # the janitor fires the timeout
        assert await say(client, "pizza-bot", "late", "hi") == [GREETING, ASK_SIZE]
        assert await conversations.fire_timeouts(now=time.time() + 65) == 1
        assert await conversations.fire_timeouts(now=time.time() + 65) == 0, "a timeout fires once"
        await conversations.event_log.flush()  # the log is written in batches
        events = await conversations.store.events(ConversationKey("pizza-bot", "api", "late"))
        proactive = [e for e in events if e["direction"] == "proactive"]
        assert [p["text"] for p in proactive[0]["payload"] if p["type"] == "text"] == [TIMEOUT_TEXT]
        # the order was cancelled: "small" no longer answers the size question
        assert await say(client, "pizza-bot", "late", "small") == [GREETING, WELCOME_BACK, ASK_SIZE]

        # a message arriving after the context expired runs the timeout handler first
        assert await say(client, "waiter", "w", "hello") == ["question (timedOut=)"]
        clock.advance(61)
        assert await say(client, "waiter", "w", "answer") == ["question (timedOut=yes)"]
        assert await say(client, "waiter", "w", "answer") == ["got answer"]
        await conversations.event_log.flush()
        events = await conversations.store.events(ConversationKey("waiter", "api", "w"))
        assert [e["direction"] for e in events].count("proactive") == 1


FRAGILE_ACTION = """
async def run(user):
    user["unsaveable"] = {1, 2, 3}  # a set cannot be stored as JSON
"""


async def test_one_failing_timeout_does_not_stop_the_others(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    copy_pizza(data, config={"dialog": {"timeoutInterval": "1m"}})
    write_bot(
        data,
        "fragile",
        config={"dialog": {"timeoutInterval": "1m"}},
        nodes=[node("entry", ["say #!builtin_text-hello"], next_node="END", on_receive=[])],
        flows={"timeout": [node("entry", ["break_memory {}"], next_node=None)]},
        actions={"break_memory": FRAGILE_ACTION},
    )
    async with serve(data) as (client, app):
        conversations = conversations_of(app)
        await say(client, "fragile", "f", "hi")  # the older conversation: its timeout is tried first
        await say(client, "pizza-bot", "p", "hi")
        assert await conversations.fire_timeouts(now=time.time() + 65) == 1
        await conversations.event_log.flush()
        events = await conversations.store.events(ConversationKey("pizza-bot", "api", "p"))
        assert [e["direction"] for e in events][-1] == "proactive"
        assert (await say(client, "pizza-bot", "p", "small"))[:2] == [GREETING, WELCOME_BACK]


async def test_a_bot_is_named_by_its_folder_whatever_id_its_config_says(tmp_path: Path) -> None:
    """Botpress names bots by their folders (`bots/<botId>/bot.config.json`): a template copied under
    another name is a second bot, even with the first one's `id` in its file. parley used that `id`, so
    the copy answered 404 under its folder name and the first folder's bot kept the id."""
    data = make_data(tmp_path)
    write_bot(data, "alpha", texts={"hello": "I am alpha"})
    beta = write_bot(data, "beta", texts={"hello": "I am beta"}, config={"id": "alpha"})
    async with serve(data) as (client, app):
        assert await say(client, "alpha", "u", "hi") == ["I am alpha"]
        assert await say(client, "beta", "u", "hi") == ["I am beta"]
        shutil.rmtree(beta)
        app.state.registry.reload_folder(beta)  # what the file watcher does
        assert (await client.post(converse_url("beta", "u"), json={"text": "hi"})).status_code == 404
        assert await say(client, "alpha", "u", "hi") == ["I am alpha"]


async def test_converse_switches_edited_while_serving_take_effect(tmp_path: Path) -> None:
    """The converse switches are read once per loaded bot: an edited bot.config.json loads a new one."""
    data = make_data(tmp_path)
    beta = write_bot(data, "beta", texts={"hello": "I am beta"})
    async with serve(data) as (client, app):
        registry = app.state.registry
        assert await say(client, "beta", "u", "hi") == ["I am beta"]
        cfg = json.loads((beta / "bot.config.json").read_text())
        for converse, status in (({"enabled": False}, 403), ({"enableUnsecuredEndpoint": False}, 403),
                                 ({"maxMessageLength": 1}, 400), ({}, 200)):
            (beta / "bot.config.json").write_text(json.dumps({**cfg, "converse": converse}))
            registry.reload_folder(beta)  # what the file watcher does
            answer = await client.post(converse_url("beta", "u"), json={"text": "hi"})
            assert answer.status_code == status, converse


# ------------------------------------------------------------------------------- a live server


def post(server: Server, bot_id: str, user_id: str, text: str, timeout: float = 10) -> tuple[int, Any]:
    req = urllib.request.Request(
        server.base + converse_url(bot_id, user_id),
        data=json.dumps({"text": text}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def eventually(check: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds}s: {what}")


def texts_of(answer: Any) -> list[str]:
    return [p.get("text", "") for p in answer["responses"] if p["type"] != "typing"]


def test_a_live_server_reloads_a_bot_when_its_files_change(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    folder = write_bot(data, "live", texts={"hello": "first version"})
    write_bot(data, "bystander", texts={"hello": "still here"})
    server = start_server(data, tmp_path / "server.log", env={"PARLEY_WATCH": "on"})
    try:
        assert post(server, "live", "u", "hi") == (200, {"responses": [
            {"type": "typing", "value": True}, {"type": "text", "text": "first version"}]})
        elements = folder / "content-elements" / "builtin_text.json"
        content = json.loads(elements.read_text())
        content[0]["formData"]["text$en"] = "second version"
        elements.write_text(json.dumps(content))

        def answers(expected: str) -> bool:
            status, body = post(server, "live", "u", "hi")
            return status == 200 and texts_of(body) == [expected]

        eventually(lambda: answers("second version"), "the edited text is served")

        flow = folder / "flows" / "main.flow.json"
        good = flow.read_text()
        flow.write_text(good.replace('"nodes": [', '"nodes": [,', 1))
        eventually(lambda: post(server, "live", "u", "hi")[0] == 503, "the broken flow gives 503")
        status, body = post(server, "live", "u", "hi")
        assert "live/flows/main.flow.json:" in body["message"]
        assert post(server, "bystander", "u", "hi")[0] == 200

        flow.write_text(good)
        eventually(lambda: answers("second version"), "the fixed bot answers again")

        write_bot(data, "newcomer", texts={"hello": "I just arrived"})
        eventually(lambda: post(server, "newcomer", "u", "hi")[0] == 200, "a new bot folder is served")
    finally:
        stop_server(server)


NAP_ACTION = """
import asyncio, os

async def run(temp):
    temp["pid"] = os.getpid()
    await asyncio.sleep(0.02)  # widen the window between loading and saving the conversation
"""


def test_several_workers_take_turns_on_one_conversation(tmp_path: Path) -> None:
    """`parley serve --workers 2`: concurrent messages of one user land on either process; each is
    counted exactly once (no lost update between the processes sharing the SQLite file)."""
    data = make_data(tmp_path)
    write_bot(
        data,
        "counter",
        nodes=[node("entry", ["nap {}", 'builtin/incrementNumberOfConversations {"output":"n"}',
                              "say #!builtin_text-count"])],
        texts={"count": "{{temp.n}} {{temp.pid}} BOT_URL"},
        actions={"nap": NAP_ACTION},
    )
    port = free_port()
    log_path = tmp_path / "workers.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "parley", "serve", "--data", str(data), "--host", "127.0.0.1", "--port",
             str(port), "--workers", "2"],
            env={**_clean_env(), "PARLEY_NLU": "off", "PARLEY_WATCH": "off"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", data, proc, log_path)
    try:
        eventually(lambda: _ready(server), "the workers start", seconds=30)
        with ThreadPoolExecutor(12) as pool:
            # the last of 30 turns of one user waits for the 29 before it (60 s: a slow machine's margin)
            answers = list(pool.map(lambda i: post(server, "counter", "one-user", f"m{i}", timeout=60), range(30)))
        assert all(status == 200 for status, _ in answers), answers
        counts = sorted(int(texts_of(body)[0].split()[0]) for _, body in answers)
        assert counts == list(range(30))
        # every worker knows the address it serves (media URLs are made absolute with it)
        assert {texts_of(body)[0].split()[2] for _, body in answers} == {server.base}
        # sequential messages continue the same count, whichever worker answers
        assert texts_of(post(server, "counter", "one-user", "again")[1])[0].split()[0] == "30"
    finally:
        stop_server(server)


def _clean_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("PARLEY_DATABASE_URL", None)
    env.pop("PARLEY_DATA", None)
    return env


def _ready(server: Server) -> bool:
    if server.proc.poll() is not None:
        pytest.fail(f"server exited:\n{server.log.read_text()}")
    try:
        with urllib.request.urlopen(server.base + "/status", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False
