"""The NLU inside the server: trained before /status answers, QnA answered through Converse, retrained
when a bot's files change."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from starlette.applications import Starlette

from parley.http.app import create_app
from parley.settings import Settings
from tests.conftest import TEMPLATES, trained_nlu


@asynccontextmanager
async def serve(data: Path, nlu: str = "on") -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    app = create_app(Settings.from_env(data, env={"PARLEY_NLU": nlu, "PARLEY_WATCH": "off"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=30) as client:
            yield client, app


def data_with_small_talk(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "bots").mkdir(parents=True)
    shutil.copytree(TEMPLATES / "small-talk", data / "bots" / "small-talk")
    return data


async def test_server_trains_then_answers_qna(tmp_path: Path) -> None:
    data = data_with_small_talk(tmp_path)
    async with serve(data) as (client, _):
        status = (await client.get("/status")).json()
        assert status["nlu"] == "up"
        assert status["bots"] == {"small-talk": "ready"}
        r = await client.post("/api/v1/bots/small-talk/converse/u1", json={"text": "who built you?"})
        assert r.status_code == 200
        texts = [p.get("text", "") for p in r.json()["responses"]]
        assert any("Botpress" in t for t in texts), texts
    assert any((data / "storage" / "nlu").iterdir())  # the model is cached for the next start


async def test_server_with_nlu_off(tmp_path: Path) -> None:
    async with serve(data_with_small_talk(tmp_path), nlu="off") as (client, _):
        status = (await client.get("/status")).json()
        assert status == {"botpress": "up", "database": "up", "messaging": "up", "nlu": "down"}


async def test_reloaded_bot_is_retrained(tmp_path: Path) -> None:
    data = data_with_small_talk(tmp_path)
    async with serve(data) as (client, app):
        folder = data / "bots" / "small-talk"
        hobby = folder / "intents" / "__qna__f2osy09wyi_what_s_your_hobby.json"
        intent = json.loads(hobby.read_text())
        intent["utterances"]["en"].append("do you like stamp collecting")
        hobby.write_text(json.dumps(intent))
        app.state.registry.reload_folder(folder)
        assert app.state.nlu.status()["small-talk"] == "training"
        for task in list(app.state.nlu._tasks):
            await task
        assert app.state.nlu.status()["small-talk"] == "ready"


async def test_times_are_read_in_the_users_time_zone(tmp_path: Path) -> None:
    """A `timezone` in the message (as Botpress's webchat sends it) places "tomorrow at 7pm" there."""
    from parley.engine.state import default_nlu

    async with trained_nlu(TEMPLATES / "small-talk", tmp_path / "nlu") as (bot, service):
        for tz, suffix in ((-5, "-05:00"), ("Asia/Kolkata", "+05:30")):
            text = "remind me tomorrow at 7pm"
            event = {"type": "text", "preview": text, "payload": {"type": "text", "text": text, "timezone": tz},
                     "state": {"user": {}}, "nlu": default_nlu()}
            result = service.understand(bot, event)
            assert result is not None
            times = [e for e in result["entities"] if e["name"] == "time"]
            assert times and times[0]["data"]["value"].endswith("T19:00:00.000" + suffix), times
