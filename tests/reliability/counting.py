"""A bot that counts each user's messages, and the load that checks no message is lost or doubled.

Shared by the reliability test (tests/) and its bigger version (bench/reliability.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

COUNTER_FLOW = {
    "version": "0.0.1",
    "startNode": "count",
    "catchAll": {},
    "nodes": [
        {
            "id": "count-node",
            "name": "count",
            "onEnter": [
                "builtin/incrementNumberOfConversations {\"output\":\"n\"}",
                "say #builtin_text {\"text\":\"{{temp.n}}\"}",
            ],
            "onReceive": None,
            "next": [],
        }
    ],
}


def write_counter_bot(data: Path) -> None:
    bot = data / "bots" / "counter"
    (bot / "flows").mkdir(parents=True)
    (bot / "bot.config.json").write_text(json.dumps({"defaultLanguage": "en", "languages": ["en"]}))
    (bot / "flows" / "main.flow.json").write_text(json.dumps(COUNTER_FLOW))
    (data / "global").mkdir(exist_ok=True)
    (data / "global" / "botpress.config.json").write_text("{}")


@asynccontextmanager
async def pg_schema(database_url: str) -> AsyncIterator[str]:
    """A PostgreSQL URL whose tables live in a fresh schema, dropped afterwards."""
    schema = f"parley_rel_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in database_url else "?"
    try:
        yield f"{database_url}{sep}search_path={schema}"
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


class HttpFailure(Exception):
    pass


async def post_json(base: str, path: str, body: dict[str, object], timeout: float = 30) -> tuple[int, bytes]:
    """A minimal HTTP/1.1 POST on its own connection: cheap enough that the load generator is not
    what limits the figures (httpx costs several times more CPU per request than the server)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    data = json.dumps(body).encode()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
    except (OSError, TimeoutError) as exc:
        raise HttpFailure(f"connect: {exc}") from exc
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    except (OSError, TimeoutError) as exc:
        raise HttpFailure(f"{type(exc).__name__}: {exc}") from exc
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise HttpFailure(f"no HTTP answer ({len(raw)} bytes)") from exc
    # a worker killed between sending the head and the body leaves an answer cut short
    length = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
    if length is not None and len(payload) < int(length.group(1)):
        raise HttpFailure(f"answer cut short ({len(payload)} of {int(length.group(1))} bytes)")
    return status, payload


@dataclass
class Outcome:
    sent: int = 0
    ok: int = 0
    failed_on_dead_worker: int = 0
    failed_elsewhere: list[str] = field(default_factory=list)
    # user -> one list of answered counts per burst (in completion order within a burst)
    counts: dict[str, list[list[int]]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    def check(self) -> tuple[int, int, int]:
        """(lost, duplicated, out of order) over every user's answered counts."""
        lost = dup = disorder = 0
        for bursts in self.counts.values():
            got = sorted(c for burst in bursts for c in burst)
            dup += len(got) - len(set(got))
            if got and got[-1] + 1 > len(set(got)):
                lost += got[-1] + 1 - len(set(got))
            # Messages of one burst are concurrent; a later burst must be counted after every earlier one.
            done = [b for b in bursts if b]
            disorder += sum(1 for a, b in zip(done, done[1:], strict=False) if min(b) < max(a))
        return lost, dup, disorder

    def user_counts(self) -> list[list[int]]:
        return [sorted(c for burst in bursts for c in burst) for bursts in self.counts.values()]


async def drive(
    bases: list[str],
    *,
    users: int,
    bursts: int,
    burst_size: int,
    dead: set[str] | None = None,
    on_progress: object = None,
) -> Outcome:
    """Each user sends `bursts` bursts of `burst_size` concurrent messages, spread over the servers.

    Within a burst the messages are concurrent, so their order is the server's to choose; the
    counts a user gets must still be exactly 0..k-1 with no gap or duplicate.
    """
    out = Outcome()
    dead = dead if dead is not None else set()
    start = time.perf_counter()

    async def one(user: str, i: int, burst: list[int]) -> None:
        base = bases[(hash(user) + i) % len(bases)]
        out.sent += 1
        t = time.perf_counter()
        try:
            status, raw = await post_json(base, f"/api/v1/bots/counter/converse/{user}",
                                          {"type": "text", "text": f"message {i}"})
        except HttpFailure as exc:
            if base in dead:
                out.failed_on_dead_worker += 1
            else:
                out.failed_elsewhere.append(f"{user} via {base}: {exc}")
            return
        out.latencies_ms.append((time.perf_counter() - t) * 1000)
        if status != 200:
            if base in dead:
                out.failed_on_dead_worker += 1
            else:
                out.failed_elsewhere.append(f"{user} via {base}: HTTP {status} {raw[:200]!r}")
            return
        texts = [p["text"] for p in json.loads(raw)["responses"] if p.get("type") == "text"]
        out.ok += 1
        burst.append(int(texts[0]))

    async def user_loop(u: int) -> None:
        user = f"u{u}-{uuid.uuid4().hex[:6]}"
        out.counts[user] = []
        for b in range(bursts):
            burst: list[int] = []
            out.counts[user].append(burst)
            await asyncio.gather(*(one(user, b * burst_size + k, burst) for k in range(burst_size)))

    await asyncio.gather(*(user_loop(u) for u in range(users)))
    out.elapsed = time.perf_counter() - start
    return out
