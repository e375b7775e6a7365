"""`make`'s build of the compiled modules: `python build_compiled.py parley/a.py parley/b/c.py ...`.

mypyc (part of mypy) compiles the given modules to C extensions, built in place: each `.so` beside its
`.py`, which Python loads first. Their shared runtime goes inside the package too (`parley._compiled`):
mypyc's own command line leaves it at the top of the checkout, where `python -m parley` finds it but an
installed `parley` command does not.
"""

from __future__ import annotations

import os
import sys

from mypyc.build import mypycify
from setuptools import setup

if __name__ == "__main__":
    # one C file per module, compiled side by side (one file for them all took twice as long to build)
    extensions = mypycify(sys.argv[1:], group_name="parley._compiled", multi_file=True)
    for extension in extensions:  # mypyc puts the group's header in build/parley, its C files in build/
        extension.include_dirs.append(os.path.join("build", "parley"))
    setup(name="parley-compiled", ext_modules=extensions,
          script_args=["build_ext", "--inplace", f"--parallel={os.cpu_count() or 1}"])
