"""Throttling (rate limits, bounded queues), the per-bot API switch and CORS."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import until
from tests.http.test_converse import converse_url, make_data, serve, write_bot

ANSWER = [{"id": "n", "name": "n", "onEnter": ['say #builtin_text {"text":"ok"}'], "onReceive": None, "next": []}]


def bot_with(
    data: Path,
    bot_id: str,
    converse: dict[str, Any],
    actions: dict[str, str] | None = None,
    nodes: list[dict[str, Any]] | None = None,
) -> None:
    write_bot(data, bot_id, nodes=nodes or ANSWER, config={"converse": converse}, actions=actions)


async def test_per_user_and_per_bot_rate_limits(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    bot_with(data, "limited", {"rateLimit": {"perUser": "3/minute", "perBot": "5/minute"}})
    bot_with(data, "free", {})
    async with serve(data) as (client, _):
        statuses = [
            (await client.post(converse_url("limited", "ann"), json={"text": "hi"})).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        r = await client.post(converse_url("limited", "ann"), json={"text": "hi"})
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
        assert r.json()["message"].startswith("Too many requests")
        # Another user has a budget of their own, until the bot's budget (5/minute) runs out.
        assert (await client.post(converse_url("limited", "bob"), json={"text": "hi"})).status_code == 200
        assert (await client.post(converse_url("limited", "cy"), json={"text": "hi"})).status_code == 200
        assert (await client.post(converse_url("limited", "dee"), json={"text": "hi"})).status_code == 429
        # Other bots are not affected.
        assert (await client.post(converse_url("free", "ann"), json={"text": "hi"})).status_code == 200


async def test_global_rate_limit_applies_to_every_bot(tmp_path: Path) -> None:
    data = make_data(tmp_path, {"converse": {"rateLimit": {"perUser": "2/minute"}}})
    bot_with(data, "a", {})
    async with serve(data) as (client, _):
        codes = [(await client.post(converse_url("a", "u"), json={"text": "hi"})).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


@pytest.mark.skipif(not os.environ.get("PARLEY_TEST_REDIS_URL"), reason="PARLEY_TEST_REDIS_URL is not set")
async def test_rate_limits_are_shared_by_workers_through_redis(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    bot_id = f"shared-{uuid.uuid4().hex[:8]}"
    bot_with(data, bot_id, {"rateLimit": {"perUser": "4/minute"}})
    redis = os.environ["PARLEY_TEST_REDIS_URL"]
    async with serve(data, PARLEY_REDIS_URL=redis) as (one, _), serve(data, PARLEY_REDIS_URL=redis) as (two, _):
        codes = []
        for i in range(6):
            client = one if i % 2 else two
            codes.append((await client.post(converse_url(bot_id, "ann"), json={"text": "hi"})).status_code)
        assert codes == [200, 200, 200, 200, 429, 429]


SLOW = """
import asyncio
import pathlib

async def run(args):
    for _ in range(3000):  # busy until the test releases it (30 s at most)
        if pathlib.Path(args["release"]).exists():
            return
        await asyncio.sleep(0.01)
"""


def slow_nodes(release: Path) -> list[dict[str, Any]]:
    return [{"id": "n", "name": "n", "onEnter": [f"slow {json.dumps({'release': str(release)})}",
                                                 'say #builtin_text {"text":"done"}'], "onReceive": None, "next": []}]


async def five_at_once(posts: list[Any], release: Path) -> list[Any]:
    """Send five messages of one user while the first turn is held; once three answers are in (the
    queue is full: 429 right away), release it. No race with the machine's speed."""
    tasks = [asyncio.create_task(p) for p in posts]
    await until(lambda: sum(t.done() for t in tasks) >= 3)
    release.touch()
    return await asyncio.gather(*tasks)


async def test_a_users_queue_of_waiting_turns_is_bounded(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    release = tmp_path / "release"
    bot_with(data, "queue", {"maxQueuedTurns": 2}, actions={"slow": SLOW}, nodes=slow_nodes(release))
    async with serve(data) as (client, _):
        answers = await five_at_once(
            [client.post(converse_url("queue", "ann"), json={"text": str(i)}) for i in range(5)], release)
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 200, 429, 429, 429]
        assert all("Retry-After" in a.headers for a in answers if a.status_code == 429)
        # Once the queue drained, the user is served again.
        assert (await client.post(converse_url("queue", "ann"), json={"text": "again"})).status_code == 200


@pytest.mark.skipif(not os.environ.get("PARLEY_TEST_REDIS_URL"), reason="PARLEY_TEST_REDIS_URL is not set")
async def test_the_queue_bound_counts_every_workers_turns_through_redis(tmp_path: Path) -> None:
    """Two workers, one user, five messages at once: the queue of 2 is the user's, not each worker's."""
    data = make_data(tmp_path)
    bot_id = f"queue-{uuid.uuid4().hex[:8]}"
    release = tmp_path / "release"
    bot_with(data, bot_id, {"maxQueuedTurns": 2}, actions={"slow": SLOW}, nodes=slow_nodes(release))
    redis = os.environ["PARLEY_TEST_REDIS_URL"]
    async with serve(data, PARLEY_REDIS_URL=redis) as (one, _), serve(data, PARLEY_REDIS_URL=redis) as (two, _):
        answers = await five_at_once(
            [(one if i % 2 else two).post(converse_url(bot_id, "ann"), json={"text": str(i)}) for i in range(5)],
            release)
        assert sorted(a.status_code for a in answers) == [200, 200, 429, 429, 429]
        assert (await one.post(converse_url(bot_id, "ann"), json={"text": "again"})).status_code == 200


async def test_the_converse_api_can_be_switched_off_for_one_bot(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    bot_with(data, "off", {"enabled": False})
    bot_with(data, "on", {})
    async with serve(data) as (client, _):
        r = await client.post(converse_url("off", "ann"), json={"text": "hi"})
        assert r.status_code == 403 and "disabled" in r.json()["message"]
        r = await client.post(converse_url("off", "ann") + "/secured", json={"text": "hi"})
        assert r.status_code in (401, 403)  # no token: 401 before anything else is said about the bot
        assert (await client.post(converse_url("on", "ann"), json={"text": "hi"})).status_code == 200


async def test_cors_follows_each_bots_allowed_origins(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    bot_with(data, "web", {"allowedOrigins": ["https://shop.example"]})
    bot_with(data, "closed", {})
    async with serve(data) as (client, _):
        pre = await client.options(
            converse_url("web", "ann"),
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == "https://shop.example"
        assert "POST" in pre.headers["access-control-allow-methods"]
        r = await client.post(
            converse_url("web", "ann"), json={"text": "hi"}, headers={"Origin": "https://shop.example"}
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
        other = await client.options(
            converse_url("web", "ann"),
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
        # a bot without allowedOrigins: Botpress's `httpServer.cors` default, any origin (it got no header)
        r = await client.post(
            converse_url("closed", "ann"), json={"text": "hi"}, headers={"Origin": "https://shop.example"}
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        assert json.loads(r.content)["responses"]
        pre = await client.options("/api/v1/auth/login/basic/default",
                                   headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"


async def test_cors_is_off_when_botpress_config_turns_it_off(tmp_path: Path) -> None:
    data = make_data(tmp_path, {"httpServer": {"cors": {"enabled": False}}})
    bot_with(data, "closed", {})
    async with serve(data) as (client, _):
        r = await client.post(
            converse_url("closed", "ann"), json={"text": "hi"}, headers={"Origin": "https://shop.example"}
        )
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        pre = await client.options(converse_url("closed", "ann"),
                                   headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 403
