"""The conversation's outbox: messages the bot sends outside a request, and the notifications that
wake whoever is waiting for them.

A message produced outside a request (a timeout handler, a proactive event, a message an action
scheduled for later) is written to the outbox in the same transaction as the turn that produced it,
with an id that grows with every entry. It is never added to the answer of another request; clients
read it from the stream, the poll route or a webhook, each keyed by that id.

`Notifier` tells waiting streams that a conversation has new entries: in the process at once, and
through Redis pub/sub to every other worker when Redis is configured. A notification carries no
data: the stream then reads the store, so a lost notification only delays a message until the
stream's next look at the store, and never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from parley.bots.models import Bot
from parley.engine.expressions import js_truthy
from parley.engine.state import JSONDict
from parley.settings import Settings
from parley.store.base import ConversationKey
from parley.store.redis_client import redis_from_url
from parley.webhooks import Webhooks

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("parley.outbox")

CHANNEL = "parley:outbox"

# Where an outbox entry comes from.
SOURCE_TIMEOUT = "timeout"  # a context timed out and its handler spoke
SOURCE_EVENT = "event"  # POST …/converse/{userId}/events
SOURCE_SCHEDULED = "scheduled"  # a Python action's send_later(…)


def shape_responses(payloads: list[JSONDict]) -> list[JSONDict]:
    """Converse API payloads: `{"type":"typing","value":true}` before a payload that has typing,
    and no rendering leftovers (`typing`, `workflow`) inside payloads."""
    out: list[JSONDict] = []
    for p in payloads:
        if js_truthy(p.get("typing")):  # Botpress shows any truthy typing (true, 1000, "yes")
            out.append({"type": "typing", "value": True})
        out.append({k: v for k, v in p.items() if k not in ("typing", "workflow")})
    return out


def new_entry(source: str, event_id: str, payloads: list[JSONDict], created_at: float) -> JSONDict:
    """An entry for the store (`Saved.outbox`)."""
    return {"eventId": event_id, "source": source, "responses": shape_responses(payloads), "createdAt": created_at}


def iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def public_message(bot_id: str, user_id: str, entry: JSONDict) -> JSONDict:
    """An outbox entry as the stream, the poll route, webhooks and the events route show it."""
    created = entry.get("createdAt")
    return {
        "id": entry.get("id"),
        "botId": bot_id,
        "userId": user_id,
        "source": entry.get("source"),
        "eventId": entry.get("eventId"),
        "createdAt": iso(float(created)) if isinstance(created, int | float) else None,
        "responses": entry.get("responses") or [],
    }


class Subscription:
    """One waiter (an open stream) on one conversation."""

    def __init__(self) -> None:
        self.pending = asyncio.Event()

    def arm(self) -> None:
        """Call before reading the store: a notification arriving after this wakes `wait`."""
        self.pending.clear()

    async def wait(self, timeout: float) -> bool:
        """True when notified, False when `timeout` seconds passed first."""
        try:
            await asyncio.wait_for(self.pending.wait(), timeout)
            return True
        except TimeoutError:
            return False


class Notifier:
    """Wakes the streams waiting on a conversation: in this process, and in every worker through
    Redis pub/sub (one channel, the message is the conversation's session id)."""

    def __init__(self, redis_url: str | None = None) -> None:
        self.redis: Redis | None = redis_from_url(redis_url, decode_responses=True) if redis_url else None
        self._topics: dict[str, set[Subscription]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subscribed = asyncio.Event()

    @property
    def shared(self) -> bool:
        """Whether notifications reach the other workers (else streams must also poll the store)."""
        return self.redis is not None

    async def open(self) -> None:
        if self.redis is None:
            return
        self._listener = asyncio.create_task(self._listen())
        # Streams rely on the subscription: wait for it (briefly; the listener keeps retrying).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._listener] if self._listener else [])]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.redis is not None:
            await self.redis.aclose()

    @contextlib.contextmanager
    def subscribe(self, session_id: str) -> Iterator[Subscription]:
        sub = Subscription()
        self._topics.setdefault(session_id, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._topics.get(session_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._topics[session_id]

    def notify(self, session_id: str) -> None:
        """New outbox entries were committed for this conversation. Never blocks."""
        self._wake(session_id)
        if self.redis is not None:
            task = asyncio.create_task(self._publish(session_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _wake(self, session_id: str) -> None:
        for sub in self._topics.get(session_id, ()):
            sub.pending.set()

    def _wake_all(self) -> None:
        for subs in self._topics.values():
            for sub in subs:
                sub.pending.set()

    async def _publish(self, session_id: str) -> None:
        assert self.redis is not None
        try:
            await self.redis.publish(CHANNEL, session_id)
        except Exception as exc:  # the other workers' streams find the entry on their next look
            log.warning("cannot publish an outbox notification: %s", exc)

    async def _listen(self) -> None:
        assert self.redis is not None
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    self._wake_all()  # anything published while we were not listening: look again
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                        if message is not None and message.get("type") == "message":
                            self._wake(str(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._subscribed.clear()
                log.warning("outbox notifications from Redis interrupted (%s); retrying", exc)
                await asyncio.sleep(1.0)


class Delivery:
    """What happens once a turn's outbox entries are committed: streams are woken (here and in the
    other workers) and, when the bot has a webhook, the entries are posted to it in the background.
    An instance is the `on_outbox` listener of `Conversations`."""

    def __init__(self, settings: Settings, notifier: Notifier | None = None, webhooks: Webhooks | None = None) -> None:
        self.settings = settings
        self.notifier = notifier or Notifier(settings.redis_url)
        self.webhooks = webhooks or Webhooks()

    async def open(self) -> None:
        await self.notifier.open()

    async def close(self) -> None:
        await self.webhooks.close()
        await self.notifier.close()

    def webhook(self, bot: Bot) -> tuple[str, str | None] | None:
        """`converse.webhook.url` and `.secret`, each from bot.config.json, else botpress.config.json."""

        def value(name: str) -> Any:
            path = ("converse", "webhook", name)
            return bot.config.get(*path) or self.settings.global_value(*path)

        url, secret = value("url"), value("secret")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return None
        return url, secret if isinstance(secret, str) and secret else None

    def __call__(self, bot: Bot, key: ConversationKey, entries: list[JSONDict]) -> None:
        self.notifier.notify(key.session_id)
        target = self.webhook(bot)
        if target is not None:
            messages = [public_message(bot.id, key.user_id, e) for e in entries]
            self.webhooks.send(target[0], target[1], key.session_id, messages)
