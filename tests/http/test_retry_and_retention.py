"""Retry-safe messages (`messageId` / `Idempotency-Key`) and the event log's retention."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from parley.store.base import ConversationKey
from tests.http.test_converse import converse_url, make_data, serve
from tests.reliability.counting import write_counter_bot


def counts(body: dict[str, object]) -> list[str]:
    return [p["text"] for p in body["responses"] if p.get("type") == "text"]  # type: ignore[attr-defined, index]


async def test_a_retried_message_is_answered_once(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    write_counter_bot(data)
    async with serve(data) as (client, _):
        url = converse_url("counter", "ann")
        first = await client.post(url, json={"text": "hi", "messageId": "m-1"})
        again = await client.post(url, json={"text": "hi", "messageId": "m-1"})
        assert first.status_code == again.status_code == 200
        assert counts(first.json()) == counts(again.json()) == ["0"]
        # A new id is a new message; the header works like the body field.
        assert counts((await client.post(url, json={"text": "hi", "messageId": "m-2"})).json()) == ["1"]
        h1 = await client.post(url, json={"text": "hi"}, headers={"Idempotency-Key": "k-9"})
        h2 = await client.post(url, json={"text": "hi"}, headers={"Idempotency-Key": "k-9"})
        assert counts(h1.json()) == counts(h2.json()) == ["2"]
        # Without an id every message counts.
        assert counts((await client.post(url, json={"text": "hi"})).json()) == ["3"]
        # Ids are per conversation: another user's m-1 is a different message.
        assert counts(
            (await client.post(converse_url("counter", "bob"), json={"text": "hi", "messageId": "m-1"})).json()
        ) == ["0"]


async def test_concurrent_retries_of_one_message_run_it_once(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    write_counter_bot(data)
    async with serve(data) as (client, _):
        url = converse_url("counter", "cy")
        answers = await asyncio.gather(*(client.post(url, json={"text": "hi", "messageId": "same"}) for _ in range(8)))
        assert {tuple(counts(a.json())) for a in answers} == {("0",)}
        assert counts((await client.post(url, json={"text": "hi"})).json()) == ["1"]


async def test_a_bad_message_id_is_a_clear_400(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    write_counter_bot(data)
    async with serve(data) as (client, _):
        url = converse_url("counter", "dee")
        r = await client.post(url, json={"text": "hi", "messageId": 5})
        assert r.status_code == 400 and "messageId" in r.json()["message"]
        r = await client.post(url, json={"text": "hi", "messageId": "x" * 129})
        assert r.status_code == 400
        r = await client.post(url, json={"text": "hi"}, headers={"Idempotency-Key": "y" * 200})
        assert r.status_code == 400


async def test_old_events_are_pruned_by_logs_expiration(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    write_counter_bot(data)
    cfg_path = data / "bots" / "counter" / "bot.config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["logs"] = {"expiration": "1h"}
    cfg_path.write_text(json.dumps(cfg))
    async with serve(data) as (client, app):
        await client.post(converse_url("counter", "eve"), json={"text": "hi", "messageId": "a"})
        conversations = app.state.conversations
        key = ConversationKey("counter", "api", "eve")
        await conversations.event_log.flush()  # the log is written in batches
        assert len(await conversations.store.events(key)) == 2  # incoming + outgoing
        assert await conversations.prune(now=time.time() + 1800) == 0  # within the hour: kept
        assert await conversations.prune(now=time.time() + 2 * 86400) == 3  # 2 events + 1 stored answer
        assert await conversations.store.events(key) == []
        # The conversation itself is untouched: the count goes on.
        r = await client.post(converse_url("counter", "eve"), json={"text": "hi"})
        assert counts(r.json()) == ["1"]


async def test_the_event_log_is_batched_or_written_with_each_turn(tmp_path: Path) -> None:
    """By default a turn's events wait for the next batch and the server writes them at shutdown;
    with `eventCollector.collectionInterval: "0"` they commit with the turn itself."""
    key = ConversationKey("counter", "api", "eve")
    for interval, right_away in (("1h", 0), ("0", 2)):
        data = make_data(tmp_path / interval)
        write_counter_bot(data)
        (data / "global" / "botpress.config.json").write_text(
            json.dumps({"eventCollector": {"collectionInterval": interval}}))
        async with serve(data) as (client, app):
            r = await client.post(converse_url("counter", "eve"), json={"text": "hi"})
            assert r.status_code == 200
            store = app.state.conversations.store
            assert len(await store.events(key)) == right_away
        from parley.store.sql import SQLiteStore

        reopened = SQLiteStore(data / "storage" / "parley.sqlite")
        await reopened.open()
        try:
            assert [e["direction"] for e in await reopened.events(key)] == ["incoming", "outgoing"]
        finally:
            await reopened.close()
