"""The set of bots being served, reloaded bot by bot when their files change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from parley.bots.loader import ActionFn, bot_id_for, discover, load_bot, load_global_actions
from parley.bots.models import Bot, BrokenBot, Problem

log = logging.getLogger("parley.bots")

LoadedBot = Bot | BrokenBot


class BotRegistry:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.bots: dict[str, LoadedBot] = {}
        self.folders: dict[Path, str] = {}
        self.global_actions: dict[str, ActionFn] = {}
        self.global_problems: list[Problem] = []
        self.listeners: list[Callable[[LoadedBot], None]] = []

    def get(self, bot_id: str) -> LoadedBot | None:
        return self.bots.get(bot_id)

    def load_all(self) -> None:
        self.global_actions, self.global_problems, skipped = load_global_actions(self.data_dir)
        for p in self.global_problems:
            log.error("%s", p)
        for s in skipped:
            log.warning("skipped %s (JavaScript cannot run in parley)", s)
        bots: dict[str, LoadedBot] = {}
        folders: dict[Path, str] = {}
        for folder in discover(self.data_dir):
            bot = load_bot(folder, self.global_actions)  # named by its folder: ids cannot clash
            bots[bot.id] = bot
            folders[folder] = bot.id
            self._report(bot)
        self.bots, self.folders = bots, folders

    def reload_folder(self, folder: Path) -> LoadedBot | None:
        """Reload one bot folder (or forget it when it disappeared)."""
        old_id = self.folders.pop(folder, None)
        if old_id is not None:
            self.bots.pop(old_id, None)
        if not (folder / "bot.config.json").is_file():
            if old_id:
                log.info("bot %s removed", old_id)
            return None
        bot = load_bot(folder, self.global_actions)
        self.bots[bot.id] = bot
        self.folders[folder] = bot.id
        self._report(bot, reloaded=True)
        for listener in self.listeners:
            listener(bot)
        return bot

    @staticmethod
    def _report(bot: LoadedBot, reloaded: bool = False) -> None:
        verb = "reloaded" if reloaded else "loaded"
        if isinstance(bot, BrokenBot):
            for p in bot.problems:
                log.error("bot %s is broken: %s", bot.id, p)
        else:
            log.info("bot %s %s (%d flows, %d content elements)", bot.id, verb, len(bot.flows), len(bot.content))

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload a bot whenever a file of its folder changes (debounced by watchfiles)."""
        from watchfiles import awatch

        root = self.data_dir / "bots"
        if not root.is_dir():
            return
        async for changes in awatch(root, stop_event=stop, debounce=300, step=100):
            touched: set[Path] = set()
            for _, changed in changes:
                try:
                    rel = Path(changed).relative_to(root)
                except ValueError:
                    continue
                if rel.parts:
                    touched.add(root / rel.parts[0])
            for folder in sorted(touched):
                try:
                    self.reload_folder(folder)
                except Exception:  # never let a reload kill the watcher
                    log.exception("reloading %s failed", folder)


__all__ = ["BotRegistry", "LoadedBot", "bot_id_for"]
