"""How fast a proactive message reaches an open event stream: `python bench/stream.py [--redis URL]`.

The tests prove that a stream is woken by a notification, not by its once-a-minute poll; this
measures how long it takes, over real HTTP on loopback: from sending `POST …/events` to reading the
message on a stream opened before. With `--redis` (or PARLEY_REDIS_URL / PARLEY_TEST_REDIS_URL set),
also across two workers: the event sent through one, the stream open on the other. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from parley.security import tokens  # noqa: E402
from tests.http.test_proactive import (  # noqa: E402
    EventStream,
    admin_token,
    bearer,
    events_url,
    make_data,
    notify_bot,
    running,
    stream_url,
)

MESSAGES = 200


def _figures(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"p50_ms": round(statistics.median(ms), 2), "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2),
            "max_ms": round(ms[-1], 2), "messages": len(ms)}


async def _latencies(sender: Any, sender_app: Any, reader: Any, reader_app: Any, bot_id: str) -> list[float]:
    # the poll and the heartbeat a minute apart: only a notification brings a message this run can count
    reader_app.state.stream.fallback_poll = reader_app.state.stream.heartbeat = 60.0
    admin = await admin_token(sender_app)
    token = {"X-Conversation-Token": tokens.conversation_token(reader_app.state.auth.secret, bot_id, "eve")}
    out = []
    async with EventStream(reader, stream_url(bot_id, "eve"), token) as stream:
        for i in range(MESSAGES + 10):
            started = time.perf_counter()
            r = await sender.post(events_url(bot_id, "eve"), headers=bearer(admin),
                                  json={"type": "proactive", "payloads": [{"type": "text", "text": str(i)}]})
            message = await stream.next(timeout=10)
            elapsed = time.perf_counter() - started
            if message != r.json():
                raise RuntimeError(f"the stream gave {message}, the event was {r.json()}")
            if i >= 10:  # the first ones warm up
                out.append(elapsed)
    return out


async def measure(redis_url: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(Path(tmp))
        bot_id = f"notify-{uuid.uuid4().hex[:8]}"  # a fresh name: other runs may share the Redis
        notify_bot(data, bot_id)
        async with running(data) as (client, app):
            results["one_worker"] = _figures(await _latencies(client, app, client, app, bot_id))
        if redis_url:
            async with running(data, PARLEY_REDIS_URL=redis_url) as (one, one_app), \
                    running(data, PARLEY_REDIS_URL=redis_url) as (two, two_app):
                results["two_workers_redis"] = _figures(await _latencies(two, two_app, one, one_app, bot_id))
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", default=os.environ.get("PARLEY_REDIS_URL") or os.environ.get("PARLEY_TEST_REDIS_URL"))
    args = ap.parse_args()
    print(json.dumps(asyncio.run(measure(args.redis))))


if __name__ == "__main__":
    main()
