"""The golden Botpress transcripts, replayed against a real parley server with ../shared's tool."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPLAY, TEMPLATES, TRANSCRIPTS, Server

PUBLIC_TRANSCRIPTS = ["empty-bot", "small-talk", "welcome-bot", "http-errors"]


@pytest.mark.parametrize("name", PUBLIC_TRANSCRIPTS)
def test_transcript_replays(template_server: Server, name: str) -> None:
    transcript = TRANSCRIPTS / f"{name}.jsonl"
    proc = subprocess.run(
        [sys.executable, str(REPLAY), "compare", "--base", template_server.base, "--transcript", str(transcript),
         "--bots", str(TEMPLATES)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    diffs = [line for line in proc.stdout.splitlines() if line.startswith("DIFF")]
    assert proc.returncode == 0 and " 0 failed" in tail, "\n".join(diffs) or proc.stdout + proc.stderr
