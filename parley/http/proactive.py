"""Proactive messages over HTTP: sending (`POST …/events`) and receiving (`GET …/stream`, `GET …/messages`).

Receiving needs the conversation token the Converse routes return in `X-Conversation-Token` (sent
back in that header, or as `?token=` where a browser's EventSource cannot set headers), or the JWT
of a collaborator who may access the bot. A token opens one (bot, user) conversation only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from parley.bots.models import Bot
from parley.conversations import Conversations
from parley.engine.state import JSONDict
from parley.http.auth import require_user, unauthorized
from parley.http.body import read_payload
from parley.http.converse import (
    TOKEN_HEADER,
    admit,
    body_limit,
    check_enabled,
    find_bot,
    message_id_of,
    no_access,
    public_route_open,
    token_header,
)
from parley.http.errors import ApiError, escape_html, invalid_payload, json_response
from parley.outbox import Notifier, public_message
from parley.security.tokens import check_conversation_token
from parley.store.base import ConversationKey

log = logging.getLogger("parley.http")

MAX_PAYLOADS = 50
PAGE = 100  # entries read from the store at once
MAX_POLL = 500


@dataclass
class StreamSettings:
    """How streams wait: a comment line every `heartbeat` seconds keeps proxies from closing an
    idle stream; without Redis, a stream also looks at the store every `fallback_poll` seconds
    (another worker's messages cannot notify it), and with Redis every `heartbeat` seconds."""

    heartbeat: float = 15.0
    fallback_poll: float = 2.0
    retry_ms: int = 3000  # how long EventSource waits before reconnecting


# ------------------------------------------------------------------------------------------ sending


def _event_body(bot: Bot, body: Any) -> dict[str, Any]:
    """Validate `{"type":"proactive","payloads":[…]}` or `{"type":"proactive","flow","node"?,"payload"?}`."""
    if not isinstance(body, dict):
        raise invalid_payload('"value" must be an object')
    for k in body:
        if k not in ("type", "payloads", "flow", "node", "payload"):
            raise invalid_payload(f'"{k}" is not allowed')
    if body.get("type", "proactive") != "proactive":
        raise invalid_payload('child "type" fails because ["type" must be one of [proactive]]')
    if ("payloads" in body) == ("flow" in body):
        raise invalid_payload('the event needs either "payloads" or "flow"')
    if "payloads" in body:
        payloads = body["payloads"]
        if not isinstance(payloads, list) or not payloads or len(payloads) > MAX_PAYLOADS:
            raise invalid_payload(f'"payloads" must be an array of 1 to {MAX_PAYLOADS} objects')
        for p in payloads:
            if not isinstance(p, dict) or not isinstance(p.get("type"), str) or not p["type"]:
                raise invalid_payload('every payload must be an object with a "type" string')
        if "node" in body or "payload" in body:
            raise invalid_payload('"node" and "payload" go with "flow", not with "payloads"')
        return {"payloads": [dict(p) for p in payloads]}
    flow_name, node = body["flow"], body.get("node")
    if not isinstance(flow_name, str) or not flow_name:
        raise invalid_payload('"flow" must be a flow name such as "main.flow.json"')
    if node is not None and (not isinstance(node, str) or not node):
        raise invalid_payload('"node" must be a node name')
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise invalid_payload('"payload" must be an object')
    flow = bot.find_flow(flow_name)
    if flow is None:
        raise invalid_payload(f"bot {bot.id} has no flow {flow_name}")
    if node is not None and node not in flow.nodes:
        raise invalid_payload(f"flow {flow.name} has no node {node}")
    return {"flow": flow.name, "node": node, "payload": payload}


async def send_event(request: Request) -> Response:
    """A turn the bot starts: payloads delivered as they are, or a jump into a flow/node."""
    conversations: Conversations = request.app.state.conversations
    bot = find_bot(conversations, request.path_params["botId"])
    user_id = request.path_params["userId"]
    user = await require_user(request)
    if not user.may_access(bot.id):
        raise no_access(bot.id)
    await admit(request, conversations, bot, user_id)
    event = _event_body(bot, await read_payload(request, body_limit(conversations)))
    # `Idempotency-Key`: a retried event is answered with the entry it made the first time
    entry = await conversations.send_event(bot, user_id, **event, idempotency_key=message_id_of(request, {}))
    return json_response(public_message(bot.id, user_id, entry), headers=token_header(request, bot.id, user_id))


# ---------------------------------------------------------------------------------------- receiving


async def _reader(request: Request) -> tuple[Conversations, Bot, ConversationKey]:
    """The bot and conversation a stream or poll may read, or the reason it may not."""
    conversations: Conversations = request.app.state.conversations
    bot = find_bot(conversations, request.path_params["botId"])
    user_id = request.path_params["userId"]
    check_enabled(conversations, bot)
    token = request.headers.get(TOKEN_HEADER) or request.query_params.get("token")
    secret = request.app.state.auth.secret
    if token and check_conversation_token(secret, bot.id, user_id, token):
        if not public_route_open(conversations, bot):
            raise ApiError(403, "ForbiddenError", f"Bot {bot.id} only accepts collaborator tokens",
                           error_code="BP_0043")
    elif request.headers.get("authorization"):
        user = await require_user(request)
        if not user.may_access(bot.id):
            raise no_access(bot.id)
    elif token:
        raise unauthorized("Unauthorized: invalid conversation token")
    else:
        raise unauthorized(f"Unauthorized: an {TOKEN_HEADER} (or a collaborator's Authorization) is required")
    return conversations, bot, ConversationKey(bot.id, "api", user_id)


def _cursor(value: str | None, name: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 18:
        raise ApiError(400, "StandardError", f"{escape_html(name)} must be a whole number >= 0")
    return int(value)


async def messages(request: Request) -> Response:
    """The poll: outbox messages with an id above `after` (default 0: all that are kept), oldest first."""
    conversations, bot, key = await _reader(request)
    after = _cursor(request.query_params.get("after"), "after") or 0
    limit = _cursor(request.query_params.get("limit"), "limit") or PAGE
    entries = await conversations.store.outbox(key, after, min(max(limit, 1), MAX_POLL))
    return json_response([public_message(bot.id, key.user_id, e) for e in entries])


def _sse(message: JSONDict) -> bytes:
    return b"id: " + str(message["id"]).encode() + b"\ndata: " + orjson.dumps(message) + b"\n\n"


async def stream(request: Request) -> Response:
    """Server-Sent Events: each outbox message as it is committed, with `id:` its outbox id.

    Starts after `Last-Event-ID` (what EventSource sends when it reconnects), else after `?after=`,
    else with the messages committed from now on."""
    conversations, bot, key = await _reader(request)
    after = _cursor(request.headers.get("last-event-id"), "Last-Event-ID")
    if after is None:
        after = _cursor(request.query_params.get("after"), "after")
    if after is None:
        after = await conversations.store.last_outbox_id(key)
    notifier: Notifier = request.app.state.delivery.notifier
    cfg: StreamSettings = request.app.state.stream

    async def events(cursor: int) -> AsyncIterator[bytes]:
        yield f"retry: {cfg.retry_ms}\n\n".encode()
        poll = cfg.heartbeat if notifier.shared else cfg.fallback_poll
        with notifier.subscribe(key.session_id) as sub:
            last_write = time.monotonic()
            while True:
                sub.arm()  # before reading: a notification from now on wakes the wait below
                try:
                    entries = await conversations.store.outbox(key, cursor, PAGE)
                except Exception:
                    log.exception("%s: reading the outbox failed; closing the stream", key.session_id)
                    return
                if entries:
                    for e in entries:
                        cursor = int(e["id"])
                        yield _sse(public_message(bot.id, key.user_id, e))
                    last_write = time.monotonic()
                    continue
                quiet = time.monotonic() - last_write
                notified = await sub.wait(max(0.0, min(poll, cfg.heartbeat - quiet)))
                if not notified and time.monotonic() - last_write >= cfg.heartbeat:
                    yield b": keep-alive\n\n"
                    last_write = time.monotonic()

    return StreamingResponse(
        events(after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
