"""Start to ready, several times: `python bench/startup.py [--runs N] [--cold] [--examples]`.

Seconds from launching `parley serve` until `GET /status` answers 200, measured like bench/run.py
(which times one start, on a fresh data folder: a cold NLU cache). Here each figure is the median of
several starts, on one data folder whose NLU cache was filled by a first, unmeasured start (`--cold`:
a fresh folder per start instead). The data folder is bench/run.py's (the templates and pizza-bot),
or `--examples` for examples/data alone. PARLEY_NLU from the environment applies (default on).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import EXAMPLES, TEMPLATES, make_template_data, parley_cmd, server  # noqa: E402


def data_folder(root: Path, examples: bool) -> Path:
    if examples:
        return Path(shutil.copytree(EXAMPLES, root / "data"))
    data = make_template_data(root)
    shutil.copytree(EXAMPLES / "bots" / "pizza-bot", data / "bots" / "pizza-bot")
    return data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--cold", action="store_true", help="a fresh data folder (empty NLU cache) per start")
    ap.add_argument("--examples", action="store_true", help="examples/data instead of bench/run.py's folder")
    args = ap.parse_args()
    if not args.examples and not TEMPLATES.is_dir():
        sys.exit("../shared/botpress-templates is needed (or use --examples)")
    env = {"PARLEY_NLU": os.environ.get("PARLEY_NLU", "on"), "PARLEY_WATCH": "off"}
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        def fresh() -> Path:
            return data_folder(Path(tempfile.mkdtemp(dir=tmp)), args.examples)

        data = fresh()
        if not args.cold:
            with server(parley_cmd(data), env):
                pass
        for _ in range(args.runs):
            with server(parley_cmd(fresh() if args.cold else data), env) as (_base, _proc, ready_s):
                times.append(ready_s)
    cache = "cold" if args.cold else "warm"
    print(f"start to ready ({cache} NLU cache, NLU {env['PARLEY_NLU']}, {args.runs} runs): "
          f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
          f"[{' '.join(f'{t:.2f}' for t in times)}]")


if __name__ == "__main__":
    main()
