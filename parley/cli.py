"""`parley serve | check | chat`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from parley.bots.loader import discover, load_bot, load_global_actions
from parley.bots.models import BrokenBot
from parley.compiled import stale
from parley.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 5


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from parley.http.app import create_app

    settings = Settings.from_env(args.data, host=args.host, port=args.port)
    logging.basicConfig(level=os.environ.get("PARLEY_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    outdated = stale()
    if outdated:
        logging.getLogger("parley").warning("compiled modules older than their source (run `make` to compile them "
                                            "again, or `make uncompile`): %s", ", ".join(outdated))
    # Open event streams never end by themselves: at shutdown they are closed after this many seconds
    # (clients reconnect elsewhere with Last-Event-ID); turns still running get as long to finish.
    graceful = GRACEFUL_SHUTDOWN_SECONDS
    if args.workers > 1:
        # each worker builds its own Settings from the environment: give it what the command line said
        os.environ.update(PARLEY_DATA=str(settings.data_dir), PARLEY_HOST=settings.host, PARLEY_PORT=str(settings.port))
        uvicorn.run("parley.http.factory:app", factory=True, host=settings.host, port=settings.port,
                    workers=args.workers, access_log=False, log_level="warning", timeout_graceful_shutdown=graceful)
    else:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False,
                    log_level="warning", timeout_graceful_shutdown=graceful)
    return 0


def _js_files(folder: Path) -> list[str]:
    """A bot's JavaScript actions and hooks, named like the loader names them (`<folder>/actions/x.js`)."""
    found = [p for sub in ("actions", "hooks") if (folder / sub).is_dir() for p in (folder / sub).rglob("*.js")]
    return [p.relative_to(folder.parent).as_posix() for p in sorted(found)]


def _check(args: argparse.Namespace) -> int:
    data = Path(args.data or os.environ.get("PARLEY_DATA") or "data")
    if not (data / "bots").is_dir():
        print(f"{data}: no bots/ folder", file=sys.stderr)
        return 2
    global_actions, problems, skipped = load_global_actions(data)
    failed = bool(problems)
    for p in problems:
        print(f"ERROR {p}")
    for s in skipped:
        print(f"SKIPPED {s} (JavaScript cannot run in parley)")
    logging.disable(logging.WARNING)
    for folder in discover(data):
        bot = load_bot(folder, global_actions)
        if isinstance(bot, BrokenBot):
            failed = True
            print(f"BROKEN {bot.id}")
            for p in bot.problems:
                print(f"  ERROR {p}")
            for js in _js_files(folder):
                print(f"  SKIPPED {js} (JavaScript cannot run in parley)")
            continue
        print(f"OK {bot.id}: {len(bot.flows)} flows, {len(bot.content)} content elements, "
              f"{len(bot.intents)} intents, {len(bot.qna)} QnA, {len(bot.actions)} Python actions")
        for w in bot.warnings:
            print(f"  WARNING {w}")
        for s in bot.skipped:
            print(f"  SKIPPED {s} (JavaScript cannot run in parley)")
    return 1 if failed else 0


def format_payload(p: dict[str, Any]) -> str:
    kind = p.get("type")
    if kind == "typing":
        return ""
    if kind == "text":
        return f"bot> {p.get('text', '')}"
    if kind == "single-choice":
        lines = [f"bot> {p.get('text', '')}"]
        for i, c in enumerate(p.get("choices") or [], start=1):
            lines.append(f"     {i}. {c.get('title')}")
        return "\n".join(lines)
    if kind in ("image", "audio", "video", "file"):
        return f"bot> [{kind}] {p.get('title') or ''} {p.get(kind, '')}".rstrip()
    if kind == "card":
        actions = ", ".join(str(a.get("title")) for a in p.get("actions") or [])
        return f"bot> [card] {p.get('title')} — {p.get('subtitle') or ''} [{actions}]"
    if kind == "carousel":
        return "\n".join(format_payload({"type": "card", **item}) for item in p.get("items") or [])
    import json

    return f"bot> {json.dumps(p, ensure_ascii=False)}"


async def _chat_loop(args: argparse.Namespace) -> int:
    from parley.bots.models import Bot
    from parley.bots.registry import BotRegistry
    from parley.conversations import Conversations
    from parley.http.converse import shape_responses
    from parley.store.sql import open_store

    settings = Settings.from_env(args.data)
    registry = BotRegistry(settings.data_dir)
    registry.load_all()
    bot = registry.get(args.bot)
    if not isinstance(bot, Bot):
        reason = bot.reason if isinstance(bot, BrokenBot) else "no such bot"
        print(f"cannot chat with {args.bot}: {reason}", file=sys.stderr)
        return 2
    store = open_store(settings.database_url)
    await store.open()
    locks = store.locks()  # shared with the other processes serving this data folder
    nlu = None
    if settings.nlu_enabled:  # the same models as the server: trained once, then found in the cache
        from parley.nlu.service import NluService

        nlu = NluService(settings.data_dir / "storage" / "nlu")
        await nlu.train(bot)
        state = nlu.status().get(bot.id, "")
        if state.startswith("failed"):
            print(f"NLU unavailable for {bot.id}: {state}", file=sys.stderr)
    conversations = Conversations(settings, registry, store, locks=locks,
                                  understand=nlu.understand if nlu is not None else None)
    print(f"Talking to {bot.id} as {args.user}. Ctrl-D to quit.")
    interactive = sys.stdin.isatty()
    try:
        while True:
            try:
                text = await asyncio.to_thread(input, "you> ")
            except EOFError:
                print()
                return 0
            if not interactive:  # piped input is not echoed: show it, so the transcript reads well
                print(text)
            if not text.strip():
                continue
            result = await conversations.converse(bot, args.user, {"type": "text", "text": text})
            if args.show_nlu:
                print(format_nlu(result.nlu))
            for p in shape_responses(result.responses):
                line = format_payload(p)
                if line:
                    print(line)
    finally:
        await conversations.close()  # writes the last of the event log
        if nlu is not None:
            nlu.close()
        await store.close()
        locks.close()


def format_nlu(nlu: object) -> str:
    """One line of what the NLU understood: the elected intent, the runner-up, the entities."""
    if not isinstance(nlu, dict) or not nlu.get("intent"):
        return "nlu> (none)"
    intents = ", ".join(f"{i.get('name')} {float(i.get('confidence', 0)):.2f}" for i in nlu.get("intents") or [])
    entities = ", ".join(f"{e.get('name')}={(e.get('data') or {}).get('value')!r}" for e in nlu.get("entities") or [])
    line = f"nlu> {intents}" + (" (ambiguous)" if nlu.get("ambiguous") else "")
    return line + (f"; entities: {entities}" if entities else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description="Botpress v12 bots, served by Python")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve every bot of a data folder over HTTP")
    serve.add_argument("--data", help="the data folder (default $PARLEY_DATA or ./data)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1)
    check = sub.add_parser("check", help="validate a data folder; exit 1 if a bot is broken")
    check.add_argument("--data")
    chat = sub.add_parser("chat", help="talk to a bot in the terminal")
    chat.add_argument("bot")
    chat.add_argument("--data")
    chat.add_argument("--user", default="terminal")
    chat.add_argument("--show-nlu", action="store_true", help="print the intents and entities of each message")
    from parley.security import admin

    admin.add_parser(sub)
    from parley.nlu import eval as nlu_eval

    nlu_eval.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "nlu-eval":
        return nlu_eval.main(args)
    if args.command == "users":
        return admin.main(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "check":
        return _check(args)
    return asyncio.run(_chat_loop(args))


if __name__ == "__main__":
    sys.exit(main())
