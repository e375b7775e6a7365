"""Scale-out reliability benchmark: 1, 2 and 4 parley processes on one PostgreSQL and one Redis.

Many users send bursts of concurrent messages to a bot that counts each user's messages; every
answer is checked (lost, duplicated, out-of-order counts must all be 0). Then the same with one
worker killed by SIGKILL mid-run. Prints figures and the ratio of lock wait to turn time.

  PARLEY_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \
  PARLEY_TEST_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/reliability.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import start_server, stop_server  # noqa: E402
from tests.reliability.counting import Outcome, drive, pg_schema, write_counter_bot  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


async def lock_stats(bases: list[str]) -> tuple[float, float]:
    wait = run = 0.0
    async with httpx.AsyncClient() as client:
        for b in bases:
            try:
                t = (await client.get(f"{b}/api/v1/metrics")).json()["turns"]
                wait += t["lockWaitSeconds"]
                run += t["turnSeconds"]
            except (httpx.HTTPError, ValueError, KeyError):
                continue
    return wait, run


async def scenario(workers: int, *, users: int, bursts: int, burst: int, kill: bool) -> dict[str, object]:
    db, redis = os.environ["PARLEY_TEST_DATABASE_URL"], os.environ["PARLEY_TEST_REDIS_URL"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_counter_bot(data)
        async with pg_schema(db) as url:
            env = {"PARLEY_DATABASE_URL": url, "PARLEY_REDIS_URL": redis, "PARLEY_LOCK_TTL": "2s"}
            servers = [start_server(data, Path(tmp) / f"w{i}.log", env=env) for i in range(workers)]
            try:
                bases = [s.base for s in servers]
                dead: set[str] = set()
                run = asyncio.create_task(drive(bases, users=users, bursts=bursts, burst_size=burst, dead=dead))
                if kill:
                    await asyncio.sleep(1.0)
                    dead.add(servers[-1].base)
                    servers[-1].proc.send_signal(signal.SIGKILL)
                out: Outcome = await run
                wait, ran = await lock_stats([b for b in bases if b not in dead])
            finally:
                for s in servers:
                    stop_server(s)
    lost, dup, disorder = out.check()
    return {
        "workers": workers, "killed": kill, "sent": out.sent, "answered": out.ok,
        "failed_on_killed_worker": out.failed_on_dead_worker, "failed_elsewhere": len(out.failed_elsewhere),
        "lost": lost if not kill else None, "duplicated": dup, "out_of_order": disorder,
        "p50_ms": round(statistics.median(out.latencies_ms), 2) if out.latencies_ms else None,
        "p99_ms": round(pct(out.latencies_ms, 0.99), 2),
        "turns_per_s": round(out.ok / out.elapsed, 1),
        "lock_wait_to_turn_ratio": round(wait / ran, 3) if ran else None,
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--bursts", type=int, default=5)
    ap.add_argument("--burst", type=int, default=4)
    args = ap.parse_args()
    if not (os.environ.get("PARLEY_TEST_DATABASE_URL") and os.environ.get("PARLEY_TEST_REDIS_URL")):
        sys.exit("set PARLEY_TEST_DATABASE_URL and PARLEY_TEST_REDIS_URL")
    rows = []
    for workers, kill in ((1, False), (2, False), (4, False), (2, True), (4, True)):
        rows.append(await scenario(workers, users=args.users, bursts=args.bursts, burst=args.burst, kill=kill))
        r = rows[-1]
        print(f"{r['workers']} workers{' (one killed)' if kill else '':<13} sent {r['sent']:>5}  answered "
              f"{r['answered']:>5}  failed on killed {r['failed_on_killed_worker']:>3}  failed elsewhere "
              f"{r['failed_elsewhere']:>2}  lost {r['lost']}  dup {r['duplicated']}  disorder {r['out_of_order']}  "
              f"p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  {r['turns_per_s']} turns/s  "
              f"lock wait/turn {r['lock_wait_to_turn_ratio']}", flush=True)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
