"""Shared fixtures: paths to ../shared and a real parley server in a subprocess."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from parley.bots.models import Bot
    from parley.nlu.service import NluService

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TEMPLATES = SHARED / "botpress-templates"
TRANSCRIPTS = SHARED / "botpress-transcripts"
REPLAY = SHARED / "tools" / "replay.py"
EXAMPLES = REPO / "examples" / "data"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test compiled modules older than their source (`make test` compiles them again)."""
    from parley.compiled import stale

    outdated = stale()
    if outdated:
        pytest.exit(f"compiled modules are older than their source: {', '.join(outdated)}; run `make test` "
                    "(which compiles them again) or `make uncompile`", returncode=4)


@asynccontextmanager
async def trained_nlu(bot_folder: Path, cache: Path) -> AsyncIterator[tuple[Bot, NluService]]:
    """(bot, NLU service) with the bot's models trained into `cache`; the service closed afterwards."""
    from parley.bots.loader import load_bot
    from parley.bots.models import Bot
    from parley.nlu.service import NluService

    bot = load_bot(bot_folder)
    assert isinstance(bot, Bot), bot
    service = NluService(cache)
    try:
        await service.train(bot)
        yield bot, service
    finally:
        service.close()

ADMIN_EMAIL = "admin@parley.test"
ADMIN_PASSWORD = "Adm1n-Passw0rd!"


def shared_or_skip() -> None:
    if not TEMPLATES.is_dir() or not REPLAY.is_file():
        pytest.skip(f"../shared is absent ({SHARED}): compatibility tests need the Botpress templates")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    data: Path
    proc: subprocess.Popen[bytes]
    log: Path


def make_template_data(root: Path, global_config: dict[str, object] | None = None) -> Path:
    """The data folder the golden transcripts were recorded with (templates + a disabled bot)."""
    data = root / "data"
    (data / "bots").mkdir(parents=True)
    (data / "global").mkdir()
    for name in ("empty-bot", "welcome-bot", "small-talk"):
        shutil.copytree(TEMPLATES / name, data / "bots" / name)
    shutil.copytree(TEMPLATES / "empty-bot", data / "bots" / "disabled-bot")
    cfg_path = data / "bots" / "disabled-bot" / "bot.config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["disabled"] = True
    cfg_path.write_text(json.dumps(cfg))
    for name in ("empty-bot", "welcome-bot", "small-talk"):
        p = data / "bots" / name / "bot.config.json"
        c = json.loads(p.read_text())
        c.setdefault("converse", {})["bufferDelayMs"] = 1
        p.write_text(json.dumps(c))
    (data / "global" / "botpress.config.json").write_text(json.dumps(global_config or {}))
    return data


def start_server(data: Path, log: Path, env: dict[str, str] | None = None) -> Server:
    """`parley serve` on a free port; again on another when something took the port before the
    server could bind it (`free_port` only finds one that is free now)."""
    for _ in range(3):
        try:
            return _start_server(data, log, env)
        except PortTaken:
            continue
    return _start_server(data, log, env)


class PortTaken(RuntimeError):
    pass


def _start_server(data: Path, log: Path, env: dict[str, str] | None) -> Server:
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if k not in ("PARLEY_DATABASE_URL", "PARLEY_REDIS_URL")}
    full_env = {
        **inherited,
        "PARLEY_NLU": "off",
        "PARLEY_WATCH": "off",
        "PARLEY_ADMIN_EMAIL": ADMIN_EMAIL,
        "PARLEY_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **(env or {}),
    }
    with log.open("wb") as out:  # the server writes to its own copy of the file handle
        proc = subprocess.Popen(
            [sys.executable, "-m", "parley", "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text()
            if "address already in use" in text.lower():
                raise PortTaken(text)
            raise RuntimeError(f"server exited early:\n{text}")
        try:
            with urllib.request.urlopen(base + "/status", timeout=1) as resp:
                if resp.status == 200:
                    return Server(base, data, proc, log)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not become ready:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def template_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    shared_or_skip()
    root = tmp_path_factory.mktemp("templates")
    data = make_template_data(root)
    server = start_server(data, root / "server.log")
    yield server
    stop_server(server)


class ShiftedClock:
    """The wall clock as `parley.conversations` sees it (`wall_clock`), moved forward on demand: a
    test lets a context or session expire without waiting, and without a short timeout that a slow
    machine could pass between two of the test's own messages."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


# a global config for tests that move the clock: the janitor, which reads the same clock, stays out of the way
NO_JANITOR = {"dialog": {"janitorInterval": "1h"}}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ShiftedClock:
    shifted = ShiftedClock()
    monkeypatch.setattr("parley.conversations.wall_clock", shifted.time)
    return shifted


async def until(ready: Callable[[], bool | Awaitable[bool]], seconds: float = 30, step: float = 0.01) -> bool:
    """Poll `ready` (a function or a coroutine function) until it holds or `seconds` pass, and say
    whether it held: a test waits for a state however slow the machine is, then asserts what it needs."""
    deadline = time.monotonic() + seconds
    while True:
        result = ready()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
