"""Arrays derived from installed packages' data, kept ready-to-use in the NLU cache folder.

Some NLU resources ship in a form that costs time on every start: py3langid's model is LZMA-compressed
(~0.7 s to unpack), WordLlama's table is float16 (~0.1 s to widen). The first start writes the arrays
as plain `.npy` files into a folder of the cache; later starts memory-map them: nothing is read until
used, and the pages are shared by the workers of one machine. Entries are written under a temporary
name and renamed, so a reader never maps a half-written entry; their names must change whenever the
source data does (callers name them after the source's size, date or digest).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("parley.nlu")


def _write(entry: Path, arrays: dict[str, Any]) -> None:
    import numpy as np

    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
        os.rename(tmp, entry)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not entry.is_dir():  # another worker's rename winning the race is fine; anything else is not
            raise


def _read(entry: Path, names: Sequence[str]) -> dict[str, Any]:
    import numpy as np

    # np.asarray: plain read-only arrays over the mapping, not np.memmap (whose results stay memmaps)
    return {name: np.asarray(np.load(entry / f"{name}.npy", mmap_mode="r", allow_pickle=False)) for name in names}


def load_or_unpack(entry: Path | None, names: Sequence[str],
                   unpack: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The arrays `names` of cache folder `entry`, memory-mapped; or, when the entry is missing or
    damaged, `unpack()`'s (then written to `entry` for the next start). Without an `entry`, unpack."""
    if entry is not None and entry.is_dir():
        try:
            return _read(entry, names)
        except (OSError, ValueError) as exc:  # a damaged entry is unpacked again (and replaced)
            log.warning("NLU cache entry %s unreadable (%s); unpacking again", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
    arrays = unpack()
    if entry is not None:
        try:
            _write(entry, {name: arrays[name] for name in names})
        except OSError as exc:  # a read-only cache only costs the unpacking next time
            log.warning("cannot write NLU cache entry %s: %s", entry, exc)
    return arrays
