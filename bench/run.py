"""A first converse benchmark: a real `parley serve` on loopback, a simple load loop, figures printed.

Run with `make bench` (never part of `make test`). It serves the welcome-bot template (from
../shared) and the example bots with the NLU off, sends conversations of several turns from one
client, and reports requests/s and latency percentiles. The full suite (wrk, echo ceiling, CPU per
turn) is tracked in its own issue.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import EXAMPLES, TEMPLATES, make_template_data, start_server, stop_server  # noqa: E402

CONVERSATION = ["hello", "memory", "Ada", "hi", "context", "monkey"]


def run(base: str, bot: str, users: int) -> dict[str, float]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    latencies: list[float] = []
    start = time.perf_counter()
    for u in range(users):
        for text in CONVERSATION:
            body = json.dumps({"type": "text", "text": text})
            t0 = time.perf_counter()
            conn.request("POST", f"/api/v1/bots/{bot}/converse/bench-{u}", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            latencies.append((time.perf_counter() - t0) * 1000)
            assert resp.status == 200, resp.status
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "req_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


def main() -> None:
    if not TEMPLATES.is_dir():
        sys.exit("../shared/botpress-templates is needed for the benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        data = make_template_data(Path(tmp))
        server = start_server(data, Path(tmp) / "server.log")
        try:
            run(server.base, "welcome-bot", 20)  # warm-up
            result = run(server.base, "welcome-bot", 300)
        finally:
            stop_server(server)
    print(f"{'bot':<14}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'welcome-bot':<14}{result['requests']:>10.0f}{result['req_per_s']:>10.0f}"
          f"{result['p50_ms']:>10.2f}{result['p99_ms']:>10.2f}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"welcome-bot": result, "examples": str(EXAMPLES)}, indent=2))


if __name__ == "__main__":
    main()
