"""CORS for browsers: per bot, `converse.allowedOrigins` in bot.config.json (else botpress.config.json);
without it, Botpress's own `httpServer.cors` (`enabled`, default true, and `origin`).

`allowedOrigins` is a list of origins (`["https://shop.example"]`) or `["*"]`: other origins get no CORS
header, and their preflight requests a 403. Without it, every path answers any origin as Botpress's
`cors()` middleware does (`Access-Control-Allow-Origin: *`, or `httpServer.cors.origin`), unless
`httpServer.cors.enabled` is false: then no CORS header is sent and browsers keep other sites from
calling the API (servers and apps are not affected).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BOT_PATH = re.compile(r"^/api/v1/bots/([^/]+)/", re.IGNORECASE)
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Conversation-Token"
ALLOW_METHODS = "GET, POST, OPTIONS"


class BotCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def _allowed(self, scope: Scope, origin: str) -> str | None:
        """The `Access-Control-Allow-Origin` to send to `origin`, or None for no CORS."""
        state = scope["app"].state if "app" in scope else None
        if state is None:
            return None
        m = BOT_PATH.match(scope.get("path", ""))
        configured: Any = None
        if m is not None:
            bot = state.registry.get(m.group(1))
            if bot is not None and hasattr(bot, "config"):
                configured = bot.config.get("converse", "allowedOrigins")
        if configured is None:
            configured = state.settings.global_value("converse", "allowedOrigins")
        if configured is None:  # Botpress's `httpServer.cors`, enabled unless it says otherwise
            cors = state.settings.global_value("httpServer", "cors")
            cors = cors if isinstance(cors, dict) else {}
            if cors.get("enabled", True) is False:
                return None
            configured = cors.get("origin", "*")
            if isinstance(configured, str) and configured != "*":
                return configured  # the `cors` package sends a fixed origin as it is
        if isinstance(configured, str):
            configured = [configured]
        if not isinstance(configured, list):
            return None
        return origin if origin in configured else "*" if "*" in configured else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self._allowed(scope, origin)
        if scope["method"] == "OPTIONS" and headers.get("access-control-request-method"):
            if not allowed:
                await Response("CORS: origin not allowed", status_code=403)(scope, receive, send)
                return
            await Response(status_code=204, headers={
                "Access-Control-Allow-Origin": allowed,
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            })(scope, receive, send)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                raw.append((b"access-control-allow-origin", allowed.encode("latin-1")))
                raw.append((b"access-control-expose-headers", b"Retry-After, X-Conversation-Token"))
                raw.append((b"vary", b"Origin"))
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, with_cors)
