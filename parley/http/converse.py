"""The Converse API routes: check the bot, validate the body, run the turn, shape the answer."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from parley.bots.models import Bot, BrokenBot
from parley.conversations import Conversations
from parley.engine.state import JSONDict
from parley.engine.turn import TurnResult
from parley.http.body import read_payload, utf16_length, validate_public_body
from parley.http.errors import (
    ApiError,
    PlainError,
    broken_bot,
    disabled_bot,
    json_response,
    unknown_bot,
)


def shape_responses(payloads: list[JSONDict]) -> list[JSONDict]:
    """Converse API payloads: `{"type":"typing","value":true}` before a payload that has typing,
    and no rendering leftovers (`typing`, `workflow`) inside payloads."""
    out: list[JSONDict] = []
    for p in payloads:
        if p.get("typing") is True:
            out.append({"type": "typing", "value": True})
        out.append({k: v for k, v in p.items() if k not in ("typing", "workflow")})
    return out


def find_bot(conversations: Conversations, bot_id: str) -> Bot:
    bot = conversations.registry.get(bot_id)
    if bot is None:
        raise unknown_bot()
    if bot.disabled if isinstance(bot, BrokenBot) else bot.config.disabled:
        raise disabled_bot()
    if isinstance(bot, BrokenBot):
        raise broken_bot(bot.id, bot.reason)
    return bot


def check_text(conversations: Conversations, bot: Bot, payload: JSONDict) -> None:
    limit = conversations.max_message_length(bot)
    if payload.get("type", "text") == "text":
        text = payload.get("text")
        if not isinstance(text, str) or utf16_length(text) > limit:
            raise ApiError(400, "VError", f"Text must be a valid string of less than {limit} chars")


def body_limit(conversations: Conversations) -> int:
    from parley.engine.sizes import parse_size

    return parse_size(conversations.settings.global_value("httpServer", "bodyLimit"), default=10 * 1024 * 1024)


async def run(conversations: Conversations, bot: Bot, user_id: str, body: JSONDict,
              credentials: Any = None) -> TurnResult:
    payload = {k: v for k, v in body.items() if k != "includedContexts"}
    payload.setdefault("type", "text")
    check_text(conversations, bot, payload)
    contexts = body.get("includedContexts") or ["global"]
    return await conversations.converse(bot, user_id, payload, included_contexts=list(contexts),
                                        credentials=credentials)


async def public_converse(request: Request) -> Response:
    conversations: Conversations = request.app.state.conversations
    bot_id = request.path_params["botId"]
    user_id = request.path_params["userId"]
    bot = find_bot(conversations, bot_id)
    if bot.config.private:
        raise ApiError(401, "UnauthorizedError", "Unauthorized: Authorization header is missing",
                       error_code="BP_0041")
    if bot.config.get("converse", "enableUnsecuredEndpoint") is False:
        raise PlainError(403, f"Unauthenticated Converse API is disabled for {bot.id}")
    if conversations.settings.global_value("converse", "enableUnsecuredEndpoint") is False:
        raise PlainError(403, "Unauthenticated Converse API is disabled for all bots")
    body = validate_public_body(await read_payload(request, body_limit(conversations)))
    include = request.query_params.get("include")
    if include and include.lower() != "responses":
        raise PlainError(403, 'Unauthenticated converse API can only return "responses"')
    result = await run(conversations, bot, user_id, body)
    return json_response({"responses": shape_responses(result.responses)})
