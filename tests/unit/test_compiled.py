"""`parley.compiled`: a compiled module older than its source is found (Python would run the old code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from parley.compiled import compiled, stale


def _module(package: Path, name: str, source_at: float, built_at: float | None) -> None:
    source = package / f"{name}.py"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("X = 1\n")
    os.utime(source, (source_at, source_at))
    if built_at is not None:
        so = package / f"{name}.cpython-311-x86_64-linux-gnu.so"
        so.write_bytes(b"")
        os.utime(so, (built_at, built_at))


def test_a_source_changed_after_its_build_is_stale(tmp_path: Path) -> None:
    package = tmp_path / "parley"
    _module(package, "fresh", 1_000, 2_000)
    _module(package, "engine/edited", 3_000, 2_000)
    _module(package, "plain", 3_000, None)  # never compiled: Python runs its source
    (package / "_compiled__mypyc.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")  # their runtime: no source
    assert compiled(package) == [package / "engine" / "edited.py", package / "fresh.py"]
    assert stale(package) == [str(Path("parley/engine/edited.py"))]


def test_nothing_is_stale_in_a_plain_checkout(tmp_path: Path) -> None:
    package = tmp_path / "parley"
    _module(package, "plain", 3_000, None)
    assert compiled(package) == [] and stale(package) == []


def test_the_server_imports_from_anywhere(tmp_path: Path) -> None:
    """The installed `parley` command runs outside the checkout: whatever `make` compiled must import there
    too (mypyc's shared runtime once sat at the checkout's top, a compiled package `__init__` lost its
    submodules)."""
    done = subprocess.run([sys.executable, "-c", "import parley.http.app, parley.engine.dialog, parley.conversations"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
