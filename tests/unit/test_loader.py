"""Loading a bot folder: what an author sees when a file is wrong (SPEC §2.3–2.8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parley.bots.loader import load_bot, load_global_actions, parse_flow
from parley.bots.models import Bot
from tests.unit.botfactory import Chat, flow, make_bot, make_broken, node, say, write_bot

MAIN = flow(node("entry", say("hi")))


def _problems(bot: object) -> list[str]:
    return [str(p) for p in getattr(bot, "problems")]  # noqa: B009


def test_invalid_json_names_the_file_line_and_column(tmp_path: Path) -> None:
    broken = make_broken(tmp_path, flows={"main": MAIN, "other": '{\n  "version": "0.0.1",\n  "nodes": [,]\n}'})
    [problem] = _problems(broken)
    assert problem.startswith("testbot/flows/other.flow.json:3:13: invalid JSON")
    assert "other.flow.json" in broken.reason


def test_node_without_name_reports_line_and_json_path(tmp_path: Path) -> None:
    text = json.dumps({"version": "0.0.1", "startNode": "entry", "nodes": [
        {"id": "a1", "name": "entry", "onEnter": []},
        {"id": "b2", "onEnter": ["say #!x"]},
    ]}, indent=2)
    broken = make_broken(tmp_path, flows={"main": text})
    [problem] = broken.problems
    assert problem.path == "testbot/flows/main.flow.json"
    assert "$.nodes[1].name" in problem.location
    line = int(problem.location.split(":")[0])
    assert text.splitlines()[line - 1].strip() == "{"  # where node 1 starts (its name is absent)
    assert text.splitlines()[line].strip() == '"id": "b2",'


def test_start_node_that_does_not_exist(tmp_path: Path) -> None:
    text = json.dumps({"version": "0.0.1", "startNode": "nope", "nodes": [{"id": "a1", "name": "entry"}]}, indent=2)
    broken = make_broken(tmp_path, flows={"main": text})
    [problem] = broken.problems
    assert "$.startNode" in problem.location and "nope" in problem.message
    line = int(problem.location.split(":")[0])
    assert '"startNode"' in text.splitlines()[line - 1]


def test_missing_start_node(tmp_path: Path) -> None:
    broken = make_broken(tmp_path, flows={"main": {"version": "0.0.1", "nodes": [{"id": "a1", "name": "entry"}]}})
    assert "$.startNode" in broken.problems[0].location


@pytest.mark.parametrize(
    ("data", "json_path"),
    [
        ({"startNode": "e", "nodes": [{"name": "e"}]}, "$.version"),
        ({"version": "1.0", "startNode": "e", "nodes": [{"name": "e"}]}, "$.version"),
        ({"version": "0.0.1", "startNode": "e"}, "$.nodes"),
        ({"version": "0.0.1", "startNode": "e", "nodes": [{"name": "e"}, {"name": "e"}]}, "$.nodes[1].name"),
        ({"version": "0.0.1", "startNode": "e", "nodes": [{"name": "e", "onEnter": [1]}]}, "$.nodes[0].onEnter[0]"),
        ({"version": "0.0.1", "startNode": "e", "nodes": [{"name": "e", "next": [{"node": 3}]}]},
         "$.nodes[0].next[0].node"),
        ({"version": "0.0.1", "startNode": "e", "catchAll": {"onEnter": ["x"]}, "nodes": [{"name": "e"}]},
         "$.catchAll.onEnter"),
        ({"version": "0.0.1", "startNode": "e", "nodes": [{"name": "e", "type": "skill-call"}]}, "$.nodes[0].flow"),
    ],
)
def test_schema_faults_are_located(tmp_path: Path, data: dict[str, object], json_path: str) -> None:
    broken = make_broken(tmp_path, flows={"main": data})
    assert [p.location.split(": ")[-1] for p in broken.problems] == [json_path]


def test_every_broken_file_is_reported(tmp_path: Path) -> None:
    broken = make_broken(tmp_path, flows={"main": "{", "other": {"version": "0.0.1", "nodes": []}},
                         files={"content-elements/builtin_text.json": '{"not": "a list"}'})
    paths = sorted(p.path for p in broken.problems)
    assert paths == ["testbot/content-elements/builtin_text.json", "testbot/flows/main.flow.json",
                     "testbot/flows/other.flow.json"]


def test_a_broken_bot_does_not_affect_another(tmp_path: Path) -> None:
    make_broken(tmp_path, flows={"main": "{"}, name="bad")
    good = load_bot(write_bot(tmp_path, flows={"main": MAIN}, name="good"))
    assert isinstance(good, Bot)


# --------------------------------------------------------------------------------------- actions


def test_javascript_files_are_listed_as_skipped(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": MAIN}, files={
        "actions/hello.js": "const x = 1",
        "actions/sub/deep.js": "const y = 2",
        "hooks/after_incoming_middleware/hook.js": "",
    }, actions={"ported": "async def run():\n    pass\n"})
    assert bot.skipped == ("testbot/actions/hello.js", "testbot/actions/sub/deep.js",
                           "testbot/hooks/after_incoming_middleware/hook.js")
    assert set(bot.actions) == {"ported"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def run():\n    pass\n", "async def run"),
        ("async def main():\n    pass\n", "async def run"),
        ("run = 3\n", "async def run"),
        ("import no_such_module_here\n", "ModuleNotFoundError"),
        ("async def run(:\n", "SyntaxError"),
    ],
)
def test_python_action_without_async_run_is_a_problem(tmp_path: Path, source: str, expected: str) -> None:
    broken = make_broken(tmp_path, flows={"main": MAIN}, actions={"bad": source})
    [problem] = broken.problems
    assert problem.path == "testbot/actions/bad.py"
    assert expected in problem.message


def test_private_python_modules_are_not_actions(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": MAIN}, actions={"_helpers": "X = 1\n"})
    assert dict(bot.actions) == {}


async def test_global_actions_are_visible_and_bot_actions_win(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "global" / "actions" / "shared").mkdir(parents=True)
    (data / "global" / "actions" / "shared" / "hello.py").write_text(
        "async def run(temp):\n    temp['who'] = 'global'\n")
    (data / "global" / "actions" / "mine.py").write_text("async def run(temp):\n    temp['mine'] = 'global'\n")
    (data / "global" / "actions" / "legacy.js").write_text("")
    actions, problems, skipped = load_global_actions(data)
    assert problems == [] and skipped == ["global/actions/legacy.js"]
    main = flow(node("entry", "shared/hello", "mine", say("{{temp.who}} {{temp.mine}}")))
    folder = write_bot(data / "bots", flows={"main": main},
                       actions={"mine": "async def run(temp):\n    temp['mine'] = 'bot'\n"})
    bot = load_bot(folder, actions)
    assert isinstance(bot, Bot)
    assert await Chat(bot).send() == ["global bot"]


# --------------------------------------------------------------------------------- flows as loaded


def test_on_receive_null_and_empty_are_distinct() -> None:
    f = parse_flow("main.flow.json", flow(node("a", receive=None), node("b", receive=[]),
                                          {"id": "c1", "name": "c"}))
    assert f.nodes["a"].on_receive is None
    assert f.nodes["b"].on_receive == ()
    assert f.nodes["c"].on_receive is None


async def test_flow_names_are_case_insensitive_and_skill_flows_live_in_subfolders(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", next=[("true", "Other.flow.json")])),
        "other": flow(node("entry", say("other"), next=[("true", "skills/Choice-1.flow.json")])),
        "skills/choice-1": flow(node("entry", say("skill"))),
    })
    assert set(bot.flows) == {"main.flow.json", "other.flow.json", "skills/choice-1.flow.json"}
    assert await Chat(bot).send() == ["other", "skill"]


def test_runtime_faults_are_warnings_and_the_bot_still_loads(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", "say #!builtin_text-missing", next=[("true", "nowhere"), ("temp.x ===", "entry")]),
        node("skill", type="skill-call", flow="skills/absent.flow.json"),
    )})
    messages = " | ".join(str(w) for w in bot.warnings)
    assert 'content element "builtin_text-missing" not found' in messages
    assert 'unknown node "nowhere"' in messages
    assert "temp.x ===" in messages
    assert 'skill flow "skills/absent.flow.json" not found' in messages


def test_bot_without_main_flow_loads_with_a_warning(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"other": MAIN})
    assert any("main.flow.json" in str(w) for w in bot.warnings)


def test_ui_files_and_bom_are_tolerated(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": MAIN}, files={
        "flows/main.ui.json": json.dumps({"nodes": [{"id": "id-entry", "position": {"x": 1, "y": 2}}]}),
        "content-elements/builtin_text.json": "\ufeff" + json.dumps([{"id": "builtin_text-a", "formData": {}}]),
    })
    assert "builtin_text-a" in bot.content


def test_bot_id_is_the_folder_name_as_in_botpress(tmp_path: Path) -> None:
    folder = write_bot(tmp_path, flows={"main": MAIN}, config={"id": "named"}, name="folder")
    assert load_bot(folder).id == "folder"
    other = write_bot(tmp_path, flows={"main": MAIN}, config={"id": ""}, name="plain")
    assert load_bot(other).id == "plain"


def test_files_of_older_botpress_versions_load_as_botpress_migrates_them(tmp_path: Path) -> None:
    """Entities saved before Botpress 12.3.2 spell `occurences` (they loaded with no values), a list's `fuzzy`
    before 12.2.3 is a flag, a slot before 12.0.1 takes `numeral`; a Botpress 11 intent lists its utterances
    without a language (none was learnt: now the default language's, with a warning)."""
    bot = make_bot(tmp_path, flows={"main": MAIN}, files={
        "entities/size.json": json.dumps({"id": "size", "name": "size", "type": "list", "fuzzy": False,
                                          "occurences": [{"name": "large", "synonyms": ["big"]}]}),
        "entities/topping.json": json.dumps({"name": "topping", "type": "list", "fuzzy": True,
                                             "occurrences": [{"name": "cheese", "synonyms": []}]}),
        "intents/order.json": json.dumps({"name": "order", "contexts": ["global"], "utterances": ["a large pizza"],
                                          "slots": [{"name": "count", "entities": ["numeral"]}]}),
    })
    assert bot.entities["size"].raw["occurrences"] == [{"name": "large", "synonyms": ["big"]}]
    assert bot.entities["size"].raw["fuzzy"] == 1.0 and bot.entities["topping"].raw["fuzzy"] == 0.8
    assert bot.intents["order"].utterances == {"en": ("a large pizza",)}
    assert bot.intents["order"].slots[0]["entities"] == ["number"]
    assert any("intents/order.json" in str(w) and "default language" in str(w) for w in bot.warnings)
