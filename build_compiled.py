"""`make`'s build of the compiled modules: `python build_compiled.py parley/a.py parley/b/c.py ...`.

mypyc (part of mypy) compiles the given modules to C extensions, built in place: each `.so` beside its
`.py`, which Python loads first. Their shared runtime goes inside the package too (`parley._compiled`):
mypyc's own command line leaves it at the top of the checkout, where `python -m parley` finds it but an
installed `parley` command does not.
"""

from __future__ import annotations

import sys

from mypyc.build import mypycify
from setuptools import setup

if __name__ == "__main__":
    setup(name="parley-compiled", ext_modules=mypycify(sys.argv[1:], group_name="parley._compiled"),
          script_args=["build_ext", "--inplace"])
