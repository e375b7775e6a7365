"""Instructions per converse turn, counted by valgrind's callgrind: `python bench/instructions.py`.

Wall and CPU times drift on this shared machine; instruction counts do not, so this is how a change to
the hot path is measured. The turns are welcome-bot's (NLU on, SQLite, the bench's repeated messages),
sent in-process through the ASGI app: the HTTP server's own parsing is left out. Only the turns are
counted: start-up and a warm-up run first, then counting is switched on with `callgrind_control`.

Nothing here runs on a clock: the server's timed work (the event log's batches every second, SQLite's
checkpoints every half second, the janitor) would otherwise fall on more or fewer turns as the machine
runs valgrind slower or faster, which moved the count by ±1.5 % between identical runs. The log's batch
is written every `FLUSH_EVERY` turns instead (about the share a second's batch has in a busy server), no
checkpoint runs (the WAL stays under SQLite's own threshold) and the janitor waits an hour.

With `--nlu`, what is counted is one understanding of a message never seen before (welcome-bot and
small-talk, over `run.py`'s NLU_TEXTS, the kept understandings cleared before each): the NLU's own
cost, which a repeated message skips.

It counts what the checkout runs: its compiled modules where `make` built them (`make uncompile` for the
same code as Python). Needs valgrind (Debian's package). Prints one JSON line; `--repo DIR` measures another
checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TEXTS = ("hello", "memory", "Ada", "hi", "context", "monkey")
DEFAULT_TURNS = 600
DEFAULT_NLU_ROUNDS = 10
FLUSH_EVERY = 100  # turns per event-log batch (200 entries: one transaction of the log's)
# the server's timers, pushed past the run (see above)
NO_TIMERS = {"eventCollector": {"collectionInterval": "1h"}, "dialog": {"janitorInterval": "1h"}}


def child(repo: Path, data: Path, turns: int, flags: Path) -> None:
    """The measured process: warm up, say ready, wait for counting to start, run `turns` turns."""
    sys.path.insert(0, str(repo))
    from parley.http.app import create_app
    from parley.settings import Settings

    app = create_app(Settings.from_env(data, env={"PARLEY_WATCH": "off"}))

    sys.path.insert(0, str(BENCH))  # after parley is imported from `repo`
    from idle import converse_in_process

    async def call(user: str, text: str) -> None:
        await converse_in_process(app, user, text)

    async def main() -> None:
        async with app.router.lifespan_context(app):
            # no background checkpoint past the first round (due during the warm-up)
            app.state.conversations.store.checkpoint_every = 3600.0
            event_log = app.state.conversations.event_log
            n = 0
            for phase in phases(flags):
                for _ in range(turns if phase == "measured" else 1200):
                    n += 1
                    await call(f"u{n % 200}", TEXTS[(n // 200) % len(TEXTS)])
                    if n % FLUSH_EVERY == 0:
                        await event_log.flush()

    asyncio.run(main())


def phases(flags: Path) -> Iterator[str]:
    """"warm-up", then "measured" once the parent has switched counting on (the flag files are the
    handshake); after the last phase, wait for counting to be switched off."""
    yield "warm-up"
    (flags / "ready").touch()
    while not (flags / "go").exists():
        time.sleep(0.05)
    yield "measured"
    (flags / "done").touch()
    while (flags / "go").exists():
        time.sleep(0.05)


def nlu_child(repo: Path, data: Path, rounds: int, flags: Path) -> None:
    """The measured process of `--nlu`: `rounds` passes over NLU_TEXTS for each bot, all new."""
    sys.path.insert(0, str(repo))
    from parley.bots.registry import BotRegistry
    from parley.engine.state import default_nlu
    from parley.nlu.service import NluService

    sys.path.insert(0, str(BENCH))  # after parley is imported from `repo`: run.py puts this checkout first
    from run import NLU_TEXTS

    registry = BotRegistry(data)
    registry.load_all()
    service = NluService(data / "storage" / "nlu")
    bots = [registry.get("welcome-bot"), registry.get("small-talk")]
    for bot in bots:
        asyncio.run(service.train(bot))  # type: ignore[arg-type]

    def once() -> None:
        for bot in bots:
            for text in NLU_TEXTS:
                service.repeats.clear()
                event = {"type": "text", "preview": text, "payload": {"text": text}, "state": {"user": {}},
                         "nlu": default_nlu()}
                service.understand(bot, event)  # type: ignore[arg-type]

    for phase in phases(flags):
        for _ in range(rounds if phase == "measured" else 3):
            once()


def measure(repo: Path, turns: int, nlu: bool = False, keep: Path | None = None) -> dict[str, object]:
    sys.path.insert(0, str(REPO))
    from tests.conftest import make_template_data

    with tempfile.TemporaryDirectory() as tmp:
        data = make_template_data(Path(tmp), NO_TIMERS if not nlu else None)
        flags = Path(tmp) / "flags"
        flags.mkdir()
        me = [sys.executable, __file__, "--child", "--repo", str(repo), "--data", str(data), "--flags", str(flags),
              *(["--nlu"] if nlu else [])]
        # the NLU models are trained once without valgrind (the measured run loads them from the cache)
        warm = subprocess.Popen([*me, "--turns", "0"], cwd=repo)
        while not (flags / "ready").exists():
            time.sleep(0.2)
        (flags / "go").touch()
        while not (flags / "done").exists():
            time.sleep(0.2)
        (flags / "go").unlink()
        warm.wait()
        for f in flags.iterdir():
            f.unlink()
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                                 *me, "--turns", str(turns)], cwd=repo, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while not (flags / "ready").exists():
            time.sleep(0.5)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        (flags / "go").touch()
        while not (flags / "done").exists():
            time.sleep(0.5)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
        (flags / "go").unlink()
        proc.wait()
        totals = re.search(r"^totals:\s+(\d+)", out.read_text(), re.MULTILINE)
        if totals is None:
            raise RuntimeError("callgrind wrote no totals")
        total = int(totals.group(1))
        if keep is not None:  # for `callgrind_annotate --inclusive=yes`: which C functions the count went to
            shutil.copyfile(out, keep)
    if nlu:
        sys.path.insert(0, str(BENCH))
        from run import NLU_TEXTS

        understood = turns * 2 * len(NLU_TEXTS)
        return {"understandings": understood, "instructions_per_new_message": total // understood, "repo": str(repo)}
    return {"turns": turns, "instructions_per_turn": total // turns, "repo": str(repo)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, help=f"turns (default {DEFAULT_TURNS}), or with --nlu rounds "
                    f"(default {DEFAULT_NLU_ROUNDS})")
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure (default: this one)")
    ap.add_argument("--nlu", action="store_true", help="count a new message's understanding instead of a turn")
    ap.add_argument("--keep", type=Path, help="keep callgrind's output there (for callgrind_annotate)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--flags", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.nlu:
            nlu_child(args.repo.resolve(), args.data, args.turns, args.flags)
        else:
            child(args.repo.resolve(), args.data, args.turns, args.flags)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is needed (Debian's package valgrind)", file=sys.stderr)
        return 2
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the same dict layouts run after run
    turns = args.turns if args.turns is not None else DEFAULT_NLU_ROUNDS if args.nlu else DEFAULT_TURNS
    print(json.dumps(measure(args.repo.resolve(), turns, nlu=args.nlu, keep=args.keep)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
