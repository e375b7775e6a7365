"""Time per stage inside a turn, in-process: `python bench/stage_profile.py DATA TURNS [NLU]` prints JSON.

`run.py` (`make bench`) runs it in a process of its own, where parley runs as Python (bench/python_build.py):
each stage's function is replaced by a clocked wrapper, which compiled callers would go past.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import python_build  # noqa: E402

python_build.use()

from socket_stages import Clocks  # noqa: E402


def stage_profile(data: Path, turns: int, nlu_env: str = "on") -> dict[str, float]:
    """Mean µs per stage over many in-process turns (no HTTP): where a turn's time goes."""
    from parley.bots.registry import BotRegistry
    from parley.conversations import Conversations
    from parley.engine import decision, dialog, turn
    from parley.settings import Settings
    from parley.store.sql import open_store

    clocks = Clocks(time.perf_counter_ns)
    timed = clocks.wrap

    async def main() -> None:
        settings = Settings.from_env(data, env={"PARLEY_NLU": nlu_env})
        registry = BotRegistry(settings.data_dir)
        registry.load_all()
        understand = None
        if settings.nlu_enabled:
            from parley.nlu.service import NluService

            nlu = NluService(data / "storage" / "nlu")
            await nlu.train_all(list(registry.bots.values()))
            understand = timed("NLU predict", nlu.understand)
        store = open_store(f"sqlite:///{data / 'storage' / 'profile.sqlite'}")
        await store.open()
        store.load = timed("store load", store.load)  # type: ignore[method-assign]
        store.save = timed("store save", store.save)  # type: ignore[method-assign]
        dialog.DialogEngine.process = timed("dialog (incl. render)", dialog.DialogEngine.process)  # type: ignore[method-assign]
        turn.elect = timed("decision", decision.elect)
        turn.qna_suggestions = timed("suggestions", decision.qna_suggestions)
        import parley.engine.dialog as dmod
        dmod.render_content = timed("render", dmod.render_content)
        conv = Conversations(settings, registry, store, rng=random.Random(1), understand=understand)
        conv.converse = timed("whole turn", conv.converse)  # type: ignore[method-assign]
        bot = registry.get("welcome-bot")
        texts = ["hello", "memory", "Ada", "hi", "context", "monkey"]
        for i in range(turns):
            await conv.converse(bot, f"p{i % 200}", {"type": "text", "text": texts[(i // 200) % len(texts)]})  # type: ignore[arg-type]
            await asyncio.sleep(0)  # the event loop's turn between requests: the event log's batch gets written
        await conv.close()
        await store.close()

    asyncio.run(main())
    return {k: v / turns / 1000 for k, v in clocks.ns.items()}


if __name__ == "__main__":
    print(json.dumps(stage_profile(Path(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:4])))
