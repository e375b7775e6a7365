"""Schemathesis against a real server: no 5xx, and no answer that contradicts the OpenAPI document.

A short, seeded run for `make test`; `make fuzz` runs a long one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, REPO, Server

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
    "response_schema_conformance"
)


def login(base: str) -> str:
    req = urllib.request.Request(
        base + "/api/v1/auth/login/basic/default",
        data=json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return str(json.loads(r.read())["payload"]["jwt"])


def run_schemathesis(base: str, examples: int, seed: int = 1) -> subprocess.CompletedProcess[str]:
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    return subprocess.run(
        [
            st,
            "--config-file",
            str(REPO / "schemathesis.toml"),
            "run",
            f"{base}/api/v1/openapi.json",
            "-n",
            str(examples),
            "--seed",
            str(seed),
            "--checks",
            CHECKS,
            "--generation-database",
            "none",
            "-H",
            f"Authorization: Bearer {login(base)}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_no_server_error_and_no_answer_contradicts_the_schema(template_server: Server) -> None:
    if shutil.which("schemathesis", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("schemathesis is not installed (it is in the test extras)")
    proc = run_schemathesis(template_server.base, examples=12)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
