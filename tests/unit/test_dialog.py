"""The dialog engine's rules (SPEC §3.6–3.15), each observed as a user of a small synthetic bot."""

from __future__ import annotations

from pathlib import Path

from parley.bots.models import Bot
from parley.engine.runtime import EngineOptions
from parley.engine.turn import run_turn
from tests.unit.botfactory import (
    ERROR_FLOW,
    Chat,
    action,
    flow,
    make_bot,
    nlu,
    node,
    say,
    set_var,
    text_element,
)

# ------------------------------------------------------------------------------ node instructions


async def test_on_enter_runs_then_waits_then_on_receive_then_transitions(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("ask", say("What is your name?"), receive=[say("Got {{event.payload.text}}")], next=[("true", "done")]),
        node("done", say("Done")),
    )})
    chat = Chat(bot)
    assert await chat.send("hi") == ["What is your name?"]
    assert chat.context["currentNode"] == "ask"
    assert await chat.send("Ann") == ["Got Ann", "Done"]


async def test_the_queue_a_conversation_keeps_is_its_own(tmp_path: Path) -> None:
    """A node's queue is built once per bot; a conversation keeps copies of it in its context, so a
    change made there (by an action, say) never reaches another conversation at the same node."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("ask", say("Name?"), receive=[say("Got {{event.payload.text}}")], next=[("true", "done")]),
        node("done", say("Done")),
    )})
    first, second = Chat(bot, user_id="a"), Chat(bot, user_id="b")
    assert await first.send("hi") == ["Name?"]
    first.context["queue"]["instructions"][0]["fn"] = say("Changed")
    assert await second.send("hi") == ["Name?"]
    assert await second.send("Ann") == ["Got Ann", "Done"]
    assert await first.send("Bo") == ["Changed", "Done"]


async def test_the_content_arguments_a_conversation_keeps_are_its_own(tmp_path: Path) -> None:
    """A `say_something` node's content waits in the kept queue with its form data as arguments: a
    copy, so changing it changes neither the bot nor another conversation."""
    bot = make_bot(tmp_path, flows={"main": flow(node(
        "entry", say("enter"), receive=[], type="say_something",
        content={"contentType": "builtin_text", "formData": {"text$en": "content"}},
    ))})
    first, second = Chat(bot, user_id="a"), Chat(bot, user_id="b")
    assert await first.send() == ["enter"]
    kept = [ins for ins in first.context["queue"]["instructions"] if "args" in ins]
    kept[0]["args"]["text$en"] = "changed"
    assert await second.send() == ["enter"]
    assert await second.send() == ["content"]
    assert await first.send() == ["changed"]


async def test_the_queue_kept_after_a_return_from_a_subflow_is_its_own(tmp_path: Path) -> None:
    """Back from a subflow (`#`), the caller's transitions are queued in the context; when one of them
    cannot run, the turn stops and the conversation keeps that queue: its own copy."""
    bad = "temp.x ==="
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", next=[("temp.back !== true", "sub.flow.json"), (bad, "after")]),
                     node("after", say("after"))),
        "sub": flow(node("entry", say("in sub"), set_var("temp", "back", True), next=[("true", "#")])),
    })
    first, second = Chat(bot, user_id="a"), Chat(bot, user_id="b")
    assert await first.send() == ["in sub"]
    assert first.context["queue"]["instructions"][0]["fn"] == bad
    first.context["queue"]["instructions"][0]["fn"] = "true"
    assert await second.send() == ["in sub"]
    assert second.context["queue"]["instructions"][0]["fn"] == bad


async def test_empty_on_receive_waits_but_null_does_not(tmp_path: Path) -> None:
    waits = make_bot(tmp_path / "a", flows={"main": flow(
        node("a", say("A"), receive=[], next=[("true", "b")]), node("b", say("B")))})
    chat = Chat(waits)
    assert await chat.send() == ["A"]
    assert await chat.send() == ["B"]

    no_wait = make_bot(tmp_path / "b", flows={"main": flow(
        node("a", say("A"), receive=None, next=[("true", "b")]), node("b", say("B")))})
    assert await Chat(no_wait).send() == ["A", "B"]


async def test_first_true_transition_wins(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", next=[("false", "x"), ("event.preview === 'go'", "b"), ("true", "c"), ("true", "x")]),
        node("b", say("B")), node("c", say("C")), node("x", say("X")),
    )})
    assert await Chat(bot).send("go") == ["B"]
    assert await Chat(bot).send("other") == ["C"]


async def test_no_matching_transition_ends_dialog_and_next_message_restarts(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("Start"), set_var("temp", "t", "1"), receive=[], next=[("event.preview === 'go'", "b")]),
        node("b", say("B")),
    )})
    chat = Chat(bot)
    assert await chat.send() == ["Start"]
    assert chat.temp == {"t": "1"}
    assert await chat.send("nope") == []
    assert chat.context == {} and chat.temp == {}
    assert await chat.send("go") == ["Start"]  # restarted at main's startNode, not resumed


async def test_node_without_transitions_ends_after_on_enter(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", say("Hello")))})
    chat = Chat(bot)
    assert await chat.send() == ["Hello"]
    assert chat.context == {}
    assert await chat.send() == ["Hello"]


async def test_say_something_node_speaks_after_its_on_enter(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node(
        "entry", say("first"), type="say_something",
        content={"contentType": "builtin_text", "formData": {"text$en": "Hi {{user.name}}"}},
    ))}, files={})
    chat = Chat(bot)
    chat.memory.user["name"] = "Zoe"
    assert await chat.send() == ["first", "Hi Zoe"]


async def test_inline_say_renders_template(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", set_var("user", "name", "Bob"), 'say #builtin_text {"text":"Hi {{user.name}}"}'))})
    chat = Chat(bot)
    await chat.send()
    assert chat.last is not None
    assert chat.last.responses == [{"type": "text", "text": "Hi Bob"}]


# ------------------------------------------------------------------------------------- catchAll


async def test_catch_all_on_receive_runs_before_the_node_on_receive(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("Q"), receive=[say("node")]),
        catch_all={"onReceive": [say("catchAll")]},
    )})
    chat = Chat(bot)
    assert await chat.send() == ["Q"]
    assert await chat.send() == ["catchAll", "node"]


async def test_catch_all_next_is_checked_before_node_transitions(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("Q"), receive=[], next=[("true", "b")]),
        node("b", say("B"), receive=[]),
        node("help", say("Help"), receive=[], next=[("true", "b")]),
        catch_all={"next": [{"condition": "event.preview === 'help'", "node": "help"}]},
    )})
    chat = Chat(bot)
    await chat.send()
    assert await chat.send("help") == ["Help"]
    # At the `help` node, the catchAll transition pointing to `help` itself is skipped.
    assert await chat.send("help") == ["B"]

    other = Chat(bot)
    await other.send()
    assert await other.send("anything") == ["B"]


async def test_after_a_jump_the_target_flows_catch_all_next_runs_first(tmp_path: Path) -> None:
    """A QnA redirect is a jumpTo: the target flow's catchAll.next is evaluated before the node runs,
    including a transition that points to the node being jumped to."""
    bot = make_bot(
        tmp_path,
        flows={
            "main": flow(node("entry", say("main"))),
            "other": flow(
                node("entry", say("other entry")),
                node("caught", say("caught")),
                catch_all={"next": [{"condition": "true", "node": "caught"}]},
            ),
        },
        qna={"q1": {"questions": {"en": ["go"]}, "answers": {"en": []}, "action": "redirect",
                    "redirectFlow": "other.flow.json", "redirectNode": "entry", "enabled": True}},
    )
    chat = Chat(bot, understand=nlu(("__qna__q1", 0.9)))
    assert await chat.send("go") == ["caught"]


# ------------------------------------------------------------------------------- flows and skills


def _caller(transition_back: str) -> dict[str, object]:
    return {
        "main": flow(
            node("entry", say("main entry"),
                 next=[("temp.back === true", "after"), ("true", "sub.flow.json")]),
            node("after", say("after")),
        ),
        "sub": flow(node("entry", say("in sub"), set_var("temp", "back", True),
                         next=[("true", transition_back)])),
    }


async def test_subflow_return_with_hash_reevaluates_only_transitions(tmp_path: Path) -> None:
    chat = Chat(make_bot(tmp_path, flows=_caller("#")))
    assert await chat.send() == ["main entry", "in sub", "after"]


async def test_subflow_return_with_double_hash_reexecutes_the_caller(tmp_path: Path) -> None:
    chat = Chat(make_bot(tmp_path, flows=_caller("##")))
    assert await chat.send() == ["main entry", "in sub", "main entry", "after"]


async def test_transition_to_a_named_node_of_another_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", next=[("true", "sub.flow.json#second")])),
        "sub": flow(node("entry", say("sub entry")), node("second", say("sub second"), receive=[])),
    })
    chat = Chat(bot)
    assert await chat.send() == ["sub second"]
    assert chat.context["currentFlow"] == "sub.flow.json"
    assert chat.context["previousFlow"] == "main.flow.json"
    assert chat.context["previousNode"] == "entry"


async def test_return_to_a_specific_parent_node(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("main entry"), next=[("true", "sub.flow.json")]),
                     node("elsewhere", say("elsewhere"), next=[("true", "final")]),
                     node("final", say("final"))),
        "sub": flow(node("entry", next=[("event.preview === 'run'", "##elsewhere"), ("true", "#elsewhere")])),
    })
    # `#node` evaluates only that node's transitions; `##node` runs the node.
    assert await Chat(bot).send() == ["main entry", "final"]
    assert await Chat(bot).send("run") == ["main entry", "elsewhere", "final"]


async def test_subflow_state_survives_between_messages(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("main"), next=[("true", "ask.flow.json")]),
                     node("thanks", say("Thanks {{temp.answer}}"))),
        "ask": flow(node("q", say("Question?"), receive=[set_var("temp", "answer", "{{event.payload.text}}")],
                         next=[("true", "##thanks")])),
    })
    chat = Chat(bot)
    assert await chat.send() == ["main", "Question?"]
    assert await chat.send("42") == ["Thanks 42"]
    assert chat.context == {} and chat.temp == {}


async def test_skill_call_node_enters_the_skill_and_exits_through_its_transitions(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(
            node("entry", say("hello"), next=[("true", "ask")]),
            node("ask", type="skill-call", skill="custom", flow="skills/ask-1.flow.json",
                 next=[("temp.answer === 'yes'", "yes"), ("true", "no")]),
            node("yes", say("Great")),
            node("no", say("Too bad")),
        ),
        "skills/ask-1": flow(node("q", say("Yes or no?"),
                                  receive=[set_var("temp", "answer", "{{event.preview}}")],
                                  next=[("true", "#")])),
    })
    chat = Chat(bot)
    assert await chat.send() == ["hello", "Yes or no?"]
    assert chat.context["currentFlow"] == "skills/ask-1.flow.json"
    assert chat.context["jumpPoints"] == [{"flow": "main.flow.json", "node": "ask"}]
    assert await chat.send("yes") == ["Great"]  # the skill-call node is not re-entered

    again = Chat(bot)
    await again.send()
    assert await again.send("nah") == ["Too bad"]


async def test_double_hash_on_a_skill_call_node_reenters_the_skill(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(
            node("ask", type="skill-call", skill="custom", flow="skills/ask-1.flow.json",
                 next=[("true", "done")]),
            node("done", say("done")),
        ),
        "skills/ask-1": flow(node("q", say("Again?"), receive=[],
                                  next=[("event.preview === 'again'", "##"), ("true", "#")])),
    })
    chat = Chat(bot)
    assert await chat.send() == ["Again?"]
    assert await chat.send("again") == ["Again?"]
    assert await chat.send("stop") == ["done"]


async def test_end_and_empty_target_end_the_dialog(tmp_path: Path) -> None:
    for target in ("END", ""):
        bot = make_bot(tmp_path / (target or "empty"), flows={"main": flow(
            node("entry", say("one"), set_var("temp", "x", "1"), next=[("true", target), ("true", "never")]),
            node("never", say("never")),
        )})
        chat = Chat(bot)
        assert await chat.send() == ["one"]
        assert chat.context == {} and chat.temp == {}


async def test_hash_without_jump_point_does_nothing_and_reruns_the_node_next_time(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("entry"), next=[("true", "b")]),
        node("b", say("B"), receive=[], next=[("true", "#")]),
    )})
    chat = Chat(bot)
    assert await chat.send() == ["entry", "B"]
    assert await chat.send("x") == []
    assert chat.context["currentNode"] == "b"
    assert await chat.send("y") == ["B"]  # the node runs again from its onEnter


# ------------------------------------------------------------------------------- conversation end


async def test_conversation_end_flow_runs_then_temp_and_context_are_cleared(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", set_var("temp", "t", "T"), set_var("session", "s", "S"),
                          set_var("user", "u", "U"), say("bye"), next=[("true", "END")])),
        "conversation_end": flow(node("entry", say("The end ({{temp.t}})"))),
    })
    chat = Chat(bot)
    assert await chat.send() == ["bye", "The end (T)"]
    assert chat.context == {} and chat.temp == {}
    assert chat.session["s"] == "S"
    assert chat.user["u"] == "U"
    assert await chat.send() == ["bye", "The end (T)"]


async def test_conversation_end_flow_runs_when_no_transition_matches(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("Q"), receive=[], next=[("false", "entry")])),
        "conversation_end": flow(node("entry", say("Goodbye"))),
    })
    chat = Chat(bot)
    assert await chat.send() == ["Q"]
    assert await chat.send() == ["Goodbye"]
    assert chat.context == {}


async def test_conversation_end_flow_that_moves_on_keeps_the_dialog(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("main"), set_var("temp", "t", "1"))),
        "conversation_end": flow(node("entry", say("end"), next=[("true", "survey.flow.json")])),
        "survey": flow(node("q", say("Rate us?"), receive=[])),
    })
    chat = Chat(bot)
    assert await chat.send() == ["main", "end", "Rate us?"]
    assert chat.context["currentFlow"] == "survey.flow.json"
    assert chat.temp == {"t": "1"}


# ------------------------------------------------------------------------------------------ errors

RAISES = """
async def run(temp):
    temp["before"] = True
    raise RuntimeError("boom")
"""


async def test_failing_action_runs_the_error_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("before"), "boom", say("never"))),
        "error": ERROR_FLOW,
    }, actions={"boom": RAISES})
    chat = Chat(bot)
    assert await chat.send() == ["before", "Oops, error"]
    assert chat.errors and chat.errors[0]["type"] == "action-execution"
    assert chat.context == {}


async def test_on_error_flow_to_overrides_the_error_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", set_var("temp", "onErrorFlowTo", "custom.flow.json"), "boom")),
        "custom": flow(node("entry", say("Custom error handler"))),
        "error": ERROR_FLOW,
    }, actions={"boom": RAISES})
    assert await Chat(bot).send() == ["Custom error handler"]


async def test_unknown_action_runs_the_error_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", action("no/such-action", {}), say("never"))),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send() == ["Oops, error"]
    assert "not found" in chat.errors[0]["message"]


async def test_transition_to_an_unknown_node_runs_the_error_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("hi"), next=[("true", "missing-node")])),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send() == ["hi", "Oops, error"]
    assert chat.errors[0]["type"] == "dialog-transition"
    assert chat.context == {}


async def test_transition_to_an_unknown_flow_honours_on_error_flow_to(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", set_var("temp", "onErrorFlowTo", "custom.flow.json"),
                          next=[("true", "nowhere.flow.json")])),
        "custom": flow(node("entry", say("custom"))),
        "error": ERROR_FLOW,
    })
    assert await Chat(bot).send() == ["custom"]


async def test_infinite_loop_stops_after_three_visits_without_the_error_flow(tmp_path: Path) -> None:
    """Botpress catches the loop at the node that detects it: the dialog is cleaned and the turn
    ends there, saved; its error flow does not run (the risk of another loop is too high). This is
    Botpress 12.31's dialog-engine.ts, read again on 2026-12-06 (SPEC 3.7/3.14 say the decision engine
    runs the error flow; it never sees the error). A published bot whose error flow leads back into its
    own loop was stuck in the error flow for good with it."""
    bot = make_bot(tmp_path, flows={
        "main": flow(
            node("a", set_var("temp", "x", "1"), set_var("session", "s", "S"), say("A"), next=[("true", "b")]),
            node("b", say("B"), next=[("true", "a")]),
        ),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send() == ["A", "B", "A", "B", "A"]
    assert chat.last is not None and chat.last.persisted
    assert chat.context == {} and chat.temp == {}
    assert chat.session["s"] == "S"
    assert "Infinite loop" in chat.errors[0]["message"]
    # The loop guard counts per message: the next message plays the same way.
    assert await chat.send() == ["A", "B", "A", "B", "A"]


async def test_after_a_loop_the_next_message_starts_the_main_flow_again(tmp_path: Path) -> None:
    """A published bot: a choice leads into a loop, and its error flow returns with `#`. With the error
    flow run after the loop, the conversation sat in the error flow for good ("Oops" to every message)."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("hello", say("Hello"), receive=[], next=[("true", "a")]),
                     node("a", say("A"), next=[("true", "b")]), node("b", next=[("true", "a")])),
        "error": flow(node("entry", say("Oops"), next=[("true", "#")])),
    })
    chat = Chat(bot)
    assert await chat.send() == ["Hello"]
    assert await chat.send() == ["A", "A", "A"]
    assert chat.context == {}
    assert await chat.send() == ["Hello"]


async def test_infinite_loop_inside_a_subflow_stops_the_whole_turn(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("start"), next=[("true", "sub.flow.json")]),
                     node("after", say("back in main"))),
        "sub": flow(node("a", say("A"), next=[("true", "b")]), node("b", next=[("true", "a")])),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send() == ["start", "A", "A", "A"]
    assert chat.context == {}
    assert await chat.send() == ["start", "A", "A", "A"]


async def test_loops_across_messages_are_fine(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", say("again?"), receive=[], next=[("true", "entry")]))})
    chat = Chat(bot)
    for _ in range(6):
        assert await chat.send() == ["again?"]


async def test_condition_reference_error_stalls_the_turn_and_is_retried(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("Q"), receive=[set_var("temp", "seen", "yes")],
             next=[("event.preview === 'ok' || state.$r === 1", "b"), ("true", "c")]),
        node("b", say("B")),
        node("c", say("C")),
    )})
    chat = Chat(bot)
    assert await chat.send() == ["Q"]
    assert await chat.send("hello") == []  # ReferenceError: no reply, no error flow
    assert chat.errors[0]["type"] == "dialog-engine"
    assert chat.temp["seen"] == "yes"
    # The failing transition is retried with the next message (onReceive is not run again).
    assert await chat.send("ok") == ["B"]


async def test_a_missing_or_empty_condition_is_never_true(tmp_path: Path) -> None:
    """Botpress runs `return <condition>;`: nothing there returns undefined."""
    for transition in ({"node": "b"}, {"condition": "", "node": "b"}, {"condition": None, "node": "b"}):
        bot = make_bot(tmp_path / str(len(list(tmp_path.iterdir()))), flows={"main": flow(
            node("entry", say("Q"), next=[transition, ("true", "c")]),
            node("b", say("B")), node("c", say("C")),
        )})
        chat = Chat(bot)
        assert await chat.send() == ["Q", "C"], transition
        assert chat.errors == []


async def test_type_error_in_a_condition_is_just_false(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", next=[("temp.missing.deeper === 1", "b"), ("true", "c")]),
        node("b", say("B")), node("c", say("C")),
    )})
    assert await Chat(bot).send() == ["C"]


async def test_arrow_function_conditions(tmp_path: Path) -> None:
    """Bots test arrays with callbacks (`event.nlu.entities.some(e => …)`); a TypeError inside one is just
    false, a runaway recursion fails like any other error."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("Q"), receive=[],
             next=[("[1, 2].map(x => x.a.b).length", "b"),
                   ("event.preview === 'loop' && (f => f(f))(f => f(f))", "b"),
                   ("['hi', 'hello'].some(w => event.preview.toLowerCase().includes(w))", "c"),
                   ("true", "entry")]),
        node("b", say("B")), node("c", say("C")),
    )})
    chat = Chat(bot)
    assert await chat.send() == ["Q"]
    assert await chat.send("Oh HELLO") == ["C"]
    assert await Chat(bot).send("nothing") == ["Q"]
    looping = Chat(bot)
    assert await looping.send() == ["Q"]
    assert await looping.send("loop") == []  # RangeError: the turn stalls, as with a ReferenceError
    assert looping.errors[0]["type"] == "dialog-engine"


async def test_say_with_a_missing_content_element_stops_the_turn_without_crashing(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("before"), "say #!builtin_text-nope", say("after"), receive=[]),
    )})
    chat = Chat(bot)
    assert await chat.send() == ["before"]
    assert chat.errors[0]["type"] == "dialog-engine"
    # The failed `say` is retried with the next message; what follows it is never said out of order.
    assert await chat.send() == []
    assert chat.errors[0]["type"] == "dialog-engine"


async def test_action_with_invalid_json_arguments_stops_the_turn(tmp_path: Path) -> None:
    """Botpress parses the arguments outside the action's error handling: no error flow, no reply."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("before"), 'builtin/setVariable {"type": "temp",', say("after"))),
        "error": ERROR_FLOW,
    })
    chat = Chat(bot)
    assert await chat.send() == ["before"]
    assert chat.errors[0]["type"] == "dialog-engine"


async def test_a_failing_transition_without_error_flow_stops_the_turn_and_is_saved(tmp_path: Path) -> None:
    """Botpress catches the failed error-flow transition at the node that took the transition:
    the turn ends there, logged, and is saved, pointing at the missing node."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("ask", say("Q"), set_var("temp", "asked", "yes"), receive=[set_var("session", "seen", "1")],
             next=[("true", "gone")]),
    )})  # no error.flow.json at all
    chat = Chat(bot)
    assert await chat.send() == ["Q"]
    assert await chat.send("x") == []
    assert [e["type"] for e in chat.errors] == ["dialog-transition", "dialog-engine"]
    assert chat.last is not None and chat.last.persisted
    assert chat.context["currentNode"] == "gone" and "queue" not in chat.context
    assert chat.temp == {"asked": "yes"} and chat.session["seen"] == "1"


async def test_when_the_error_handler_fails_nothing_is_saved(tmp_path: Path) -> None:
    """A saved position on a node that does not exist fails before any node runs: the decision
    engine's error flow is missing too, so Botpress abandons the event without saving."""
    bot = make_bot(tmp_path, flows={"main": flow(node("ask", say("Q"), receive=[], next=[("true", "gone")]))})
    chat = Chat(bot)
    await chat.send()
    await chat.send("x")
    saved = dict(chat.session)
    for _ in range(2):  # stuck: every message fails the same way
        assert await chat.send("y") == []
        assert chat.last is not None and not chat.last.persisted
        assert chat.context["currentNode"] == "gone"
        assert chat.session == saved


async def test_when_the_error_handler_fails_a_forced_persist_still_saves(tmp_path: Path) -> None:
    """FORCE_PERSIST_STATE (set here by the slot hook for an NLU slot) saves the state as it is."""
    bot = make_bot(tmp_path, flows={"main": flow(node("ask", say("Q"), receive=[], next=[("true", "gone")]))})
    chat = Chat(bot)
    await chat.send()
    await chat.send("x")
    assert await chat.send("y", understand=nlu(("none", 1.0), slots={"city": {"name": "city", "value": "Paris"}})) == []
    assert chat.last is not None and chat.last.persisted
    assert chat.session["slots"]["city"]["value"] == "Paris"
    assert chat.context["currentNode"] == "gone"


async def test_a_failing_action_without_error_flow_stops_at_its_node(tmp_path: Path) -> None:
    """The action's node transitions to the missing error flow: caught there, the turn is saved
    with the dialog on that node (no queue), so the next message runs the node again."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("ask", say("Q"), receive=[], next=[("true", "act")]),
        node("act", set_var("temp", "t", "1"), say("working"), "boom", say("never")),
    )}, actions={"boom": RAISES})
    chat = Chat(bot)
    assert await chat.send() == ["Q"]
    assert await chat.send("x") == ["working"]
    assert chat.context["currentNode"] == "act" and "queue" not in chat.context
    assert chat.temp["t"] == "1" and chat.temp["before"] is True
    assert await chat.send("x") == ["working"]  # the node again, not ask's answer handling


async def test_events_the_dialog_engine_discards_run_no_flow_and_save_nothing(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", say("hello"), set_var("user", "seen", "1")))})
    chat = Chat(bot)
    for event_type in ("visit", "typing", "session_reset", "session_reference"):
        chat.last = await run_turn(bot, chat.memory, {"type": event_type}, user_id="u1")
        assert chat.last.responses == [] and chat.last.decision == {}
        assert not chat.last.persisted
    assert await chat.send() == ["hello"]
    assert chat.last is not None and chat.last.decision["source"] == "decisionEngine"


# ----------------------------------------------------------------------------------------- timeout

WAITING_MAIN = node("entry", say("Q"), set_var("temp", "t", "1"), set_var("session", "s", "S"), receive=[],
                    next=[("true", "entry")])


async def test_timeout_runs_the_timeout_node_of_the_current_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(WAITING_MAIN, node("timeout", say("You went quiet ({{temp.t}})"))),
        "timeout": flow(node("entry", say("timeout flow"))),
    })
    chat = Chat(bot)
    await chat.send()
    assert await chat.timeout() == ["You went quiet (1)"]
    assert chat.context == {} and chat.temp == {}
    assert chat.session["s"] == "S"
    assert await chat.send() == ["Q"]


async def test_timeout_falls_back_to_the_timeout_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(WAITING_MAIN), "timeout": flow(node("entry", say("timeout flow")))})
    chat = Chat(bot)
    await chat.send()
    assert await chat.timeout() == ["timeout flow"]
    assert chat.context == {} and chat.temp == {}


async def test_timeout_without_handler_forgets_the_position(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(WAITING_MAIN)})
    chat = Chat(bot)
    await chat.send()
    assert await chat.timeout() == []
    assert chat.context == {} and chat.temp == {}
    assert chat.session["s"] == "S"


async def test_timeout_node_that_waits_keeps_the_dialog(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        WAITING_MAIN,
        node("timeout", say("Still there?"), receive=[], next=[("true", "back")]),
        node("back", say("Welcome back {{temp.t}}")),
    )})
    chat = Chat(bot)
    await chat.send()
    assert await chat.timeout() == ["Still there?"]
    assert chat.context["currentNode"] == "timeout"
    assert await chat.send("yes") == ["Welcome back 1"]


async def test_timeout_inside_a_skill_does_not_use_the_parent_flows_timeout_node(tmp_path: Path) -> None:
    """Botpress's processTimeout looks in the current flow (the skill's) and timeout.flow.json only: with
    neither, nothing runs and the context is forgotten. parley ran the calling flow's `timeout` node (SPEC
    3.15 says so; a published bot's choice skill showed the source does not)."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("ask", type="skill-call", skill="x", flow="skills/x-1.flow.json", next=[("true", "END")]),
                     node("timeout", say("parent timeout"))),
        "skills/x-1": flow(node("q", say("skill question"), receive=[], next=[("true", "#")])),
    })
    chat = Chat(bot)
    assert await chat.send() == ["skill question"]
    assert await chat.timeout() == []
    assert chat.context == {}
    assert await chat.send() == ["skill question"]  # the next message starts main.flow.json again



async def test_timeout_keeps_what_the_bot_stored_in_the_context(tmp_path: Path) -> None:
    """Botpress enters the timeout handler like a jump: the context keeps its other keys and gains a
    jump point for where the conversation stood."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", "remember", say("Q"), receive=[], next=[("true", "entry")]),
        node("timeout", say("Still there?"), receive=[], next=[("true", "entry")]),
    )}, actions={"remember": """
        async def run(event):
            event["state"]["context"]["topic"] = "billing"
    """})
    chat = Chat(bot)
    await chat.send()
    assert await chat.timeout() == ["Still there?"]
    assert chat.context["topic"] == "billing"
    assert chat.context["currentNode"] == "timeout" and chat.context["previousNode"] == "entry"
    assert chat.context["jumpPoints"] == [{"flow": "main.flow.json", "node": "entry"}]


# -------------------------------------------------------------------------------------- memory


async def test_last_messages_are_capped_at_five(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", *(say(f"m{i}") for i in range(4))))})
    chat = Chat(bot)
    await chat.send("first")
    assert len(chat.session["lastMessages"]) == 4
    await chat.send("second")
    last = chat.session["lastMessages"]
    assert len(last) == 5
    assert [m["incomingPreview"] for m in last] == ["first", "second", "second", "second", "second"]
    assert all(m["replySource"] == "dialogManager" for m in last)


async def test_temp_lives_across_messages_until_the_dialog_ends(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("one", set_var("temp", "a", "{{event.preview}}"), receive=[], next=[("true", "two")]),
        node("two", say("a={{temp.a}} b={{event.preview}}")),
    )})
    chat = Chat(bot)
    await chat.send("x")
    assert await chat.send("y") == ["a=x b=y"]
    assert chat.temp == {}


# ------------------------------------------------------------------------------------ QnA, decision

QNA = {
    "hello": {"questions": {"en": ["hello"]}, "answers": {"en": ["Hello {{user.name}}!"]}, "action": "text",
              "redirectFlow": "", "redirectNode": "", "enabled": True},
    "goto": {"questions": {"en": ["book"]}, "answers": {"en": ["Let's book."]}, "action": "text_redirect",
             "redirectFlow": "booking", "redirectNode": "second", "enabled": True},
    "off": {"questions": {"en": ["off"]}, "answers": {"en": ["disabled answer"]}, "action": "text",
            "enabled": False},
}


def _qna_bot(tmp_path: Path) -> Bot:
    return make_bot(tmp_path, flows={
        "main": flow(node("entry", say("Main flow"), receive=[], next=[("true", "END")])),
        "booking": flow(node("first", say("first")), node("second", say("When?"), receive=[])),
    }, qna=QNA)


async def test_qna_answer_is_sent_with_collect_feedback_and_the_flow_does_not_run(tmp_path: Path) -> None:
    chat = Chat(_qna_bot(tmp_path), understand=nlu(("__qna__hello", 0.9), ("none", 0.1)))
    chat.memory.user["name"] = "Ann"
    await chat.send("hello")
    assert chat.last is not None
    assert chat.last.responses == [
        {"type": "text", "collectFeedback": True, "text": "Hello Ann!", "typing": True, "markdown": True}
    ]
    assert chat.last.decision["sourceDetails"] == "__qna__hello"
    assert chat.last.decision["decision"] == {"status": "elected", "reason": "best remaining suggestion available"}
    assert chat.context == {}
    assert chat.session["lastMessages"][-1]["replySource"] == "qna __qna__hello"


async def test_qna_answer_from_a_content_element_asks_for_feedback_too(tmp_path: Path) -> None:
    """Botpress renders a `#!element` answer with the QnA arguments, `collectFeedback` among them."""
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", say("Main flow")))}, qna={
        "card": {"questions": {"en": ["hours"]}, "answers": {"en": ["#!builtin_text-hours"]}, "action": "text",
                 "enabled": True},
    }, content={"builtin_text": [text_element("builtin_text-hours", "Open 9 to 5", typing=True)]})
    chat = Chat(bot, understand=nlu(("__qna__card", 0.9)))
    await chat.send("hours")
    assert chat.last is not None
    assert chat.last.responses == [{"type": "text", "collectFeedback": True, "text": "Open 9 to 5", "typing": True}]


async def test_qna_answer_templates_see_the_user_and_session_but_not_bot_variables(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node("entry"))}, qna={
        "hi": {"questions": {"en": ["hi"]}, "answers": {"en": ["Hi {{user.name}} [{{bot.motd}}]"]},
               "action": "text", "enabled": True},
    })
    chat = Chat(bot, understand=nlu(("__qna__hi", 0.9)))
    chat.memory.user["name"] = "Ann"
    chat.memory.bot_kv["global"] = {"motd": "hello all"}
    assert await chat.send("hi") == ["Hi Ann []"]


async def test_qna_is_not_elected_in_the_middle_of_a_flow(tmp_path: Path) -> None:
    chat = Chat(_qna_bot(tmp_path))
    assert await chat.send("start") == ["Main flow"]
    assert await chat.send("hello", understand=nlu(("__qna__hello", 0.9))) == []
    assert chat.last is not None
    assert chat.last.suggestions[0]["decision"] == {
        "status": "dropped", "reason": "would have been elected, but already in the middle of a flow"}
    assert chat.last.decision["source"] == "decisionEngine"
    assert chat.context == {}  # the flow went on (to END) instead


async def test_low_confidence_qna_is_dropped(tmp_path: Path) -> None:
    chat = Chat(_qna_bot(tmp_path), understand=nlu(("__qna__hello", 0.4)))
    assert await chat.send("hello") == ["Main flow"]
    assert chat.last is not None
    assert chat.last.suggestions[0]["decision"] == {"status": "dropped", "reason": "confidence lower than 0.5"}


async def test_only_the_best_qna_is_elected(tmp_path: Path) -> None:
    chat = Chat(_qna_bot(tmp_path), understand=nlu(("__qna__goto", 0.6), ("__qna__hello", 0.7)))
    assert await chat.send("hello") == ["Hello !"]
    assert chat.last is not None
    by_name = {s["sourceDetails"]: s["decision"] for s in chat.last.suggestions}
    assert by_name["__qna__goto"] == {"status": "dropped", "reason": "best suggestion already elected"}


async def test_disabled_qna_is_not_suggested(tmp_path: Path) -> None:
    chat = Chat(_qna_bot(tmp_path), understand=nlu(("__qna__off", 0.9)))
    assert await chat.send("off") == ["Main flow"]
    assert chat.last is not None and chat.last.suggestions == []


async def test_redirect_qna_answers_then_jumps_to_the_flow_node(tmp_path: Path) -> None:
    chat = Chat(_qna_bot(tmp_path), understand=nlu(("__qna__goto", 0.9)))
    assert await chat.send("book") == ["Let's book.", "When?"]
    assert chat.context["currentFlow"] == "booking.flow.json"
    assert chat.context["currentNode"] == "second"


async def test_qna_answer_in_the_users_language(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, config={"languages": ["en", "fr"]}, flows={"main": flow(node("entry"))}, qna={
        "hi": {"questions": {"en": ["hi"], "fr": ["salut"]}, "answers": {"en": ["Hi"], "fr": ["Salut"]},
               "action": "text", "enabled": True},
        "only_en": {"questions": {"en": ["x"]}, "answers": {"en": ["English only"]}, "action": "text",
                    "enabled": True},
    })
    chat = Chat(bot, understand=nlu(("__qna__hi", 0.9)))
    chat.memory.user["language"] = "fr"
    assert await chat.send("salut") == ["Salut"]
    assert await chat.send("x", understand=nlu(("__qna__only_en", 0.9))) == ["English only"]


async def test_a_qna_element_answer_is_rendered_in_the_users_language(tmp_path: Path) -> None:
    """The answer list falls back to the default language, but the element it names is translated like
    any other: into the user's language (Botpress's renderElement). It came out in English."""
    bot = make_bot(tmp_path, config={"languages": ["en", "fr"]}, flows={"main": flow(node("entry"))}, qna={
        "sorry": {"questions": {"en": ["mars weather"], "fr": ["météo sur mars"]},
                  "answers": {"en": ["#!builtin_text-sorry"]}, "action": "text", "enabled": True},
    }, content={"builtin_text": [{"id": "builtin_text-sorry",
                                  "formData": {"text$en": "Sorry", "text$fr": "Désolé"}}]})
    chat = Chat(bot, understand=nlu(("__qna__sorry", 0.9)))
    chat.memory.user["language"] = "fr"
    assert await chat.send("mars weather") == ["Désolé"]


async def test_a_qna_with_an_empty_answer_list_sends_a_text_without_text(tmp_path: Path) -> None:
    """Botpress picks nothing from an empty list and renders builtin_text anyway; a blank answer is
    sent as it is. parley sent nothing for both."""
    bot = make_bot(tmp_path, flows={"main": flow(node("entry", say("Main flow")))}, qna={
        "empty": {"questions": {"en": ["secret"]}, "answers": {"en": []}, "action": "text", "enabled": True},
        "blank": {"questions": {"en": ["nothing"]}, "answers": {"en": ["   "]}, "action": "text", "enabled": True},
    })
    chat = Chat(bot, understand=nlu(("__qna__empty", 0.9)))
    await chat.send("secret")
    assert chat.last is not None
    assert chat.last.responses == [{"type": "text", "collectFeedback": True, "typing": True, "markdown": True}]
    assert await chat.send("nothing", understand=nlu(("__qna__blank", 0.9))) == ["   "]


async def test_last_messages_leave_out_a_preview_botpress_has_not(tmp_path: Path) -> None:
    """A redirect-only QnA has no text payload to preview: Botpress's entry has no `replyPreview` key
    (undefined), where parley wrote null."""
    qna = {"go": {"questions": {"en": ["go"]}, "answers": {"en": []}, "action": "redirect",
                  "redirectFlow": "booking", "redirectNode": "second", "enabled": True}}
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("Main flow"), receive=[], next=[("true", "END")])),
        "booking": flow(node("first", say("first")), node("second", say("When?"), receive=[])),
    }, qna=qna)
    chat = Chat(bot, understand=nlu(("__qna__go", 0.9)))
    assert await chat.send("go") == ["When?"]
    entry = next(m for m in chat.session["lastMessages"] if m["replySource"] == "qna __qna__go")
    assert "replyPreview" not in entry and entry["incomingPreview"] == "go"


# -------------------------------------------------------------------------------------- options


async def test_action_timeout_runs_the_error_flow(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", "slow", say("after"))),
        "error": ERROR_FLOW,
    }, actions={"slow": """
        import asyncio

        async def run(temp):
            await asyncio.sleep(5)
            temp["done"] = True
    """})
    chat = Chat(bot, options=EngineOptions(action_timeout=0.2))
    assert await chat.send() == ["Oops, error"]
    assert "timed out" in chat.errors[0]["message"]
    assert "done" not in chat.temp


# ------------------------------------------------------------------------------ context details


async def test_context_after_a_transition_in_the_main_flow(tmp_path: Path) -> None:
    """What the secured route shows as `state.context`: no jump points when no flow was entered."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("A"), next=[("true", "b")]), node("b", say("B"), receive=[]))})
    chat = Chat(bot)
    await chat.send()
    assert chat.context == {"currentFlow": "main.flow.json", "currentNode": "b", "previousNode": "entry",
                            "queue": {"instructions": []}}


async def test_last_node_condition_looks_at_the_previous_node_of_this_message(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", next=[("event.preview === 'wait'", "waiting"), ("true", "a")]),
        node("a", next=[("true", "check")]),
        node("waiting", next=[("true", "check")], receive=[]),
        node("check", next=[("lastNode=a", "from-a"), ("lastNode=waiting", "from-waiting"), ("true", "unknown")]),
        node("from-a", say("came from a")),
        node("from-waiting", say("came from waiting")),
        node("unknown", say("unknown")),
    )})
    assert await Chat(bot).send("go") == ["came from a"]
    chat = Chat(bot)
    assert await chat.send("wait") == []
    # The stack trace is per message: after waiting, `check` is the only entry, so neither matches.
    assert await chat.send("now") == ["unknown"]


async def test_say_something_content_comes_after_on_receive(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(node(
        "entry", say("enter"), receive=[say("received")], type="say_something",
        content={"contentType": "builtin_text", "formData": {"text$en": "content"}},
    ))})
    chat = Chat(bot)
    assert await chat.send() == ["enter"]
    assert await chat.send() == ["received", "content"]


async def test_no_repeat_policy_drops_the_same_qna_within_the_window(tmp_path: Path) -> None:
    chat = Chat(_qna_bot(tmp_path), understand=nlu(("__qna__hello", 0.9)),
                options=EngineOptions(no_repeat_policy=True))
    assert await chat.send("hello") == ["Hello !"]
    assert await chat.send("hello") == ["Main flow"]
    assert chat.last is not None
    assert chat.last.suggestions[0]["decision"] == {
        "status": "dropped", "reason": "bot would repeat itself (within 20000ms)"}


async def test_the_decision_engine_thresholds_come_from_botpress_environment_variables(tmp_path: Path) -> None:
    """BP_DECISION_MIN_CONFIENCE (spelt so in Botpress) and BP_DECISION_MIN_NO_REPEAT were ignored."""
    from parley.settings import Settings

    settings = Settings.from_env(tmp_path, env={"BP_DECISION_MIN_CONFIENCE": "0.95",
                                                "BP_DECISION_MIN_NO_REPEAT": "2s"})
    assert (settings.decision_min_confidence, settings.decision_no_repeat_seconds) == (0.95, 2.0)
    assert Settings.from_env(tmp_path, env={"BP_DECISION_MIN_NO_REPEAT": "1500"}).decision_no_repeat_seconds == 1.5
    chat = Chat(_qna_bot(tmp_path), understand=nlu(("__qna__hello", 0.9)),
                options=EngineOptions(min_confidence=settings.decision_min_confidence))
    assert await chat.send("hello") == ["Main flow"]
    assert chat.last is not None
    assert chat.last.suggestions[0]["decision"] == {"status": "dropped", "reason": "confidence lower than 0.95"}


async def test_timeout_without_a_conversation_says_nothing(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={"main": flow(WAITING_MAIN), "timeout": flow(node("entry", say("timeout flow")))})
    chat = Chat(bot)
    assert await chat.timeout() == []
    assert chat.context == {}


async def test_timeout_flow_ending_does_not_run_conversation_end(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, flows={
        "main": flow(WAITING_MAIN),
        "timeout": flow(node("entry", say("timed out"))),
        "conversation_end": flow(node("entry", say("goodbye"))),
    })
    chat = Chat(bot)
    await chat.send()
    assert await chat.timeout() == ["timed out"]
    assert chat.context == {} and chat.temp == {}


def test_json_copy_is_deep_and_falls_back_for_python_objects() -> None:
    from parley.engine.state import json_copy

    memory = {"a": {"b": [1, 2.5, "x", None, True]}}
    copied = json_copy(memory)
    assert copied == memory
    copied["a"]["b"].append(3)
    assert memory == {"a": {"b": [1, 2.5, "x", None, True]}}
    marker = object()
    odd = {"when": {1, 2}, "who": marker}  # a set and an object: JSON holds neither
    copied_odd = json_copy(odd)
    assert copied_odd == {"when": {1, 2}, "who": copied_odd["who"]} and copied_odd["when"] is not odd["when"]


# ------------------------------------------------------------- read against Botpress's dialog engine


async def test_a_subflow_start_node_sees_the_caller_as_last_node_minus_one(tmp_path: Path) -> None:
    """Botpress's _goToSubflow pushes no frame: at the subflow's start node, `lastNode=` compares with
    the frame before the skill-call node. parley pushed the subflow's start too."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("entry"), next=[("true", "call")]),
                     node("call", type="skill-call", skill="x", flow="sub.flow.json", next=[("true", "END")])),
        "sub": flow(node("s1", next=[("lastNode=call", "yes"), ("true", "no")]),
                    node("yes", say("lastNode was call")), node("no", say("lastNode was not call"))),
    })
    assert await Chat(bot).send() == ["entry", "lastNode was not call"]


async def test_a_transition_to_a_missing_node_of_another_flow_leaves_the_context_for_the_error_flow(
        tmp_path: Path) -> None:
    """Botpress finds the node before it changes the context: the error flow starts from where the
    conversation was (parley had already moved it into the other flow, at the missing node)."""
    bot = make_bot(tmp_path, flows={
        "main": flow(node("entry", say("a"), next=[("true", "other.flow.json#nope")])),
        "other": flow(node("s", say("s"))),
        "error": flow(node("entry", say("err {{event.state.context.previousFlow}}/"
                                        "{{event.state.context.previousNode}}"), receive=[])),
    })
    chat = Chat(bot)
    assert await chat.send() == ["a", "err main.flow.json/entry"]
    assert chat.context["jumpPoints"] == [{"flow": "main.flow.json", "node": "entry"}]


async def test_a_timeout_in_a_flow_that_no_longer_exists_runs_nothing(tmp_path: Path) -> None:
    """Botpress's processTimeout cannot find the current flow (renamed by a new version of the bot) and
    throws; the janitor resets the context. parley ran timeout.flow.json."""
    bot = make_bot(tmp_path, flows={"main": flow(WAITING_MAIN), "timeout": flow(node("entry", say("timeout flow")))})
    chat = Chat(bot)
    await chat.send()
    chat.memory.context["currentFlow"] = "gone.flow.json"
    assert await chat.timeout() == []
    assert chat.context == {}


async def test_a_timeout_node_that_asks_again_stops_after_five_timeouts_in_a_row(tmp_path: Path) -> None:
    """Botpress's janitor treats five timeouts with no message after them as an infinite loop: the
    context is reset and nothing more is sent. parley re-prompted every timeoutInterval for ever."""
    bot = make_bot(tmp_path, flows={"main": flow(
        node("entry", say("hello"), receive=[], next=[("true", "entry")]),
        node("timeout", say("Still there?"), receive=[], next=[("true", "entry")]),
    )})
    chat = Chat(bot)
    assert await chat.send() == ["hello"]
    for _ in range(5):
        assert await chat.timeout() == ["Still there?"]
    assert await chat.timeout() == []
    assert chat.context == {}
    assert await chat.send() == ["hello"]  # a message starts again, and counts afresh
    assert await chat.timeout() == ["Still there?"]
