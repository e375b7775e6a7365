"""Webhooks: each outbox message POSTed to the bot's `converse.webhook.url`, signed, retried.

Configured in bot.config.json (else botpress.config.json), key by key:

    "converse": {"webhook": {"url": "https://app.example/parley", "secret": "…"}}

The body is the message as the poll route shows it (`{"id", "botId", "userId", "source", "eventId",
"createdAt", "responses"}`); `X-Parley-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body
with the secret (absent when no secret is configured). Any answer but 2xx, or no answer, is retried
with exponential backoff (with jitter), up to `max_attempts`. Deliveries run as background tasks of
the worker that produced the message, so a slow receiver never delays a turn; the messages of one
conversation are delivered in id order. A delivery still pending when the worker stops is not
retried by another worker: the message stays in the outbox (stream, poll) for the receiver to
catch up, by its id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
from typing import TYPE_CHECKING, Any

import orjson

from parley.engine.state import JSONDict

if TYPE_CHECKING:  # imported when the first webhook is sent: it costs every server start ~60 ms
    import httpx

log = logging.getLogger("parley.webhooks")

SIGNATURE_HEADER = "X-Parley-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhooks:
    def __init__(self, *, max_attempts: int = 8, base_delay: float = 1.0, max_delay: float = 300.0,
                 timeout: float = 10.0) -> None:
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Per conversation: a lock so deliveries go out in id order, and how many tasks use it.
        self._order: dict[str, tuple[asyncio.Lock, int]] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False,
                                             headers={"User-Agent": "parley-webhook"})
        return self._client

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def send(self, url: str, secret: str | None, conversation: str, messages: list[JSONDict]) -> None:
        """Deliver `messages` in the background; never blocks and never raises."""
        task = asyncio.create_task(self._deliver_all(url, secret, conversation, messages))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_all(self, url: str, secret: str | None, conversation: str, messages: list[JSONDict]) -> None:
        lock, users = self._order.get(conversation) or (asyncio.Lock(), 0)
        self._order[conversation] = (lock, users + 1)
        try:
            async with lock:
                for message in messages:
                    await self._deliver(url, secret, message)
        finally:
            lock, users = self._order[conversation]
            if users > 1:
                self._order[conversation] = (lock, users - 1)
            else:
                del self._order[conversation]

    async def _deliver(self, url: str, secret: str | None, message: JSONDict) -> bool:
        import httpx

        body = orjson.dumps(message)
        headers = {"Content-Type": "application/json", "X-Parley-Message-Id": str(message.get("id"))}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        for attempt in range(1, self.max_attempts + 1):
            problem: Any
            try:
                r = await self.client.post(url, content=body, headers=headers)
                if 200 <= r.status_code < 300:
                    return True
                problem = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == self.max_attempts:
                log.error("webhook %s: giving up on message %s after %d attempts (%s)", url, message.get("id"),
                          attempt, problem)
                return False
            delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
            log.warning("webhook %s: message %s not delivered (%s); retrying in %.1fs", url, message.get("id"),
                        problem, delay)
            await asyncio.sleep(delay)
        return False
