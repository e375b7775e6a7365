"""Which of parley's modules run compiled, and whether one is older than its source.

`make` compiles the turn's hot path with mypyc (the Makefile's COMPILED list): each module gets a
`.so` beside its `.py`, which Python loads first. A source edited, pulled or checked out after the
build would silently not run; `stale` finds those, so that the tests refuse to run on them and
`parley serve` says so.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def compiled(package: Path = PACKAGE) -> list[Path]:
    """The sources of the package's compiled modules."""
    return sorted(so.with_name(so.name.split(".", 1)[0] + ".py") for so in package.rglob("*.cpython-*.so")
                  if "__mypyc." not in so.name)  # (their shared runtime, `_compiled__mypyc`, has no source)


def stale(package: Path = PACKAGE) -> list[str]:
    """Sources changed since they were compiled (paths from the package's parent)."""
    out = []
    for source in compiled(package):
        built = min(so.stat().st_mtime for so in source.parent.glob(f"{source.stem}.cpython-*.so"))
        if source.exists() and source.stat().st_mtime > built:
            out.append(str(source.relative_to(package.parent)))
    return out
