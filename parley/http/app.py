"""`create_app(settings)`: builds the store, the bots and the routes; nothing is global."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley import heap
from parley.bots.loader import discover, peek_config
from parley.bots.registry import BotRegistry
from parley.conversations import Conversations
from parley.http.auth import login, refresh
from parley.http.converse import find_bot, public_converse, secured_converse
from parley.http.cors import BOT_PATH, BotCors
from parley.http.errors import ApiError, PlainError, error_response, json_response, not_found_page
from parley.http.limits import Rate, RateLimiter
from parley.http.media import media
from parley.http.openapi import docs, openapi_json
from parley.http.proactive import StreamSettings, messages, send_event, stream
from parley.outbox import Delivery
from parley.security.service import Auth
from parley.security.tokens import load_or_create_secret
from parley.settings import Settings
from parley.store.redis_locks import RedisLocks
from parley.store.sql import open_store

log = logging.getLogger("parley.http")


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class ExpressParam(Convertor[str]):
    """A route parameter as Express reads it: matched in the path as sent, then percent-decoded, so
    an encoded slash stays inside its parameter (`/converse/team%2F42` is the user `team/42`). What
    JavaScript's `decodeURIComponent` refuses (`%ZZ`, a `%` at the end, bytes that are not UTF-8)
    Express answers with a 400, its error named `URIError`."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        if "%" not in value:
            return value
        try:
            if _BAD_ESCAPE.search(value):
                raise ValueError(value)
            return unquote(value, errors="strict")
        except ValueError:  # UnicodeDecodeError too
            raise ApiError(400, "URIError", f"Failed to decode param '{value}'") from None

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


register_url_convertor("param", ExpressParam())


class NonStrictRouting:
    """Express routes match with one trailing slash too (`/status/` is `/status`); Starlette would
    answer a redirect instead, which clients posting to the converse route do not expect. And Express
    matches the path as sent: a request with percent-escapes is routed on its raw path (the server
    gives the decoded one), its parameters decoded by `ExpressParam`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = original = scope.get("path", "")
            raw = scope.get("raw_path")
            if raw and b"%" in raw:
                path = raw.decode("latin-1")
            elif "%" in path:  # no raw path (optional in ASGI): the parameters are decoded already
                path = path.replace("%", "%25")
            if len(path) > 1 and path.endswith("/"):
                path = path[:-1]
            if path != original:
                scope = {**scope, "path": path, ORIGINAL_PATH: original}
        await self.app(scope, receive, send)


ORIGINAL_PATH = "parley.original_path"
CONVERSE_PATH = re.compile(r"^/api/v1/bots/([^/]+)/converse/([^/]+)/?$", re.IGNORECASE)


class ParleyApp(Starlette):
    """Starlette, with the public converse route (nearly every request) taken straight to its handler:
    past the error, CORS, trailing-slash, exception and routing layers, which it does not need (about
    5 % of a turn's instructions). A request with an `Origin` header goes the long way, where CORS is
    answered; errors get the same answers as on the long way."""

    extra_headers: list[tuple[bytes, bytes]] = []  # httpServer.headers, on every answer
    client_rate: Rate | None = None  # httpServer.rateLimit, on every route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.extra_headers and scope["type"] == "http":
            send = self._with_headers(send, self.extra_headers)
        if self.client_rate is not None and scope["type"] == "http":
            client = scope.get("client")
            try:
                counted = await self.state.limiter.check_client(client[0] if client else "", self.client_rate)
            except PlainError as exc:
                await error_response(exc)(scope, receive, send)
                return
            except Exception:  # the counter's store (Redis) failing: serve rather than refuse everyone
                log.warning("httpServer.rateLimit: could not count a request; let through", exc_info=True)
            else:
                send = self._with_headers(send, counted)
        if scope["type"] == "http" and scope["method"] == "POST":
            m = CONVERSE_PATH.match(scope["path"])
            if m is not None and not any(name == b"origin" for name, _ in scope["headers"]) \
                    and b"%" not in (scope.get("raw_path") or b""):  # escapes: NonStrictRouting's way
                scope["app"] = self
                scope["path_params"] = {"botId": m.group(1), "userId": m.group(2)}
                request = Request(scope, receive)
                try:
                    response = await public_converse(request)
                except (ApiError, PlainError) as exc:
                    response = error_response(exc)
                except Exception as exc:
                    response = await unexpected_error(request, exc)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    @staticmethod
    def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
        """`send`, adding `extra` headers to the answer's head where the route did not set them."""
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        return sending


def _endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """`handler` as Starlette's `Route` wants a request handler: a Python function. A compiled one
    (`make` compiles `parley.http.converse`) is not, and `Route` would take it for an ASGI app."""
    async def endpoint(request: Request) -> Response:
        return await handler(request)

    return endpoint


# The Botpress release whose behaviour parley reproduces (what its `GET /version` answers).
BOTPRESS_VERSION = "12.31.10"


async def version(request: Request) -> Response:
    """Botpress answers `res.send(version)`: the bare version string, as HTML text."""
    return Response(BOTPRESS_VERSION, media_type="text/html; charset=utf-8")


async def status(request: Request) -> Response:
    nlu = "up" if request.app.state.conversations.understand is not None else "down"
    body: dict[str, Any] = {"botpress": "up", "database": "up", "messaging": "up", "nlu": nlu}
    if request.app.state.nlu is not None:  # bot id -> "ready" | "training" | "failed: …" | "disabled"
        body["bots"] = request.app.state.nlu.status()
    return json_response(body)


async def metrics(request: Request) -> Response:
    """Counters of the process that answers (with several workers, each answers for itself)."""
    conversations = request.app.state.conversations
    return json_response({"pid": os.getpid(), "turns": conversations.stats.as_dict()})


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError | PlainError)
    return error_response(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        raw = request.scope.get("raw_path")
        # the path as sent (Express routes and reports it so), else the server's decoded one
        path = raw.decode("latin-1") if raw else request.scope.get(ORIGINAL_PATH) or request.url.path
        # Botpress checks the bot of any /api/v1/bots/<botId>/ path before its routes: an unknown or
        # disabled bot is its JSON 404 whatever the method or the rest of the path
        m = BOT_PATH.match(path)
        if m is not None:
            try:
                find_bot(request.app.state.conversations, unquote(m.group(1)) if raw else m.group(1))
            except ApiError as missing:
                if missing.status == 404:
                    return error_response(missing)
        return not_found_page(request.method, path)
    return error_response(ApiError(exc.status_code, "HttpError", str(exc.detail)))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError(500, "InternalError", "An unexpected error occurred"))


def _start_language_identifier(data_dir: Path, nlu_cache: Path) -> None:
    """If a bot will need the language identifier, start loading it now: it then loads (mostly
    unpacking, off the GIL) while the NLU is imported and the bots are loaded and trained."""
    from parley.nlu.identifier import needed_by, start_loading

    if any(needed_by(peek_config(folder)) for folder in discover(data_dir)):
        start_loading(nlu_cache)


SETTLE_DELAY = 1.0  # seconds between a reload and the heap's settling: turns still on the old bot end first


async def _settle_after(nlu: Any) -> None:
    """After a reload: settle the heap once the turns begun on the old bots are over (what they hold
    would be kept) and the new bots' NLU is trained (their models are most of what is new)."""
    await asyncio.sleep(SETTLE_DELAY)
    if nlu is not None:
        await nlu.trained()
    heap.settle()


def create_app(settings: Settings) -> Starlette:
    registry = BotRegistry(settings.data_dir)
    store = open_store(settings.database_url)
    # Redis when configured (workers on several hosts); otherwise locks the store's backend shares
    # between the processes of one machine (a lock file for SQLite, advisory locks for PostgreSQL).
    locks: Any = RedisLocks(settings.redis_url, ttl=settings.lock_ttl) if settings.redis_url else store.locks()
    delivery = Delivery(settings)  # outbox entries: wake streams (Redis pub/sub across workers), webhooks
    nlu = None
    if settings.nlu_enabled:  # imported only when used: numpy and friends cost a server start ~0.5 s
        nlu_cache = settings.data_dir / "storage" / "nlu"
        _start_language_identifier(settings.data_dir, nlu_cache)
        from parley.nlu.service import NluService

        nlu = NluService(nlu_cache)
    conversations = Conversations(settings, registry, store, locks=locks, on_outbox=delivery,
                                  understand=nlu.understand if nlu is not None else None)
    limiter = RateLimiter(settings.redis_url)
    auth = Auth(store, load_or_create_secret(settings.data_dir), settings.global_value("jwtToken", "duration"),
                redis_url=settings.redis_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        if isinstance(locks, RedisLocks):
            await locks.open()
        await delivery.open()
        registry.load_all()
        if nlu is not None:  # trained (or loaded from the cache) before /status answers
            await nlu.train_all(list(registry.bots.values()))
            registry.listeners.append(nlu.on_reload)
        await auth.ensure_admin(os.environ.get("PARLEY_ADMIN_EMAIL"), os.environ.get("PARLEY_ADMIN_PASSWORD"))
        heap.settle()
        settling: list[asyncio.Task[None]] = []  # the settling after the latest reloads

        def resettle(_bot: object) -> None:
            heap.unsettle()
            if settling and not settling[0].done():
                return  # the pending one settles after this reload too: it waits for every training
            settling[:] = [asyncio.get_running_loop().create_task(_settle_after(nlu))]

        registry.listeners.append(resettle)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(conversations.janitor(stop))]
        if settings.watch:
            tasks.append(asyncio.create_task(registry.watch(stop)))
        try:
            yield
        finally:
            stop.set()
            for t in [*tasks, *settling]:
                t.cancel()
            await asyncio.gather(*tasks, *settling, return_exceptions=True)
            await conversations.close()
            if nlu is not None:
                nlu.close()
            await delivery.close()
            await store.close()
            await limiter.close()
            await auth.close()
            if isinstance(locks, RedisLocks):
                await locks.close()
            else:
                locks.close()
            heap.unsettle()  # what this app built can be collected once it is gone

    converse = "/api/v1/bots/{botId:param}/converse/{userId:param}"
    routes = [  # the converse route first: Starlette tries routes in order, and it takes most requests
        Route(converse, _endpoint(public_converse), methods=["POST"]),
        Route("/status", status, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/api/v1/metrics", metrics, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route(f"{converse}/secured", _endpoint(secured_converse), methods=["POST"]),
        Route(f"{converse}/events", send_event, methods=["POST"]),
        Route(f"{converse}/stream", stream, methods=["GET"]),
        Route(f"{converse}/messages", messages, methods=["GET"]),
        Route("/api/v1/auth/login/basic/{strategy:param}", login, methods=["POST"]),
        Route("/api/v1/auth/refresh", refresh, methods=["GET"]),
        Route("/api/v1/bots/{botId:param}/media/{file:param}", media, methods=["GET"]),
    ]
    for route in routes:  # Express routes ignore case (Botpress keeps its default): /API/V1/Bots/x/Converse/u
        route.path_regex = re.compile(route.path_regex.pattern, re.IGNORECASE)
    app = ParleyApp(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BotCors), Middleware(NonStrictRouting)],
        exception_handlers={
            ApiError: api_error,
            PlainError: api_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
    )
    app.extra_headers = settings.response_headers
    if settings.client_rate is not None:
        app.client_rate = Rate(*settings.client_rate)
    app.state.settings = settings
    app.state.registry = registry
    app.state.conversations = conversations
    app.state.nlu = nlu
    app.state.auth = auth
    app.state.limiter = limiter
    app.state.delivery = delivery
    app.state.stream = StreamSettings()
    return app
