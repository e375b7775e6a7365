"""The Converse API routes: check the bot, validate the body, run the turn, shape the answer."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from parley.bots.models import Bot, BrokenBot
from parley.conversations import Conversations, TurnAbandoned
from parley.engine.expressions import js_truthy
from parley.engine.state import JSONDict
from parley.engine.turn import TurnResult
from parley.http.auth import require_user
from parley.http.body import MAX_MESSAGE_ID, header, read_payload, utf16_length, validate_public_body
from parley.http.errors import (
    ApiError,
    PlainError,
    broken_bot,
    disabled_bot,
    json_response,
    unknown_bot,
)
from parley.http.limits import DEFAULT_MAX_QUEUED_TURNS, Rate, parse_rate, too_many
from parley.outbox import shape_responses as shape_responses  # re-exported (parley chat)
from parley.security.tokens import conversation_token
from parley.store.base import ConversationKey
from parley.store.locks import QueueFull

TOKEN_HEADER = "X-Conversation-Token"


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
        if not isinstance(text, str) or not text or utf16_length(text) > limit:
            raise ApiError(400, "VError", f"Text must be a valid string of less than {limit} chars")


def body_limit(conversations: Conversations) -> int:
    return conversations.settings.body_limit


def message_id_of(request: Request, body: JSONDict) -> str | None:
    """`messageId` in the body, else the `Idempotency-Key` header (parley's retry-safe messages)."""
    mid = body.get("messageId")
    if isinstance(mid, str) and mid:
        return mid
    key = (header(request, b"idempotency-key") or "").strip()
    if len(key) > MAX_MESSAGE_ID:
        raise ApiError(400, "StandardError", f"Idempotency-Key is longer than {MAX_MESSAGE_ID} characters")
    return key or None


async def run(conversations: Conversations, bot: Bot, user_id: str, body: JSONDict,
              credentials: Any = None, message_id: str | None = None) -> TurnResult:
    payload = {k: v for k, v in body.items() if k not in ("includedContexts", "messageId")}
    if not js_truthy(payload.get("type")):  # Botpress: `if (!payload.type) payload.type = "text"`
        payload["type"] = "text"
    check_text(conversations, bot, payload)
    raw = body.get("includedContexts")
    # Botpress passes `includedContexts || ["global"]`: an empty list stays empty (the NLU then
    # elects among all contexts)
    contexts = [c for c in raw if isinstance(c, str)] if isinstance(raw, list) else ["global"]
    limits = bot.cache.get("rate-limits")  # set by `admit`, which runs first
    max_queued = limits[2] if limits is not None else None
    try:
        return await conversations.converse(bot, user_id, payload, included_contexts=contexts,
                                            credentials=credentials, message_id=message_id, max_queued=max_queued)
    except QueueFull:  # another worker's turns of this user fill the queue (Redis counts them all)
        raise queue_full(max_queued) from None
    except TurnAbandoned:  # what a Botpress client gets when its event is dropped
        raise ApiError(400, "Error", "Request timed out.") from None


def check_enabled(conversations: Conversations, bot: Bot) -> None:
    """`converse.enabled: false` (bot, else global) turns the whole Converse API off for a bot."""
    if not bot.derived("converse-enabled", _converse_enabled, conversations, bot):
        raise ApiError(403, "ForbiddenError", f"The Converse API is disabled for bot {bot.id}", error_code="BP_0043")


def _converse_enabled(conversations: Conversations, bot: Bot) -> bool:
    return not (conversations.config(bot, "converse", "enabled") is False
                or bot.config.get("converse", "enabled") is False)


def public_refusal(conversations: Conversations, bot: Bot) -> str:
    """Why the public route refuses the bot (`converse.enableUnsecuredEndpoint: false`, the bot's or
    the server's), or "" when it is open."""
    return bot.derived("public-refusal", _public_refusal, conversations, bot)


def _public_refusal(conversations: Conversations, bot: Bot) -> str:
    if bot.config.get("converse", "enableUnsecuredEndpoint") is False:
        return f"Unauthenticated Converse API is disabled for {bot.id}"
    if conversations.settings.global_value("converse", "enableUnsecuredEndpoint") is False:
        return "Unauthenticated Converse API is disabled for all bots"
    return ""


def public_route_open(conversations: Conversations, bot: Bot) -> bool:
    """Whether anyone may talk to the bot without a collaborator token."""
    return not (bot.config.private or public_refusal(conversations, bot))


def token_header(request: Request, bot_id: str, user_id: str) -> dict[str, str]:
    """The conversation token that opens this user's stream and poll routes."""
    return {TOKEN_HEADER: conversation_token(request.app.state.auth.secret, bot_id, user_id)}


async def admit(request: Request, conversations: Conversations, bot: Bot, user_id: str) -> None:
    """The per-bot switch and the throttles, before any turn runs."""
    check_enabled(conversations, bot)
    per_user, per_bot, max_queued = bot.derived("rate-limits", _limits, conversations, bot)
    if per_user is not None or per_bot is not None:
        await request.app.state.limiter.check(bot.id, user_id, per_user, per_bot)
    # a quick check in this process (also for proactive events); the lock enforces it across workers
    if conversations.locks.waiting(ConversationKey(bot.id, "api", user_id).session_id) >= max_queued:
        raise queue_full(max_queued)


def _limits(conversations: Conversations, bot: Bot) -> tuple[Rate | None, Rate | None, int]:
    def rate(name: str) -> Rate | None:
        return parse_rate(bot.config.get("converse", "rateLimit", name)
                          or conversations.settings.global_value("converse", "rateLimit", name))

    queued = conversations.config(bot, "converse", "maxQueuedTurns")
    max_queued = queued if isinstance(queued, int) and queued > 0 else DEFAULT_MAX_QUEUED_TURNS
    return rate("perUser"), rate("perBot"), max_queued


def queue_full(max_queued: int | None) -> ApiError:
    return too_many(1, f"more than {max_queued} messages of this user are already waiting")


async def public_converse(request: Request) -> Response:
    conversations: Conversations = request.app.state.conversations
    bot_id = request.path_params["botId"]
    user_id = request.path_params["userId"]
    # Botpress parses the body before any route runs: a malformed or oversized body is a 400/413 first
    payload = await read_payload(request, body_limit(conversations))
    bot = find_bot(conversations, bot_id)
    if bot.config.private:
        user = await require_user(request)
        if not user.may_access(bot.id):
            raise no_access(bot.id)
    refusal = public_refusal(conversations, bot)
    if refusal:
        raise PlainError(403, refusal)
    await admit(request, conversations, bot, user_id)
    body = validate_public_body(payload)
    include = request.query_params.get("include") if request.scope["query_string"] else None
    if include and include.lower() != "responses":
        raise PlainError(403, 'Unauthenticated converse API can only return "responses"')
    result = await run(conversations, bot, user_id, body, message_id=message_id_of(request, body))
    return json_response({"responses": shape_responses(result.responses)},
                         headers=token_header(request, bot.id, user_id))


SECURED_FIELDS = ("nlu", "suggestions", "credentials", "state", "decision")


def no_access(bot_id: str) -> ApiError:
    return ApiError(403, "ForbiddenError", f"Forbidden: you have no access to bot {bot_id}", error_code="BP_0043")


async def secured_converse(request: Request) -> Response:
    """The debug route: any payload, and the NLU, state, suggestions and decision on request."""
    conversations: Conversations = request.app.state.conversations
    body = await read_payload(request, body_limit(conversations))  # parsed first, as Botpress does
    bot = find_bot(conversations, request.path_params["botId"])
    user = await require_user(request)
    if not user.may_access(bot.id):
        raise no_access(bot.id)
    await admit(request, conversations, bot, request.path_params["userId"])
    if isinstance(body, list):  # lodash's omit turns an array into an object of its indexes
        body = {str(i): v for i, v in enumerate(body)}
    result = await run(conversations, bot, request.path_params["userId"], body,
                       message_id=message_id_of(request, body))
    include = set((request.query_params.get("include") or "").lower().split(","))  # untrimmed, as Botpress
    full: dict[str, Any] = {
        "responses": shape_responses(result.responses),
        "nlu": result.nlu,
        "suggestions": result.suggestions,
        "credentials": None,
        "state": result.state,
        "decision": result.decision,
    }
    return json_response({k: v for k, v in full.items() if k == "responses" or (k in include and v is not None)},
                         headers=token_header(request, bot.id, request.path_params["userId"]))
