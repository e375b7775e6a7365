"""The modules setup.py compiles with mypyc: what runs must be built from the sources in the tree.

An edited module whose compiled build was not redone would leave the old code running (Python
imports the extension before the `.py`); `make` rebuilds, and this says so instead of testing stale code.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def hot_modules() -> list[str]:
    return re.findall(r'^    "(parley/[\w/]+\.py)",$', (ROOT / "setup.py").read_text(), re.MULTILINE)


def test_setup_lists_existing_modules() -> None:
    listed = hot_modules()
    assert "parley/engine/dialog.py" in listed
    assert all((ROOT / m).is_file() for m in listed)


@pytest.mark.parametrize("source", hot_modules())
def test_a_compiled_module_is_built_from_its_current_source(source: str) -> None:
    path = ROOT / source
    builds = list(path.parent.glob(path.stem + ".*.so"))
    if not builds:
        pytest.skip("installed without compiling (PARLEY_COMPILE=0)")
    assert all(b.stat().st_mtime >= path.stat().st_mtime for b in builds), \
        f"{source} changed after it was compiled: run `make` (or `pip install -e .`) to rebuild"
    module = importlib.import_module(source[:-3].replace("/", "."))
    assert str(module.__file__).endswith(".so"), f"{source}: the Python source runs, not its compiled build"
