"""py3langid's language identifier, loaded in milliseconds instead of most of a second.

py3langid ships its model as an LZMA-compressed npz (4.5 MB); unpacking it costs ~0.45 s of LZMA and
~0.2 s of npz reading on every start, the largest single item of a multilingual bot's start-up. The
first start keeps the unpacked arrays (68 MB) in the NLU cache folder and later starts memory-map them
(`parley.nlu.unpacked`); the entry is named after the packaged model's size and modification time,
so an upgraded py3langid is unpacked again.

One identifier serves the whole process. It loads on a thread of its own, started as early as the
server knows a bot will need it: unpacking is mostly LZMA, which leaves the GIL to the imports and
trainings going on meanwhile. This module imports numpy only on that thread, so starting it is cheap.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from parley.bots.models import BotConfig
from parley.nlu.unpacked import load_or_unpack

log = logging.getLogger("parley.nlu")

# The arrays of py3langid's `modelio.load_model`, in its order (classes: labels; the rest: numbers).
_PARTS = ("ptc", "pc", "classes", "nextmove", "row", "output")


def needed_by(config: BotConfig) -> bool:
    """Only a bot with its NLU on and more than one language ever asks the identifier."""
    return config.get("nlu", "enabled", default=True) is not False and len(config.languages) > 1


def _model_file() -> Path:
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    path = Path(MODEL_FILE)
    return path if path.is_absolute() else Path(MODEL_DIR) / path


def _entry_name(model: Path) -> str:
    st = model.stat()
    return f"langid-{st.st_size}-{st.st_mtime_ns}"


def _unpack(model: Path) -> dict[str, Any]:
    import numpy as np
    from py3langid.modelio import load_model

    ptc, pc, classes, nextmove, row, output = load_model(model)
    return {
        "ptc": np.asarray(ptc),
        "pc": np.asarray(pc),
        "classes": np.array(classes),
        "nextmove": np.asarray(nextmove),  # array('H'|'I') -> the same unsigned type
        "row": np.asarray(row),
        "output": np.asarray(output, dtype=np.int32),
    }


def load_identifier(cache_dir: Path | None) -> Any:
    """A `py3langid.langid.LanguageIdentifier` (normalised probabilities), from the cache when possible."""
    from py3langid.langid import LanguageIdentifier

    model = _model_file()
    entry = cache_dir / _entry_name(model) if cache_dir is not None else None
    arrays = load_or_unpack(entry, _PARTS, lambda: _unpack(model))
    # memoryviews index like py3langid's own array('H'/'I'), with Python ints, without a copy; the
    # output table stays a list as py3langid has it (~10% faster per byte than a memoryview)
    return LanguageIdentifier(
        arrays["ptc"], arrays["pc"], arrays["classes"].tolist(), memoryview(arrays["nextmove"]),
        arrays["output"].tolist(), norm_probs=True, tk_row=memoryview(arrays["row"]),
    )


_lock = threading.Lock()
_loading: Future[Any] | None = None
_loaded: tuple[Any] | None = None  # (identifier or None,) once loaded: the per-message path takes no lock


def start_loading(cache_dir: Path | None) -> Future[Any]:
    """The process's identifier, loading on its own thread from the first call on (later calls,
    whatever their `cache_dir`, share it). The future gives None when py3langid is unavailable:
    language detection then relies on the bot's vocabularies alone."""
    global _loading
    with _lock:
        if _loading is None:
            future: Future[Any] = Future()

            def load() -> None:
                try:
                    result = load_identifier(cache_dir)
                except Exception as exc:  # optional: without it, the vocabulary decides
                    log.warning("language identification unavailable (%s)", exc)
                    result = None
                global _loaded
                _loaded = (result,)
                future.set_result(result)

            threading.Thread(target=load, name="parley-langid-load", daemon=True).start()
            _loading = future
        return _loading


def get() -> Any:
    """The identifier (or None), waiting for it if it is still loading."""
    if _loaded is not None:
        return _loaded[0]
    return start_loading(None).result()
