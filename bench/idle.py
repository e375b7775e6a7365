"""What one idle moment between requests costs: `python bench/idle.py {echo,parley} DATA_DIR`, where
DATA_DIR holds the `welcome-bot` template (`make bench` makes one).

With one client, the server waits for each next request, and on this VM a wait costs CPU afterwards:
the vCPU halts (the guest's halt polling is off, `haltpoll.guest_halt_poll_ns=0`), and the request
that wakes it runs with cold caches and branch predictors. The cost grows with how much code and data a
request touches, so it weighs more on a conversation turn than on the echo, and it is the part of
the 1-client CPU ratio that the hot path's instruction count does not explain.

Measured in-process (the ASGI app called directly, no HTTP server, no socket): CPU µs per request
back to back, then with `time.sleep(0)` between requests (a zero-length sleep still blocks, so the
vCPU halts). Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TEXTS = ("hello", "memory", "Ada", "hi", "context", "monkey")
WARM_UP = 1500
MEASURED = 4000


async def converse_in_process(app: Any, user: str, text: str) -> None:
    """One welcome-bot turn through the ASGI app, as the server would call it (also bench/instructions.py)."""
    body = json.dumps({"type": "text", "text": text}).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": f"/api/v1/bots/welcome-bot/converse/{user}", "raw_path": b"",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 3000),
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    sent = False
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"answered {status}")
    # Back to the event loop, as a server goes between requests: the tasks a turn scheduled run (the
    # event log's batch write). Without this, a loop of turns never lets the batch be written, and the
    # log, full, drops entries with a warning on every turn: that was counted as the turn's cost.
    await asyncio.sleep(0)


async def _measure(app: Any) -> dict[str, float]:
    n = 0

    async def run(count: int, pause: bool) -> tuple[float, float]:
        """CPU µs and blocking waits per request."""
        nonlocal n
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(count):
            n += 1
            await converse_in_process(app, f"u{n % 1000}", TEXTS[(n // 200) % len(TEXTS)])
            if pause:
                time.sleep(0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return cpu / count * 1e6, (after.ru_nvcsw - before.ru_nvcsw) / count

    await run(WARM_UP, False)
    back_to_back = min([await run(MEASURED, False), await run(MEASURED, False)])
    with_pause = min([await run(MEASURED, True), await run(MEASURED, True)])
    return {"back_to_back_cpu_us": round(back_to_back[0], 1), "with_idle_cpu_us": round(with_pause[0], 1),
            "idle_cost_us": round(with_pause[0] - back_to_back[0], 1),
            "waits_per_request": [round(back_to_back[1], 2), round(with_pause[1], 2)]}


def main() -> None:
    target, data = sys.argv[1], Path(sys.argv[2])
    sys.path.insert(0, str(REPO))
    if target == "echo":
        sys.path.insert(0, str(BENCH))
        from echo_app import app

        print(json.dumps(asyncio.run(_measure(app))))
        return
    from parley.http.app import create_app
    from parley.settings import Settings

    parley = create_app(Settings.from_env(data, env={**os.environ, "PARLEY_WATCH": "off"}))  # PARLEY_NLU as given

    async def with_lifespan() -> dict[str, float]:
        async with parley.router.lifespan_context(parley):
            return await _measure(parley)

    print(json.dumps(asyncio.run(with_lifespan())))


if __name__ == "__main__":
    main()
