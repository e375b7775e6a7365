"""Instruction arguments are parsed once per distinct text, and each use gets its own copy."""

from __future__ import annotations

import math

import pytest

from parley.engine.instructions import InstructionError, parse_action, parse_say


def test_an_action_changing_its_arguments_does_not_change_the_next_run() -> None:
    fn = 'my/action {"items": [1, 2], "meta": {"k": "v"}, "name": "x"}'
    name, server, args = parse_action(fn)
    assert (name, server) == ("my/action", None)
    args["items"].append(3)
    args["meta"]["k"] = "changed"
    args["name"] = "y"
    assert parse_action(fn)[2] == {"items": [1, 2], "meta": {"k": "v"}, "name": "x"}


def test_say_arguments_are_fresh_dicts() -> None:
    fn = 'say #!builtin_text-abc {"skill": "choice"}'
    ref, args = parse_say(fn)
    args["skill"] = "other"
    assert parse_say(fn) == ("#!builtin_text-abc", {"skill": "choice"})


@pytest.mark.parametrize("fn", ['act {"a": ', "act [1, 2]", 'act "text"'])
def test_bad_arguments_fail_every_time(fn: str) -> None:
    for _ in range(2):  # a failure is not remembered as a success
        with pytest.raises(InstructionError):
            parse_action(fn)


@pytest.mark.parametrize("raw", ['{"n": {"v": NaN}, "l": [Infinity]}',
                                 '{"big": {"v": 123456789012345678901234567890}}'])
def test_values_a_fast_copy_cannot_hold_are_kept_exactly(raw: str) -> None:
    """Nested arguments are rebuilt from a compact copy for each use, except values that copy would
    change (NaN and infinities would come back as null, huge integers do not fit): those are copied."""
    first = parse_action(f"act {raw}")[2]
    again = parse_action(f"act {raw}")[2]
    assert repr(first) == repr(again) and first is not again
    if "n" in first:
        assert math.isnan(first["n"]["v"]) and math.isinf(first["l"][0])
        first["l"].append(1)
        assert parse_action(f"act {raw}")[2]["l"] == [math.inf]
    else:
        assert first["big"]["v"] == 123456789012345678901234567890
