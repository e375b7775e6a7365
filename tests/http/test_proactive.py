"""Proactive messages: the outbox, its stream, poll and webhook, the events route, send_later.

Streams need a server that really streams (httpx's ASGI transport waits for the whole body), so
the app runs in this event loop under uvicorn on a free port (`live`); other requests go through the
ASGI transport or the same port. Timeouts are fired by calling the janitor's method directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.http.app import create_app
from parley.outbox import Delivery
from parley.security import tokens
from parley.security.passwords import hash_password
from parley.security.users import User
from parley.settings import Settings
from tests.conftest import NO_JANITOR, ShiftedClock, free_port, until
from tests.http.test_bots_lifecycle import ASK_SIZE, GREETING, TIMEOUT_TEXT, WELCOME_BACK
from tests.http.test_converse import converse_url, copy_pizza, make_data, node, settings_for, write_bot

ADMIN = "admin@parley.test"
REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL")

# ------------------------------------------------------------------------------------------- helpers


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave pytest's signal handlers alone
        yield


@contextlib.asynccontextmanager
async def live(app: Any, *, lifespan: str = "on") -> AsyncIterator[str]:
    """Serve `app` (its lifespan included) on a free port in this event loop; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan,
                            timeout_graceful_shutdown=1)
    server = _Uvicorn(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def running(data: Path, **env: str) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """The parley app served for real; the client talks to it over its port."""
    app = create_app(settings_for(data, **env))
    async with live(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        yield client, app


class EventStream:
    """An open SSE stream, read in the background: `next()` returns the next event's data."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self.client, self.url, self.headers = client, url, headers
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.comments: list[str] = []
        self.opened = asyncio.Event()
        self.status: int | None = None

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.opened.wait(), 5)
        assert self.status == 200, self.status
        await asyncio.sleep(0.1)  # the server is now waiting for news
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _read(self) -> None:
        async with self.client.stream("GET", self.url, headers=self.headers) as r:
            self.status = r.status_code
            self.content_type = r.headers.get("content-type", "")
            if r.status_code != 200:
                self.opened.set()
                return
            event: dict[str, str] = {}
            async for line in r.aiter_lines():
                if line.startswith("retry:"):
                    self.opened.set()
                elif line.startswith(":"):
                    self.comments.append(line)
                elif line == "":
                    if "data" in event:
                        await self.events.put({"id": event.get("id"), "data": json.loads(event["data"])})
                    event = {}
                else:
                    name, _, value = line.partition(":")
                    event[name] = value[1:] if value.startswith(" ") else value

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        item = await asyncio.wait_for(self.events.get(), timeout)
        assert item["id"] == str(item["data"]["id"]), "the SSE id is the outbox id"
        data: dict[str, Any] = item["data"]
        return data

    def pending(self) -> int:
        return self.events.qsize()


def stream_url(bot_id: str, user_id: str) -> str:
    return converse_url(bot_id, user_id) + "/stream"


def messages_url(bot_id: str, user_id: str) -> str:
    return converse_url(bot_id, user_id) + "/messages"


def events_url(bot_id: str, user_id: str) -> str:
    return converse_url(bot_id, user_id) + "/events"


def texts(message: dict[str, Any]) -> list[str]:
    return [p.get("text", "") for p in message["responses"] if p["type"] != "typing"]


async def admin_token(app: Starlette, email: str = ADMIN, *, bots: list[str] | None = None,
                      super_admin: bool = True) -> str:
    user = User(email, hash_password("Passw0rd-for-tests"), "admin" if super_admin else "developer", super_admin,
                bots if bots is not None else ["*"])
    await app.state.auth.store.put_user(user)
    return tokens.issue(app.state.auth.secret, email=email, token_version=user.token_version,
                        is_super_admin=super_admin, lifetime=3600)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def converse(client: httpx.AsyncClient, bot_id: str, user_id: str, text: str) -> tuple[list[str], str]:
    """Send a message; return the answer's texts and the conversation token."""
    r = await client.post(converse_url(bot_id, user_id), json={"text": text})
    assert r.status_code == 200, r.text
    return [p.get("text", "") for p in r.json()["responses"] if p["type"] != "typing"], \
        r.headers["x-conversation-token"]


class Receiver:
    """A webhook receiver on a local port: records every request, fails the first `fail_first`."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.gate = asyncio.Event()  # the first request is answered only once this is set
        self.gate.set()
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.delivered: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        call = (dict(request.headers), await request.body())
        self.calls.append(call)
        if len(self.calls) == 1:
            await self.gate.wait()
        if len(self.calls) <= self.fail_first:
            return Response("not now", status_code=503)
        await self.delivered.put(call)
        return Response(status_code=204)

    async def next(self, timeout: float = 5.0) -> tuple[dict[str, str], dict[str, Any]]:
        headers, body = await asyncio.wait_for(self.delivered.get(), timeout)
        return headers, json.loads(body)


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-parley-signature", ""), expected)


NOTIFY_FLOW = [
    node("entry", ['say #builtin_text {"text":"coupon {{event.payload.coupon}} ({{event.type}})","typing":true}'],
         next_node=None),
]


def notify_bot(data: Path, bot_id: str = "notify", config: dict[str, Any] | None = None) -> None:
    """A bot with a `promo` flow that a proactive event jumps into."""
    write_bot(data, bot_id, config=config, flows={"promo": NOTIFY_FLOW})


# ------------------------------------------------------------------------- timeouts, stream, webhook


async def test_a_timeout_message_reaches_stream_webhook_and_poll_but_not_the_next_answer(tmp_path: Path) -> None:
    receiver = Receiver()
    async with live(receiver.app, lifespan="off") as hook_base:
        data = make_data(tmp_path)
        copy_pizza(data, config={"dialog": {"timeoutInterval": "1m"},
                                 "converse": {"webhook": {"url": hook_base + "/hook", "secret": "s3cret"}}})
        async with running(data) as (client, app):
            _, token = await converse(client, "pizza-bot", "carol", "hi")
            assert (await converse(client, "pizza-bot", "carol", "small"))[0] == ["Who is this pizza for?"]
            async with EventStream(client, stream_url("pizza-bot", "carol"), {"X-Conversation-Token": token}) as s:
                assert s.content_type.startswith("text/event-stream")
                assert await app.state.conversations.fire_timeouts(now=time.time() + 65) == 1
                message = await s.next()
            assert message["source"] == "timeout" and message["botId"] == "pizza-bot"
            assert message["userId"] == "carol" and isinstance(message["id"], int)
            assert texts(message) == [TIMEOUT_TEXT]
            assert message["responses"][0] == {"type": "typing", "value": True}

            headers, body = await receiver.next()
            assert body == message
            assert signature_ok("s3cret", headers, receiver.calls[-1][1])
            assert headers["x-parley-message-id"] == str(message["id"])

            polled = await client.get(messages_url("pizza-bot", "carol"), params={"after": 0},
                                      headers={"X-Conversation-Token": token})
            assert polled.status_code == 200 and polled.json() == [message]

            answer, _ = await converse(client, "pizza-bot", "carol", "Carol")
            assert answer[:2] == [GREETING, WELCOME_BACK] and TIMEOUT_TEXT not in answer


async def test_a_lazily_fired_timeout_goes_to_the_outbox_not_the_answer(tmp_path: Path, clock: ShiftedClock) -> None:
    data = make_data(tmp_path, NO_JANITOR)  # the clock moves: only the next message may fire the expiry
    copy_pizza(data, config={"dialog": {"timeoutInterval": "1m"}})
    async with running(data) as (client, _):
        _, token = await converse(client, "pizza-bot", "dan", "hi")
        await converse(client, "pizza-bot", "dan", "large")
        clock.advance(61)  # the context expires; the janitor (every 10 s) has not run
        answer, _ = await converse(client, "pizza-bot", "dan", "Dan")
        assert answer == [GREETING, WELCOME_BACK, ASK_SIZE]
        polled = (await client.get(messages_url("pizza-bot", "dan"), params={"token": token})).json()
        assert [m["source"] for m in polled] == ["timeout"] and texts(polled[0]) == [TIMEOUT_TEXT]


# ------------------------------------------------------------------------------------- sending


async def test_a_proactive_event_reaches_an_open_stream_by_notification_not_by_polling(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    notify_bot(data)
    async with running(data) as (client, app):
        # Only a notification can bring the message before the wait below ends: the store is polled once a
        # minute. How fast it comes is measured by hand, not asserted here (a shared machine's timings vary).
        app.state.stream.fallback_poll = app.state.stream.heartbeat = 60.0
        admin = await admin_token(app)
        async with EventStream(client, stream_url("notify", "eve"), bearer(admin)) as s:
            warm = await client.post(events_url("notify", "eve"), headers=bearer(admin),
                                     json={"type": "proactive", "payloads": [{"type": "text", "text": "warm-up"}]})
            assert warm.status_code == 200, warm.text
            assert texts(await s.next()) == ["warm-up"]
            await asyncio.sleep(0.1)

            r = await client.post(events_url("notify", "eve"), headers=bearer(admin),
                                  json={"type": "proactive", "payloads": [{"type": "text", "text": "Sale today!"}]})
            message = await s.next(timeout=5)
            assert r.status_code == 200 and r.json() == message
            assert message["source"] == "event" and message["responses"] == [{"type": "text", "text": "Sale today!"}]
            assert r.headers["x-conversation-token"] == tokens.conversation_token(app.state.auth.secret, "notify",
                                                                                  "eve")

            # A jump into a flow: the bot speaks first, and the flow sees the event's payload.
            r = await client.post(events_url("notify", "eve"), headers=bearer(admin),
                                  json={"type": "proactive", "flow": "promo.flow.json", "node": "entry",
                                        "payload": {"coupon": "PIZZA10"}})
            assert r.status_code == 200, r.text
            assert texts(r.json()) == ["coupon PIZZA10 (proactive)"]
            assert r.json()["responses"][0] == {"type": "typing", "value": True}
            assert await s.next() == r.json()
        # The user's own next message is answered on its own.
        answer, _ = await converse(client, "notify", "eve", "hi")
        assert answer == ["Hello!"]


async def test_a_proactive_event_that_says_nothing_and_the_state_it_leaves(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    write_bot(data, "asker",
              texts={"hello": "Hello!", "ask": "What is your name?", "got": "Nice, {{event.payload.text}}"},
              nodes=[node("entry", ["say #!builtin_text-hello"])],
              flows={"ask": [node("q", ["say #!builtin_text-ask"], next_node="got", on_receive=[]),
                             node("got", ["say #!builtin_text-got"])],
                     "quiet": [node("entry", [], next_node=None)]})
    async with running(data) as (client, app):
        admin = await admin_token(app)
        r = await client.post(events_url("asker", "fay"), headers=bearer(admin), json={"flow": "quiet"})
        assert r.status_code == 200 and r.json()["id"] is None and r.json()["responses"] == []
        # The bot asks a question proactively; the user's answer continues that flow.
        r = await client.post(events_url("asker", "fay"), headers=bearer(admin), json={"flow": "ask.flow.json"})
        assert texts(r.json()) == ["What is your name?"]
        answer, _ = await converse(client, "asker", "fay", "Fay")
        assert answer == ["Nice, Fay"]


async def test_a_retried_event_with_an_idempotency_key_is_sent_once(tmp_path: Path) -> None:
    """A client that retries `POST …/events` (a timeout, a reconnect) with the same Idempotency-Key gets
    the first answer back; the user gets the message once."""
    data = make_data(tmp_path)
    write_bot(data, "asker", texts={"hello": "Hello!", "ask": "What is your name?"},
              nodes=[node("entry", ["say #!builtin_text-hello"])],
              flows={"ask": [node("q", ["say #!builtin_text-ask"], next_node=None)],
                     "quiet": [node("entry", [], next_node=None)]})
    async with running(data) as (client, app):
        admin = bearer(await admin_token(app))
        url = events_url("asker", "gil")
        promo = {"payloads": [{"type": "text", "text": "50% off today"}]}
        first = await client.post(url, headers={**admin, "Idempotency-Key": "promo-1"}, json=promo)
        again = await client.post(url, headers={**admin, "Idempotency-Key": "promo-1"}, json=promo)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json() and first.json()["id"] is not None
        flow = await client.post(url, headers={**admin, "Idempotency-Key": "ask-1"}, json={"flow": "ask.flow.json"})
        flow_again = await client.post(url, headers={**admin, "Idempotency-Key": "ask-1"},
                                       json={"flow": "ask.flow.json"})
        assert flow_again.json() == flow.json() and texts(flow.json()) == ["What is your name?"]
        quiet = [await client.post(url, headers={**admin, "Idempotency-Key": "q-1"}, json={"flow": "quiet"})
                 for _ in range(2)]
        assert quiet[0].json() == quiet[1].json() and quiet[0].json()["id"] is None
        other = await client.post(url, headers={**admin, "Idempotency-Key": "promo-2"}, json=promo)
        assert other.json()["id"] != first.json()["id"]  # another key is another message
        token = first.headers["x-conversation-token"]
        polled = await client.get(messages_url("asker", "gil"), headers={"X-Conversation-Token": token})
        assert [texts(m) for m in polled.json()] == [["50% off today"], ["What is your name?"],
                                                                  ["50% off today"]]
        too_long = await client.post(url, headers={**admin, "Idempotency-Key": "k" * 200}, json=promo)
        assert too_long.status_code == 400


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ([], 400, "must be an object"),
        ({"type": "proactive"}, 400, 'either "payloads" or "flow"'),
        ({"payloads": [{"type": "text", "text": "x"}], "flow": "promo"}, 400, 'either "payloads" or "flow"'),
        ({"type": "text", "payloads": [{"type": "text"}]}, 400, "must be one of [proactive]"),
        ({"payloads": []}, 400, "array of 1 to 50"),
        ({"payloads": [{"text": "no type"}]}, 400, '"type" string'),
        ({"payloads": [{"type": "text"}], "node": "x"}, 400, "go with"),
        ({"flow": "nope.flow.json"}, 400, "has no flow"),
        ({"flow": "promo", "node": "nope"}, 400, "has no node"),
        ({"flow": "promo", "payload": "x"}, 400, '"payload" must be an object'),
        ({"flow": "promo", "extra": 1}, 400, "is not allowed"),
    ],
)
async def test_invalid_proactive_events_are_400(tmp_path: Path, body: Any, status: int, fragment: str) -> None:
    data = make_data(tmp_path)
    notify_bot(data)
    app = create_app(settings_for(data))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://parley.test"
    ) as client:
        r = await client.post(events_url("notify", "u"), headers=bearer(await admin_token(app)), json=body)
        assert r.status_code == status, r.text
        assert fragment in r.json()["message"]


async def test_sending_needs_a_collaborator_with_access_to_the_bot(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    notify_bot(data)
    notify_bot(data, "other")
    app = create_app(settings_for(data))
    event = {"type": "proactive", "payloads": [{"type": "text", "text": "hi"}]}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://parley.test"
    ) as client:
        assert (await client.post(events_url("notify", "u"), json=event)).status_code == 401
        conversation = tokens.conversation_token(app.state.auth.secret, "notify", "u")
        r = await client.post(events_url("notify", "u"), json=event, headers={"X-Conversation-Token": conversation})
        assert r.status_code == 401, "a conversation token reads, it does not send"
        dev = await admin_token(app, "dev@parley.test", bots=["other"], super_admin=False)
        assert (await client.post(events_url("notify", "u"), json=event, headers=bearer(dev))).status_code == 403
        assert (await client.post(events_url("other", "u"), json=event, headers=bearer(dev))).status_code == 200
        r = await client.post(events_url("nobody", "u"), json=event, headers=bearer(dev))
        assert r.status_code == 404


# ------------------------------------------------------------------------------------ receiving


async def test_poll_after_an_id_and_resume_the_stream_with_last_event_id(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    notify_bot(data)
    async with running(data) as (client, app):
        admin = await admin_token(app)
        sent = []
        for word in ("one", "two", "three"):
            r = await client.post(events_url("notify", "gus"), headers=bearer(admin),
                                  json={"payloads": [{"type": "text", "text": word}]})
            sent.append(r.json())
        ids = [m["id"] for m in sent]
        assert ids == sorted(ids) and len(set(ids)) == 3
        token = {"X-Conversation-Token": tokens.conversation_token(app.state.auth.secret, "notify", "gus")}

        polled = await client.get(messages_url("notify", "gus"), headers=token)
        assert polled.json() == sent
        polled = await client.get(messages_url("notify", "gus"), params={"after": ids[0]}, headers=token)
        assert polled.json() == sent[1:]
        polled = await client.get(messages_url("notify", "gus"), params={"after": ids[0], "limit": 1}, headers=token)
        assert polled.json() == sent[1:2]
        polled = await client.get(messages_url("notify", "gus"), params={"after": ids[2]}, headers=token)
        assert polled.json() == []
        bad = await client.get(messages_url("notify", "gus"), params={"after": "-1"}, headers=token)
        assert bad.status_code == 400

        # EventSource reconnecting: what came after the last id it saw, then what comes next.
        async with EventStream(client, stream_url("notify", "gus"), {**token, "Last-Event-ID": str(ids[0])}) as s:
            assert [texts(await s.next()) for _ in range(2)] == [["two"], ["three"]]
            await client.post(events_url("notify", "gus"), headers=bearer(admin),
                              json={"payloads": [{"type": "text", "text": "four"}]})
            assert texts(await s.next()) == ["four"]
        # `?after=` where headers cannot be set; without any cursor, only what comes from now on.
        async with EventStream(client, stream_url("notify", "gus") + f"?after={ids[1]}", token) as s:
            assert texts(await s.next()) == ["three"]
            assert texts(await s.next()) == ["four"]
        async with EventStream(client, stream_url("notify", "gus"), token) as s:
            await client.post(events_url("notify", "gus"), headers=bearer(admin),
                              json={"payloads": [{"type": "text", "text": "five"}]})
            assert texts(await s.next()) == ["five"]
            assert s.pending() == 0


async def test_an_idle_stream_gets_heartbeats(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    notify_bot(data)
    async with running(data) as (client, app):
        app.state.stream.heartbeat = 0.1
        token = {"X-Conversation-Token": tokens.conversation_token(app.state.auth.secret, "notify", "hal")}
        async with EventStream(client, stream_url("notify", "hal"), token) as s:
            await until(lambda: len(s.comments) >= 2, seconds=5)  # two beats, however slow the machine is
            assert len(s.comments) >= 2 and s.pending() == 0


async def test_a_conversation_token_opens_only_its_own_conversation(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    notify_bot(data)
    notify_bot(data, "other")
    notify_bot(data, "private", config={"private": True})
    notify_bot(data, "off", config={"converse": {"enabled": False}})
    app = create_app(settings_for(data))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://parley.test"
    ) as client:
        _, token_a = await converse(client, "notify", "ann", "hi")
        _, token_b = await converse(client, "notify", "bob", "hi")
        assert token_a != token_b
        admin = await admin_token(app)
        await client.post(events_url("notify", "bob"), headers=bearer(admin),
                          json={"payloads": [{"type": "text", "text": "for bob only"}]})

        for url in (stream_url("notify", "bob"), messages_url("notify", "bob")):
            r = await client.get(url, headers={"X-Conversation-Token": token_a})
            assert r.status_code == 401, (url, r.text)
            assert r.json()["message"] == "Unauthorized: invalid conversation token"
            assert (await client.get(url, params={"token": token_a})).status_code == 401
            assert (await client.get(url)).status_code == 401
            assert (await client.get(url, headers={"X-Conversation-Token": "ct1.forged"})).status_code == 401
        # The same user id on another bot is another conversation.
        r = await client.get(messages_url("other", "ann"), headers={"X-Conversation-Token": token_a})
        assert r.status_code == 401
        # B's own token and an admin's JWT read B's messages.
        for headers in ({"X-Conversation-Token": token_b}, bearer(admin)):
            r = await client.get(messages_url("notify", "bob"), headers=headers)
            assert r.status_code == 200 and [texts(m) for m in r.json()] == [["for bob only"]]
        dev = await admin_token(app, "dev@parley.test", bots=["other"], super_admin=False)
        assert (await client.get(messages_url("notify", "bob"), headers=bearer(dev))).status_code == 403
        # A private bot only opens to collaborators.
        private_token = tokens.conversation_token(app.state.auth.secret, "private", "ann")
        r = await client.get(messages_url("private", "ann"), headers={"X-Conversation-Token": private_token})
        assert r.status_code == 403
        assert (await client.get(messages_url("private", "ann"), headers=bearer(admin))).status_code == 200
        assert (await client.get(messages_url("nobody", "ann"), headers=bearer(admin))).status_code == 404
        # A bot whose Converse API is off serves no outbox either.
        off_token = tokens.conversation_token(app.state.auth.secret, "off", "ann")
        for headers in ({"X-Conversation-Token": off_token}, bearer(admin)):
            assert (await client.get(messages_url("off", "ann"), headers=headers)).status_code == 403
            assert (await client.get(stream_url("off", "ann"), headers=headers)).status_code == 403


# --------------------------------------------------------------------------------------- webhooks


async def test_a_webhook_is_retried_with_backoff_until_it_accepts(tmp_path: Path) -> None:
    receiver = Receiver(fail_first=2)
    async with live(receiver.app, lifespan="off") as hook_base:
        data = make_data(tmp_path, {"converse": {"webhook": {"url": hook_base + "/hook", "secret": "global-secret"}}})
        notify_bot(data)
        app = create_app(settings_for(data))
        async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://parley.test"
        ) as client:
            app.state.delivery.webhooks.base_delay = 0.05
            receiver.gate.clear()  # the receiver hangs on the first attempt...
            r = await client.post(events_url("notify", "ivy"), headers=bearer(await admin_token(app)),
                                  json={"payloads": [{"type": "text", "text": "ping"}]}, timeout=5)
            assert r.status_code == 200  # ... and the answer does not wait for it
            receiver.gate.set()
            headers, body = await receiver.next()
            assert body == r.json()
            assert len(receiver.calls) == 3
            assert len({call[1] for call in receiver.calls}) == 1, "every attempt sends the same body"
            assert all(signature_ok("global-secret", h, b) for h, b in receiver.calls)
            assert not signature_ok("another-secret", *receiver.calls[-1])


def test_the_webhook_is_configured_key_by_key_bot_then_global(tmp_path: Path) -> None:
    data = make_data(tmp_path, {"converse": {"webhook": {"url": "https://global.example/hook", "secret": "g"}}})
    notify_bot(data, "own", config={"converse": {"webhook": {"url": "https://own.example/hook"}}})
    notify_bot(data, "plain")
    notify_bot(data, "bad", config={"converse": {"webhook": {"url": "ftp://nope", "secret": "b"}}})
    settings = Settings.from_env(data, env={"PARLEY_NLU": "off"})
    from parley.bots.registry import BotRegistry

    registry = BotRegistry(data)
    registry.load_all()
    delivery = Delivery(settings)
    assert delivery.webhook(registry.get("own")) == ("https://own.example/hook", "g")  # type: ignore[arg-type]
    assert delivery.webhook(registry.get("plain")) == ("https://global.example/hook", "g")  # type: ignore[arg-type]
    assert delivery.webhook(registry.get("bad")) is None  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- send_later

REMINDER_ACTION = """
async def run(args, send_later):
    await send_later({"text": "Your pizza is ready!"}, delay=args.get("delay", 0.3))
"""


def reminder_bot(data: Path, delay: Any) -> None:
    write_bot(data, "reminder", actions={"remind": REMINDER_ACTION},
              nodes=[node("entry", [f'remind {{"delay": {json.dumps(delay)}}}', "say #!builtin_text-hello"])],
              texts={"hello": "Ordered."})


async def test_send_later_from_an_action_arrives_on_the_stream_not_in_the_answer(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    reminder_bot(data, 0.3)
    async with running(data) as (client, _):
        r = await client.post(converse_url("reminder", "kim"), json={"text": "order"})
        answer = [p["text"] for p in r.json()["responses"] if p["type"] == "text"]
        token = {"X-Conversation-Token": r.headers["x-conversation-token"]}
        async with EventStream(client, stream_url("reminder", "kim") + "?after=0", token) as s:
            message = await s.next(timeout=8)  # its timer, not the janitor (10 s)
        assert answer == ["Ordered."]
        assert message["source"] == "scheduled" and texts(message) == ["Your pizza is ready!"]
        polled = (await client.get(messages_url("reminder", "kim"), headers=token)).json()
        assert polled == [message], "delivered once"


async def test_scheduled_messages_survive_a_restart_and_are_delivered_once(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    reminder_bot(data, "1h")
    async with running(data) as (client, _):
        r = await client.post(converse_url("reminder", "lou"), json={"text": "order"})
        token = {"X-Conversation-Token": r.headers["x-conversation-token"]}
    # A new process: no timer remembers the message, the store does; any janitor delivers it when due.
    async with running(data) as (client, app):
        conversations = app.state.conversations
        assert await conversations.deliver_scheduled(now=time.time() + 60) == 0, "not due yet"
        later = time.time() + 3700
        counts = await asyncio.gather(conversations.deliver_scheduled(now=later),
                                      conversations.deliver_scheduled(now=later))
        assert sorted(counts) == [0, 1]
        polled = (await client.get(messages_url("reminder", "lou"), headers=token)).json()
        assert [texts(m) for m in polled] == [["Your pizza is ready!"]]


async def test_send_later_with_a_bad_delay_fails_the_action(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    reminder_bot(data, "soonish")
    async with running(data) as (client, app):
        r = await client.post(converse_url("reminder", "max"), json={"text": "order"})
        assert "Ordered." not in [p.get("text") for p in r.json()["responses"]]  # the error flow ran instead
        assert await app.state.conversations.deliver_scheduled(now=time.time() + 10**8) == 0


# ------------------------------------------------------------------------------ several workers


async def test_without_redis_another_workers_stream_finds_the_message_by_polling(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    notify_bot(data)
    async with running(data) as (client, app), running(data) as (other, other_app):
        app.state.stream.fallback_poll = 0.1
        admin = await admin_token(other_app)
        token = {"X-Conversation-Token": tokens.conversation_token(app.state.auth.secret, "notify", "ned")}
        async with EventStream(client, stream_url("notify", "ned"), token) as s:
            await other.post(events_url("notify", "ned"), headers=bearer(admin),
                             json={"payloads": [{"type": "text", "text": "from the other worker"}]})
            assert texts(await s.next(timeout=10)) == ["from the other worker"]


@pytest.mark.skipif(not REDIS_URL, reason="PARLEY_TEST_REDIS_URL is not set")
async def test_with_redis_a_stream_on_one_worker_is_woken_by_a_message_sent_through_another(
    tmp_path: Path,
) -> None:
    assert REDIS_URL
    data = make_data(tmp_path)
    bot_id = f"notify-{uuid.uuid4().hex[:8]}"
    notify_bot(data, bot_id)
    async with running(data, PARLEY_REDIS_URL=REDIS_URL) as (client, app), \
            running(data, PARLEY_REDIS_URL=REDIS_URL) as (other, other_app):
        app.state.stream.fallback_poll = app.state.stream.heartbeat = 60.0  # only Redis can wake it
        assert app.state.delivery.notifier.shared
        admin = await admin_token(other_app)
        token = {"X-Conversation-Token": tokens.conversation_token(app.state.auth.secret, bot_id, "olga")}
        async with EventStream(client, stream_url(bot_id, "olga"), token) as s:
            for text in ("warm-up", "from worker 2"):
                r = await other.post(events_url(bot_id, "olga"), headers=bearer(admin),
                                     json={"payloads": [{"type": "text", "text": text}]})
                assert await s.next(timeout=5) == r.json()  # long before the once-a-minute poll


@pytest.mark.skipif(not os.environ.get("PARLEY_TEST_DATABASE_URL"), reason="PARLEY_TEST_DATABASE_URL is not set")
async def test_on_postgresql_timeouts_events_and_later_messages_go_through_the_outbox(tmp_path: Path) -> None:
    from tests.reliability.counting import pg_schema

    data = make_data(tmp_path)
    copy_pizza(data, config={"dialog": {"timeoutInterval": "1m"}})
    notify_bot(data)
    reminder_bot(data, 0.2)
    async with pg_schema(os.environ["PARLEY_TEST_DATABASE_URL"]) as url, \
            running(data, PARLEY_DATABASE_URL=url) as (client, app):
        admin = await admin_token(app)
        _, token = await converse(client, "pizza-bot", "pat", "hi")
        async with EventStream(client, stream_url("pizza-bot", "pat"), {"X-Conversation-Token": token}) as s:
            assert await app.state.conversations.fire_timeouts(now=time.time() + 65) == 1
            timed_out = await s.next()
            r = await client.post(events_url("pizza-bot", "pat"), headers=bearer(admin),
                                  json={"flow": "main.flow.json"})
            assert r.status_code == 200, r.text
            assert await s.next() == r.json() and texts(r.json())[0] == GREETING
        assert texts(timed_out) == [TIMEOUT_TEXT] and timed_out["id"] < r.json()["id"]
        answer, reminder_token = await converse(client, "reminder", "pat", "order")
        assert answer == ["Ordered."]
        async with EventStream(client, stream_url("reminder", "pat") + "?after=0",
                               {"X-Conversation-Token": reminder_token}) as s:
            assert texts(await s.next(timeout=8)) == ["Your pizza is ready!"]
