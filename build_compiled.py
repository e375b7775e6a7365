"""`make`'s build of the compiled modules: `python build_compiled.py parley/a.py parley/b/c.py ...`.

mypyc (part of mypy) compiles the given modules to C extensions, built in place: each `.so` beside its
`.py`, which Python loads first. Their shared runtime goes inside the package too (`parley._compiled`):
mypyc's own command line leaves it at the top of the checkout, where `python -m parley` finds it but an
installed `parley` command does not.

mypyc writes one C file per module (`multi_file`: one file for them all took twice as long to build),
and they are compiled side by side, one per core: setuptools compiles an extension's files one after
the other, and nearly all of them belong to the one extension of the shared runtime.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import setuptools._distutils.ccompiler
from mypyc.build import mypycify
from setuptools import setup


def _compile_side_by_side(self: Any, sources: list[str], output_dir: str | None = None, macros: Any = None,
                          include_dirs: Any = None, debug: bool = False, extra_preargs: Any = None,
                          extra_postargs: Any = None, depends: Any = None) -> list[str]:
    """`CCompiler.compile`, its files on a thread each (the compiler runs as a process of its own)."""
    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)

    def one(obj: str) -> None:
        src, ext = build[obj]
        self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(one, [obj for obj in objects if obj in build]))
    return list(objects)


if __name__ == "__main__":
    import distutils.ccompiler  # setuptools' copy again, loaded a second time under this name: build_ext's

    for module in (setuptools._distutils.ccompiler, distutils.ccompiler):
        module.CCompiler.compile = _compile_side_by_side
    extensions = mypycify(sys.argv[1:], group_name="parley._compiled", multi_file=True)
    for extension in extensions:  # mypyc puts the group's header in build/parley, its C files in build/
        extension.include_dirs.append(os.path.join("build", "parley"))
    setup(name="parley-compiled", ext_modules=extensions, script_args=["build_ext", "--inplace"])
