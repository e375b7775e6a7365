"""parley as Python in this process, its compiled modules set aside (`make` builds them beside the sources).

The stage profiles time a turn's stages by replacing functions with clocked wrappers. A compiled module
calls its own and other compiled functions directly, never through the name the wrapper replaced, so with
the hot path compiled most stages would go untimed. The profiles therefore run the same code as Python:
their figures say where a turn's time goes, and the tables of the whole process say what it costs compiled.
Call `use()` before anything imports parley.
"""

from __future__ import annotations

import sys
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, SourceFileLoader
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent.parent / "parley"


def use(package: Path = PACKAGE) -> None:
    if any(name == "parley" or name.startswith("parley.") for name in sys.modules):
        raise RuntimeError("parley is imported already: python_build.use() must come first")
    root = str(package)
    sources_only = FileFinder.path_hook((SourceFileLoader, SOURCE_SUFFIXES))

    def hook(path: str) -> Any:
        if path == root or path.startswith(root + "/"):
            return sources_only(path)
        raise ImportError(path)  # any other folder: Python's own finders

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()
