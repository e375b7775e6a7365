"""`parley serve` with a CPU clock on each stage of a turn: where a turn's time goes when the requests
come through the socket (`make bench` runs it; it is not part of parley).

The in-process stage profile (`bench/stage_profile.py`) calls turns back to back, with the CPU's caches
warm; through the socket a turn costs about twice as much, and not evenly (SQLite's system calls and
the event log's batches weigh more). This wraps the same functions as that profile, plus the HTTP
handler's own steps and the event log's batch write, with the thread's CPU clock
(`time.thread_time_ns`, ≈ 0.3 µs a reading), and serves as `parley serve` does.

parley runs as Python here (bench/python_build.py): a function a compiled module calls is not the wrapper
that replaced it, so compiled, most stages would go untimed. The stages' figures say where the time goes;
`make bench`'s tables of the whole process say what a turn costs compiled.

`SIGUSR1` writes the totals so far (ns and calls per stage, and the process's CPU) to the file named by
`PARLEY_STAGES_OUT`; the bench takes one snapshot before and one after a wrk run and divides the
difference by the turns. A stage that calls itself (the dialog engine) is counted once, outermost.

Usage: `python bench/socket_stages.py serve --data DIR ...` (the arguments of `parley serve`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

class Clocks:
    """Time per stage, summed over calls: `wrap(name, fn)` returns `fn` (sync or async) timed by `clock`
    (ns). A stage that calls itself (the dialog engine re-enters `process`) is counted once, outermost."""

    def __init__(self, clock: Callable[[], int] = time.thread_time_ns) -> None:
        self.clock = clock
        self.ns: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.depth: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def enter() -> int:
            self.depth[name] = self.depth.get(name, 0) + 1
            return self.clock()

        def leave(started: int) -> None:
            self.depth[name] -= 1
            if self.depth[name] == 0:
                self.ns[name] = self.ns.get(name, 0) + self.clock() - started
                self.calls[name] = self.calls.get(name, 0) + 1

        if asyncio.iscoroutinefunction(fn):
            async def awrapper(*a: Any, **k: Any) -> Any:
                started = enter()
                try:
                    return await fn(*a, **k)
                finally:
                    leave(started)
            return awrapper

        def wrapper(*a: Any, **k: Any) -> Any:
            started = enter()
            try:
                return fn(*a, **k)
            finally:
                leave(started)
        return wrapper


CLOCKS = Clocks()


TURN = "  turn under the lock"  # the stage run once per turn: the figures are per turn of it

# (module, attribute, stage): where the server looks each stage up (a module global or a class attribute),
# in the order the table shows them; a stage's time includes the stages indented under it in that table.
STAGES = (
    ("parley.http.app", "public_converse", "handler"),
    ("parley.http.converse", "read_payload", "  read and parse the body"),
    ("parley.http.converse", "admit", "  switches and throttles"),
    ("parley.conversations", "Conversations.converse", TURN),
    ("parley.store.locks", "_FileHold.__aenter__", "    conversation lock"),
    ("parley.store.sql", "SQLiteStore.load", "    store load"),
    ("parley.conversations", "run_turn", "    engine"),
    ("parley.nlu.service", "NluService.understand", "      NLU predict"),
    ("parley.engine.turn", "elect", "      decision"),
    ("parley.engine.dialog", "DialogEngine.process", "      dialog"),
    ("parley.engine.dialog", "render_content", "        render"),
    ("parley.store.sql", "SQLiteStore.save", "    store save"),
    ("parley.eventlog", "EventLog.add", "    event log: queue"),
    ("parley.store.locks", "_FileHold.__aexit__", "    conversation unlock"),
    ("parley.http.converse", "json_response", "  answer's JSON"),
    ("parley.store.sql", "SQLiteStore.append_events", "event log: batch write (between requests)"),
)


def install() -> None:
    import importlib

    for module, attr, name in STAGES:
        owner: Any = importlib.import_module(module)
        *path, last = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, last, CLOCKS.wrap(name, getattr(owner, last)))


def snapshot(*_: Any) -> None:
    out = Path(os.environ["PARLEY_STAGES_OUT"])
    taken = json.loads(out.read_text()) if out.exists() else []
    taken.append({"ns": dict(CLOCKS.ns), "calls": dict(CLOCKS.calls), "process_ns": time.process_time_ns()})
    out.write_text(json.dumps(taken))


def per_turn(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """µs of CPU per turn for each stage between two snapshots, and the whole process's."""
    turns = after["calls"].get(TURN, 0) - before["calls"].get(TURN, 0)
    if turns <= 0:
        raise RuntimeError("no turn between the snapshots")
    out = {name: round((after["ns"].get(name, 0) - before["ns"].get(name, 0)) / 1000 / turns, 1)
           for _, _, name in STAGES}
    out["whole process"] = round((after["process_ns"] - before["process_ns"]) / 1000 / turns, 1)
    return out


def main() -> int:
    import python_build

    python_build.use()
    install()
    signal.signal(signal.SIGUSR1, snapshot)
    from parley.cli import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
