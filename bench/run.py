"""parley's benchmark suite: `make bench` (never part of `make test`).

Everything runs on this machine over loopback with wrk as the load generator. The machine is shared
and noisy, so each figure is also given as a ratio to a bare Starlette + uvicorn echo endpoint
measured in the same run with the same wrk script (the ceiling). Server CPU time comes from the
server processes' own accounting (/proc), not from wall time.

Prints a table and writes the same figures to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from tests.conftest import EXAMPLES, TEMPLATES, make_template_data  # noqa: E402

PY = sys.executable
WRK_SCRIPT = BENCH / "converse.lua"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for k in kids:
        out += _children(int(k))
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and all its descendants (uvicorn workers)."""
    total = 0
    for p in _children(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / TICKS


def rss_mb(pid: int) -> float:
    total = 0
    for p in _children(pid):
        try:
            m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{p}/status").read_text())
            total += int(m.group(1)) if m else 0
        except OSError:
            continue
    return total / 1024


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            with urllib.request.urlopen(base + "/status", timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("server not ready")


@contextmanager
def server(cmd: list[str], env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    port = free_port()
    full = [*cmd, "--port", str(port)]
    t0 = time.monotonic()
    proc = subprocess.Popen(full, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base, proc, time.monotonic() - t0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def parley_cmd(data: Path, workers: int = 1) -> list[str]:
    return [PY, "-m", "parley", "serve", "--data", str(data), "--host", "127.0.0.1", "--workers", str(workers)]


def echo_cmd() -> list[str]:
    return [PY, "-m", "uvicorn", "--app-dir", str(BENCH), "echo_app:app", "--host", "127.0.0.1",
            "--no-access-log", "--log-level", "warning"]


def wrk(base: str, *, bot: str, connections: int, seconds: float, users: int, texts: str,
        unique: bool = False) -> dict[str, Any]:
    env = {**os.environ, "BOT": bot, "USERS": str(users), "TEXTS": texts, "UNIQUE": "1" if unique else "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(WRK_SCRIPT), base],
        env=env, capture_output=True, text=True, timeout=seconds + 60,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, now reaped: the load generator's own CPU
    m = re.search(r"WRKJSON (\{.*\})", out)
    if not m:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    r: dict[str, Any] = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r["wrk_cpu_us_per_req"] = wrk_cpu / max(1, r["requests"]) * 1e6
    r["wrk_cpu_share"] = wrk_cpu / (r["duration_us"] / 1e6)  # of one core
    return r


def load(base: str, proc: subprocess.Popen[bytes], *, bot: str, connections: int, seconds: float,
         users: int = 1000, texts: str = "hello|memory|Ada|hi|context|monkey", unique: bool = False) -> dict[str, Any]:
    wrk(base, bot=bot, connections=connections, seconds=min(2.0, seconds), users=users, texts=texts,
        unique=unique)  # warm-up
    cpu0 = cpu_seconds(proc.pid)
    r = wrk(base, bot=bot, connections=connections, seconds=seconds, users=users, texts=texts, unique=unique)
    r["cpu_us_per_req"] = (cpu_seconds(proc.pid) - cpu0) / max(1, r["requests"]) * 1e6
    return r


def alternating_ratio(data: Path, env: dict[str, str], *, rounds: int, seconds: float) -> dict[str, Any]:
    """Server CPU per welcome-bot turn against the echo's (1 client), measured in `rounds` pairs,
    each pair back to back: the median of the pairs' ratios."""
    pairs = []
    for _ in range(rounds):
        with server(echo_cmd()) as (base, proc, _):
            echo = load(base, proc, bot="welcome-bot", connections=1, seconds=seconds)["cpu_us_per_req"]
        with server(parley_cmd(data), env) as (base, proc, _):
            turn = load(base, proc, bot="welcome-bot", connections=1, seconds=seconds)["cpu_us_per_req"]
        pairs.append({"echo_cpu_us": round(echo), "parley_cpu_us": round(turn), "ratio": round(turn / echo, 2)})
    return {"pairs": pairs, "median_ratio": statistics.median(p["ratio"] for p in pairs)}


# ------------------------------------------------------------------------------------------------ stages


def stage_profile(data: Path, turns: int, nlu_env: str = "on") -> dict[str, float]:
    """Mean µs per stage over many in-process turns (no HTTP), in a process of its own that runs parley
    as Python (bench/stage_profile.py)."""
    out = subprocess.run([PY, str(BENCH / "stage_profile.py"), str(data), str(turns), nlu_env],
                         check=True, capture_output=True, text=True).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def socket_stages(data: Path, env: dict[str, str], seconds: float) -> dict[str, float]:
    """CPU µs per turn of each stage inside the real server, 1 client through the socket
    (bench/socket_stages.py): what the in-process profile shows, with the caches as a server has them."""
    import socket_stages as stages

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stages.json"
        cmd = [PY, str(BENCH / "socket_stages.py"), "serve", "--data", str(data), "--host", "127.0.0.1",
               "--workers", "1"]
        with server(cmd, {**env, "PARLEY_STAGES_OUT": str(out)}) as (base, proc, _):
            wrk(base, bot="welcome-bot", connections=1, seconds=min(2.0, seconds), users=1000,
                texts="hello|memory|Ada|hi|context|monkey")  # warm-up
            os.kill(proc.pid, signal.SIGUSR1)  # a snapshot of the clocks before the run, and one after it
            time.sleep(0.3)
            wrk(base, bot="welcome-bot", connections=1, seconds=seconds, users=1000,
                texts="hello|memory|Ada|hi|context|monkey")
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(0.3)
        before, after = json.loads(out.read_text())[-2:]
    return stages.per_turn(before, after)


def examples_startup(root: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    """Median seconds from `parley serve` to /status 200 with examples/data: each cold start on a fresh
    copy (models trained, tables unpacked), each warm one on a copy whose NLU cache a first start filled."""
    def copy() -> Path:
        return Path(shutil.copytree(EXAMPLES, Path(tempfile.mkdtemp(dir=root)) / "data"))

    cold = []
    for _ in range(runs):
        with server(parley_cmd(copy()), env) as (_base, _proc, ready_s):
            cold.append(ready_s)
    warm_data = copy()
    with server(parley_cmd(warm_data), env):
        pass
    warm = []
    for _ in range(runs):
        with server(parley_cmd(warm_data), env) as (_base, _proc, ready_s):
            warm.append(ready_s)
    return {"cold": round(statistics.median(cold), 3), "warm": round(statistics.median(warm), 3)}


# -------------------------------------------------------------------------------------------------- NLU

# Messages of every kind a template bot gets: greetings, its own topics, other topics, entities, junk.
NLU_TEXTS = [
    "hey there", "hello", "hi!", "what is a context?", "tell me about bot memory", "forget my name",
    "how long do monkeys live", "where do giraffes live?", "what do you do for fun", "who built you",
    "tell me a joke", "you are annoying", "bye", "what's the weather like in Paris tomorrow",
    "I want 3 pizzas at 7pm", "my email is ada@example.com", "large", "yes please", "no", "asdf qwerty",
    "can you help me book a flight to montréal for 2 people", "how much is it in euros",
]


def nlu_figures(data: Path, quick: bool) -> dict[str, Any]:
    """Training time of each bot of `data` (fresh cache, after the one-time warm-ups), prediction
    p50/p99 of `understand` over NLU_TEXTS, and CLINC150 full training (bench/nlu.py has the accuracy)."""
    from parley.bots.models import Bot
    from parley.bots.registry import BotRegistry
    from parley.engine.state import default_nlu
    from parley.nlu.service import NluService, nlu_enabled_for

    registry = BotRegistry(data)
    registry.load_all()
    bots = [b for b in registry.bots.values()
            if isinstance(b, Bot) and nlu_enabled_for(b) and not b.config.get("disabled")]
    with tempfile.TemporaryDirectory() as cache:
        warm = NluService(Path(cache) / "warm-up")
        for bot in bots[:1]:
            warm.build(bot)  # the language identifier, dates, the embedding table: once per process
        out: dict[str, Any] = {"bots": []}
        for bot in bots:
            service = NluService(Path(cache) / bot.id)
            t0 = time.perf_counter()
            asyncio.run(service.train(bot))
            train_s = time.perf_counter() - t0
            # a new message (the kept predictions cleared before each), then the same messages repeated
            times: dict[bool, list[float]] = {False: [], True: []}
            for repeated in (False, True):
                for _ in range(5 if quick else 20):
                    for text in NLU_TEXTS:
                        event = {"type": "text", "preview": text, "payload": {"text": text}, "state": {"user": {}},
                                 "nlu": default_nlu()}
                        if not repeated:
                            service.repeats.clear()
                        t1 = time.perf_counter()
                        service.understand(bot, event)  # type: ignore[arg-type]
                        times[repeated].append((time.perf_counter() - t1) * 1000)
            for series in times.values():
                series.sort()
            new, again = times[False], times[True]
            out["bots"].append({"bot": bot.id, "train_seconds": round(train_s, 3),
                                "predict_ms_p50": round(new[len(new) // 2], 3),
                                "predict_ms_p99": round(new[int(len(new) * 0.99)], 3),
                                "repeated_ms_p50": round(again[len(again) // 2], 3),
                                "repeated_ms_p99": round(again[int(len(again) * 0.99)], 3)})
    if not quick:
        from nlu import DATASETS, run_set

        dev = DATASETS / "clinc150" / "data_dev.json"
        if dev.is_file():
            r = run_set("clinc150 full", f"{dev}:train+oos_train", f"{dev}:val+oos_val", None)
            out["clinc150_full"] = {k: r[k] for k in ("train_seconds", "predict_ms_p50", "predict_ms_p99",
                                                      "in_scope_accuracy", "oos_recall")}
    return out


# -------------------------------------------------------------------------------------------- the run


def fmt_row(cells: list[Any], widths: list[int]) -> str:
    pairs = enumerate(zip(cells, widths, strict=True))
    return "".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in pairs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0, help="duration of each wrk run")
    ap.add_argument("--quick", action="store_true", help="short runs (smoke test of the suite)")
    args = ap.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    if not TEMPLATES.is_dir():
        sys.exit("../shared/botpress-templates is needed (welcome-bot, small-talk)")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make bench installs it from Debian's packages)")

    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "load_generator": "wrk -t1 (same machine, loopback)",
    }
    with tempfile.TemporaryDirectory() as tmp:
        data = make_template_data(Path(tmp))
        shutil.copytree(EXAMPLES / "bots" / "pizza-bot", data / "bots" / "pizza-bot")
        env = {"PARLEY_NLU": os.environ.get("PARLEY_NLU", "on"), "PARLEY_WATCH": "off"}

        rows: list[dict[str, Any]] = []
        with server(echo_cmd()) as (base, proc, _):
            for c in (1, 32):
                r = load(base, proc, bot="welcome-bot", connections=c, seconds=seconds)
                rows.append({"target": "echo (ceiling)", "clients": c, **r})
        ceiling = {r["clients"]: r for r in rows}

        with server(parley_cmd(data), env) as (base, proc, ready_s):
            results["startup_seconds"] = round(ready_s, 3)
            results["rss_mb_after_start"] = round(rss_mb(proc.pid), 1)
            for bot, texts in (("welcome-bot", "hello|memory|Ada|hi|context|monkey"),
                               ("small-talk", "hello|how are you|tell me a joke|bye"),
                               ("pizza-bot", "hi|large|Ada|yes")):
                for c in (1, 32):
                    r = load(base, proc, bot=bot, connections=c, seconds=seconds, texts=texts)
                    rows.append({"target": f"parley {bot}", "clients": c, **r})
                if bot == "welcome-bot":  # the same, with no message repeated: every prediction computed
                    r = load(base, proc, bot=bot, connections=1, seconds=seconds, texts=texts, unique=True)
                    rows.append({"target": f"parley {bot}, new msgs", "clients": 1, **r})
            # 10,000 distinct conversations, then memory and storage per conversation.
            wrk(base, bot="welcome-bot", connections=32, seconds=max(seconds, 10), users=10_000, texts="hello")
            results["rss_mb_after_10k_conversations"] = round(rss_mb(proc.pid), 1)
        db = data / "storage" / "parley.sqlite"
        with sqlite3.connect(db) as conn:
            n = conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
            size = sum(conn.execute(
                "SELECT SUM(LENGTH(context)+LENGTH(session)+LENGTH(temp)+LENGTH(kv)) FROM conversations"
            ).fetchone()[0:1] or [0])
        results["conversations_stored"] = n
        results["bytes_per_conversation"] = round(size / max(1, n))

        # The headline ratio again, echo and parley alternating: on this shared machine a minute can
        # move either figure by 20 %, so the median of three pairs taken seconds apart is steadier.
        results["headline"] = alternating_ratio(data, env, rounds=3, seconds=min(seconds, 4.0))

        # Why the 1-client ratio is what it is: the same requests in-process, back to back and with the
        # thread blocking between them (bench/idle.py).
        results["idle"] = {target: json.loads(subprocess.run(
            [PY, str(BENCH / "idle.py"), target, str(data)], env={**os.environ, **env}, capture_output=True,
            text=True, check=True).stdout) for target in ("echo", "parley")}

        # A proactive message to an open event stream (bench/stream.py), across two workers when Redis is there.
        results["stream"] = json.loads(subprocess.run([PY, str(BENCH / "stream.py")], capture_output=True,
                                                      text=True, check=True).stdout)

        # The issue's own figure: start to ready with the example bots alone, cold and warm NLU cache.
        results["startup_examples_seconds"] = examples_startup(Path(tmp), env, runs=1 if args.quick else 3)

        scaling = []
        redis_url = os.environ.get("PARLEY_REDIS_URL") or os.environ.get("PARLEY_TEST_REDIS_URL")
        # without Redis the workers of one host share the SQLite store's lock file: scaling is measured either way
        for workers in (1, 2, 4):
            wenv = {**env, **({"PARLEY_REDIS_URL": redis_url} if redis_url else {})}
            with server(parley_cmd(data, workers), wenv) as (base, proc, _):
                r = load(base, proc, bot="welcome-bot", connections=32, seconds=seconds)
                scaling.append({"workers": workers, "rps": round(r["rps"]), "p50_ms": r["p50_us"] / 1000,
                                "p99_ms": r["p99_us"] / 1000, "server_cpu_us_per_req": round(r["cpu_us_per_req"]),
                                "wrk_cpu_share": round(r["wrk_cpu_share"], 2)})
        results["scaling"] = scaling
        results["scaling_locks"] = "redis" if redis_url else "sqlite lock file"
        if env["PARLEY_NLU"] != "off":
            results["nlu"] = nlu_figures(data, args.quick)
        from parley.compiled import compiled

        results["compiled_modules"] = len(compiled())
        results["stages_us"] = {k: round(v, 1) for k, v in
                                stage_profile(data, 600 if args.quick else 3000, env["PARLEY_NLU"]).items()}
        results["socket_stages_us"] = socket_stages(data, env, seconds)

    for r in rows:
        ceil = ceiling[r["clients"]]
        r["cpu_ratio_to_echo"] = round(r["cpu_us_per_req"] / max(1e-9, ceil["cpu_us_per_req"]), 2)
        r["rps_ratio_to_echo"] = round(r["rps"] / max(1e-9, ceil["rps"]), 2)
    results["converse"] = [
        {"target": r["target"], "clients": r["clients"], "rps": round(r["rps"]), "p50_ms": r["p50_us"] / 1000,
         "p99_ms": r["p99_us"] / 1000, "p999_ms": r["p999_us"] / 1000, "errors": r["errors"],
         "server_cpu_us_per_req": round(r["cpu_us_per_req"]), "cpu_ratio_to_echo": r["cpu_ratio_to_echo"],
         "rps_ratio_to_echo": r["rps_ratio_to_echo"], "wrk_cpu_us_per_req": round(r["wrk_cpu_us_per_req"])}
        for r in rows
    ]

    widths = [32, 8, 9, 9, 9, 10, 8, 12, 11, 12]
    print(f"parley benchmark — {results['date']} — {results['machine']} — load: {results['load_generator']}")
    print(fmt_row(["target", "clients", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "CPU µs/req",
                   "CPU ×echo", "wrk µs/req"], widths))
    for r in results["converse"]:
        print(fmt_row([r["target"], r["clients"], r["rps"], f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
                       f"{r['p999_ms']:.2f}", r["errors"], r["server_cpu_us_per_req"], r["cpu_ratio_to_echo"],
                       r["wrk_cpu_us_per_req"]], widths))
    h = results["headline"]
    print(f"\nwelcome-bot vs echo, 1 client, {len(h['pairs'])} pairs taken back to back: CPU ×echo "
          + ", ".join(f"{p['ratio']} ({p['parley_cpu_us']}/{p['echo_cpu_us']} µs)" for p in h["pairs"])
          + f"; median {h['median_ratio']}")
    idle = results["idle"]
    echo_idle, parley_idle = idle["echo"], idle["parley"]
    print("in-process, no HTTP server, CPU µs per request back to back / blocking once between requests / "
          "the difference: " + "; ".join(
              f"{t} {v['back_to_back_cpu_us']} / {v['with_idle_cpu_us']} / {v['idle_cost_us']}"
              for t, v in idle.items())
          + f"; parley ×echo {parley_idle['back_to_back_cpu_us'] / max(1e-9, echo_idle['back_to_back_cpu_us']):.1f} "
          f"and {parley_idle['with_idle_cpu_us'] / max(1e-9, echo_idle['with_idle_cpu_us']):.1f} (bench/idle.py)")
    print("proactive event to an open stream (sent to seen, HTTP on loopback): " + "; ".join(
        f"{k.replace('_', ' ')} p50 {v['p50_ms']} ms, p99 {v['p99_ms']} ms" for k, v in results["stream"].items()))
    ex = results["startup_examples_seconds"]
    print(f"\nstart to ready with the example bots: {ex['cold']} s on a fresh folder, {ex['warm']} s with the NLU "
          "cache filled (median)")
    print(f"start to ready, this run's folder: {results['startup_seconds']} s; "
          f"RSS after start {results['rss_mb_after_start']} MB, "
          f"after 10k conversations {results['rss_mb_after_10k_conversations']} MB; "
          f"{results['bytes_per_conversation']} bytes stored per conversation ({results['conversations_stored']})")
    if results.get("compiled_modules"):
        print(f"\n{results['compiled_modules']} modules run compiled (make) in the figures above; the stage profiles "
              "below run the same code as Python, so that every stage can be timed (bench/python_build.py)")
    print(f"\ntime per stage inside a turn (µs, in-process, welcome-bot, SQLite, NLU {env['PARLEY_NLU']}; Python):")
    for k, v in results["stages_us"].items():
        print(f"  {k:<24}{v:>10.1f}")
    print("\nthe same through the socket (CPU µs per turn inside `parley serve`, 1 client; Python; "
          "bench/socket_stages.py):")
    for k, v in results["socket_stages_us"].items():
        print(f"  {k:<44}{v:>10.1f}")
    if "nlu" in results:
        print("\nNLU (fresh training per bot; `understand` on varied messages, new / repeated):")
        for b in results["nlu"]["bots"]:
            print(f"  {b['bot']:<22} train {b['train_seconds']:.2f} s, predict p50 {b['predict_ms_p50']:.3f} ms, "
                  f"p99 {b['predict_ms_p99']:.3f} ms; repeated p50 {b['repeated_ms_p50']:.3f} ms, "
                  f"p99 {b['repeated_ms_p99']:.3f} ms")
        c = results["nlu"].get("clinc150_full")
        if c:
            print(f"  {'CLINC150 full':<22} train {c['train_seconds']:.1f} s, "
                  f"predict p50 {c['predict_ms_p50']:.3f} ms, "
                  f"p99 {c['predict_ms_p99']:.3f} ms (in-scope accuracy {c['in_scope_accuracy']:.3f})")
    if scaling:
        print(f"\nscaling (welcome-bot, 32 clients, locks: {results['scaling_locks']}; wrk shares the 2 cores):")
        for s in scaling:
            print(f"  {s['workers']} worker(s): {s['rps']} req/s, p50 {s['p50_ms']:.2f} ms, "
                  f"p99 {s['p99_ms']:.2f} ms, {s['server_cpu_us_per_req']} CPU µs/req; "
                  f"wrk itself used {s['wrk_cpu_share']:.2f} of a core")
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"\nwritten to {out / 'latest.json'}")


if __name__ == "__main__":
    main()
