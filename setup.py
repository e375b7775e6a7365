"""Builds parley. The modules every converse turn runs through are compiled to C with mypyc (mypy's
compiler, for code that is `mypy --strict` clean): a turn then takes about a quarter fewer CPU
instructions (`bench/instructions.py`). The compiled modules behave as the Python ones do, and the
test suite runs against them. `PARLEY_COMPILE=0` installs plain Python (no C compiler needed).

Left as Python: modules Starlette inspects (route endpoints must be Python functions), modules with
async generators (mypyc does not compile them), and whatever runs once per start rather than per turn.
"""

from __future__ import annotations

import os

from setuptools import setup

HOT_MODULES = [
    "parley/bots/models.py",
    "parley/conversations.py",
    "parley/engine/actions/base.py",
    "parley/engine/actions/builtin.py",
    "parley/engine/actions/skills.py",
    "parley/engine/actions/user.py",
    "parley/engine/content.py",
    "parley/engine/decision.py",
    "parley/engine/dialog.py",
    "parley/engine/durations.py",
    "parley/engine/instructions.py",
    "parley/engine/runtime.py",
    "parley/engine/sizes.py",
    "parley/engine/state.py",
    "parley/engine/templating.py",
    "parley/engine/turn.py",
    "parley/eventlog.py",
    "parley/outbox.py",
    "parley/store/base.py",
]


def ext_modules() -> list[object]:
    if os.environ.get("PARLEY_COMPILE", "1") == "0":
        return []
    from mypyc.build import mypycify

    return list(mypycify(["--config-file", "pyproject.toml", *HOT_MODULES], opt_level="3"))


setup(ext_modules=ext_modules())
