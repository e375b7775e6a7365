"""The on-disk model cache (`data/storage/nlu/<model id>/`): marking models as used, pruning the rest.

Every change of a bot's intents makes a new model id, so without pruning the folder only grows. A
model is removed when no bot of this process uses it and nobody has used it for `max_age` seconds.
"Used" is the folder's modification time, refreshed whenever a process loads or trains the model:
workers that share the data folder (and may serve another version of a bot during a reload) keep
their models alive that way, without talking to each other.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Collection
from pathlib import Path

log = logging.getLogger("parley.nlu")

DEFAULT_MAX_AGE = 7 * 86400.0
# a model folder's name: `<content hash>.<spec hash>.<seed>.<language>` (see model.py)
_MODEL_ID = re.compile(r"^[0-9a-f]{16}\.[0-9a-f]{16}\.\d+\.[\w-]+$")
# a temporary folder of a write that crashed, or a lock file of a model that is gone
LEFTOVER_AGE = 3600.0


def max_age_from_env(env: dict[str, str] | None = None) -> float:
    """`PARLEY_NLU_CACHE_DAYS` (default 7): how long an unused model stays on disk."""
    raw = (env if env is not None else os.environ).get("PARLEY_NLU_CACHE_DAYS", "")
    try:
        days = float(raw)
    except ValueError:
        return DEFAULT_MAX_AGE
    return max(0.0, days) * 86400.0


def mark_used(folder: Path) -> None:
    """Refresh a model folder's time so that other processes' pruning keeps it."""
    try:
        os.utime(folder)
    except OSError:  # a read-only cache: pruning there is not ours to do either
        pass


def prune(cache_dir: Path, in_use: Collection[str], max_age: float, now: float | None = None) -> list[str]:
    """Remove models not in `in_use` and unused for `max_age` seconds; return the removed ids."""
    if not cache_dir.is_dir():
        return []
    now = time.time() if now is None else now
    removed: list[str] = []
    for entry in cache_dir.iterdir():
        try:
            age = now - entry.stat().st_mtime
        except OSError:
            continue
        name = entry.name
        if name.startswith(".") and entry.is_dir():
            # every folder here is written under a hidden temporary name and renamed into place
            # (models: `.tmp-…`, unpacked resources: `.<entry>.…`): a hidden one is a crashed write's
            if age > LEFTOVER_AGE:
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if name.startswith(".") and name.endswith(".lock"):
            model_id = name[1:-len(".lock")]
            if model_id not in in_use and not (cache_dir / model_id).exists() and age > LEFTOVER_AGE:
                entry.unlink(missing_ok=True)
            continue
        if not _MODEL_ID.match(name) or not entry.is_dir() or name in in_use or age <= max_age:
            continue  # also keeps what else lives there (the unpacked embedding table, the language identifier)
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(name)
    if removed:
        log.info("NLU cache: removed %d unused model(s): %s", len(removed), ", ".join(sorted(removed)))
    return removed
