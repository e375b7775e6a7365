"""`python -m parley check` and `python -m parley chat`, run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES, REPO, TEMPLATES, shared_or_skip
from tests.http.test_converse import make_data, write_bot


def parley(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd or REPO,
        env={**env, "PYTHONPATH": str(REPO)},
    )


# ------------------------------------------------------------------------------------------- check


def test_check_passes_on_the_examples() -> None:
    proc = parley("check", "--data", str(EXAMPLES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK pizza-bot:" in proc.stdout
    assert "BROKEN" not in proc.stdout and "ERROR" not in proc.stdout


def test_check_passes_on_the_botpress_templates(tmp_path: Path) -> None:
    shared_or_skip()
    data = tmp_path / "data"
    shutil.copytree(TEMPLATES, data / "bots")
    proc = parley("check", "--data", str(data))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for bot in ("empty-bot", "welcome-bot", "small-talk"):
        assert f"OK {bot}:" in proc.stdout


def test_check_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    bad = write_bot(data, "bad")
    flow = '{\n  "version": "0.0.1",\n  "startNode": "entry"\n  "nodes": []\n}\n'  # a missing comma, line 4
    (bad / "flows" / "main.flow.json").write_text(flow)
    elements = '[\n  {"id": "builtin_text-a", "formData": {}},\n  oops\n]\n'  # not JSON, line 3
    (bad / "content-elements" / "builtin_text.json").write_text(elements)
    good = write_bot(data, "good")
    (good / "actions").mkdir()
    (good / "actions" / "legacy.js").write_text("// a Botpress action\n")
    (good / "hooks" / "after_incoming_middleware").mkdir(parents=True)
    (good / "hooks" / "after_incoming_middleware" / "log.js").write_text("// a Botpress hook\n")
    (data / "global" / "actions" / "builtin").mkdir(parents=True)
    (data / "global" / "actions" / "builtin" / "setVariable.js").write_text("// a module action\n")

    proc = parley("check", "--data", str(data))
    assert proc.returncode != 0
    out = proc.stdout
    assert "BROKEN bad" in out
    assert "bad/flows/main.flow.json:4:3: invalid JSON" in out
    assert "bad/content-elements/builtin_text.json:3:3: invalid JSON" in out
    assert "OK good:" in out
    assert "SKIPPED good/actions/legacy.js" in out
    assert "SKIPPED good/hooks/after_incoming_middleware/log.js" in out
    assert "SKIPPED global/actions/builtin/setVariable.js" in out


def test_check_reports_a_schema_fault_with_its_line(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    bot = write_bot(data, "schema")
    flow = json.loads((bot / "flows" / "main.flow.json").read_text())
    flow["startNode"] = "nowhere"
    (bot / "flows" / "main.flow.json").write_text(json.dumps(flow, indent=2))
    proc = parley("check", "--data", str(data))
    assert proc.returncode != 0
    assert "schema/flows/main.flow.json:3: $.startNode" in proc.stdout, proc.stdout


def test_check_without_bots_folder_fails(tmp_path: Path) -> None:
    proc = parley("check", "--data", str(tmp_path))
    assert proc.returncode == 2
    assert "no bots/ folder" in proc.stderr


# -------------------------------------------------------------------------------------------- chat


def test_chat_prints_the_conversation_readably(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(EXAMPLES, data, ignore=shutil.ignore_patterns("storage"))
    proc = parley("chat", "pizza-bot", "--data", str(data), stdin="hi\nsmall\nAda\nyes\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Talking to pizza-bot")
    assert "you> hi" in lines
    hi = lines.index("you> hi")
    assert lines[hi + 1] == "bot> Hi! I'm Pizza Bot."
    assert lines[hi + 2].startswith("bot> ") and "size" in lines[hi + 2]
    assert lines[hi + 3:hi + 5] == ["     1. Small", "     2. Large"]
    assert lines[hi + 5] == "you> small"
    assert "you> Ada" in lines and "you> yes" in lines
    assert any(line.startswith("bot> ") and "Ada" in line and "#1" in line for line in lines)
    assert not any("typing" in line for line in lines)
    assert (data / "storage" / "parley.sqlite").is_file()

    again = parley("chat", "pizza-bot", "--data", str(data), stdin="hello\n")
    assert "bot> Hi Ada! I'm Pizza Bot." in again.stdout.splitlines(), again.stdout


def test_chat_with_an_unknown_bot_fails(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    proc = parley("chat", "nobody", "--data", str(data), stdin="hi\n")
    assert proc.returncode == 2
    assert "cannot chat with nobody" in proc.stderr


def test_chat_understands_with_the_nlu_and_shows_it(tmp_path: Path) -> None:
    """`parley chat` uses the bot's NLU like the server: a greeting phrased differently from the
    training utterances is the `hello` intent; a question from elsewhere is out of scope."""
    shared_or_skip()
    data = tmp_path / "data"
    shutil.copytree(TEMPLATES / "welcome-bot", data / "bots" / "welcome-bot")
    proc = parley("chat", "welcome-bot", "--data", str(data), "--show-nlu",
                  stdin="hey there bot, good morning to you\nwhat is the capital of australia\n")
    assert proc.returncode == 0, proc.stderr
    nlu_lines = [line for line in proc.stdout.splitlines() if line.startswith("nlu> ")]
    assert len(nlu_lines) == 2, proc.stdout
    assert nlu_lines[0].startswith("nlu> hello "), nlu_lines
    assert nlu_lines[1].startswith("nlu> none "), nlu_lines
    assert any(p.is_dir() for p in (data / "storage" / "nlu").iterdir())  # the server's cache, reused
