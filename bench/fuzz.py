"""The long Schemathesis run (`make fuzz`): many generated requests against a real server."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import make_template_data, start_server, stop_server  # noqa: E402
from tests.http.test_schemathesis import run_schemathesis  # noqa: E402


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(make_template_data(Path(tmp)), Path(tmp) / "server.log")
        try:
            proc = run_schemathesis(server.base, examples=examples, seed=7)
        finally:
            stop_server(server)
    print(proc.stdout[-6000:])
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
