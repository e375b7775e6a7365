"""Pins parley's Mustache rendering to mustache.js 4.2 behaviour as Botpress v12 bots rely on it.

Expected strings were checked against mustache.js 4.2.0 where the behaviours coincide; the places
where parley deliberately differs (single rendering pass, malformed templates) are tested as such.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from parley.engine import templating
from parley.engine.templating import has_template, render, render_data


class _Undefined:
    """Stand-in for the JS-undefined sentinel, recognised by class name only."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _Undefined()


class FrozenView(Mapping[str, Any]):
    """A view that is a Mapping but not a dict, as other modules may pass."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class ItemsOnly:
    """Exposes only __getitem__, like lightweight state wrappers."""

    def __getitem__(self, key: str) -> Any:
        if key == "name":
            return "wrapped"
        raise KeyError(key)


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("'", "&#39;"),
        ("/", "&#x2F;"),
        ("`", "&#x60;"),
        ("=", "&#x3D;"),
    ],
)
def test_escape_table_matches_mustache_js(char: str, escaped: str) -> None:
    assert render("{{x}}", {"x": f"a{char}b"}) == f"a{escaped}b"


def test_escape_all_characters_together_in_order() -> None:
    assert render("{{x}}", {"x": "<a href=\"/x?a=1&b='2'\">`</a>"}) == (
        "&lt;a href&#x3D;&quot;&#x2F;x?a&#x3D;1&amp;b&#x3D;&#39;2&#39;&quot;&gt;&#x60;&lt;&#x2F;a&gt;"
    )


def test_characters_outside_the_table_are_not_escaped() -> None:
    assert render("{{x}}", {"x": "a+b-c%d#e!f?g{h}i\\j"}) == "a+b-c%d#e!f?g{h}i\\j"


def test_template_text_itself_is_never_escaped() -> None:
    assert render("<b>{{x}}</b> & 'q'", {"x": "y"}) == "<b>y</b> & 'q'"


@pytest.mark.parametrize("template", ["{{{x}}}", "{{&x}}", "{{& x}}", "{{{ x }}}"])
def test_raw_tags_do_not_escape(template: str) -> None:
    assert render(template, {"x": "<b>&'\"/`=</b>"}) == "<b>&'\"/`=</b>"


def test_escaping_applies_to_stringified_lists() -> None:
    assert render("{{x}}", {"x": ["<a>", "b&c"]}) == "&lt;a&gt;,b&amp;c"


# --------------------------------------------------------------------------- missing values


@pytest.mark.parametrize(
    "template",
    [
        "{{missing}}",
        "{{{missing}}}",
        "{{a.missing}}",
        "{{a.b.c.d}}",
        "{{missing.deep.path}}",
        "{{list.5}}",
        "{{list.-1}}",
        "{{list.01}}",
        "{{list." + "9" * 5000 + "}}",
        "{{s." + "9" * 5000 + "}}",
        "{{n.x}}",
        "{{s.x}}",
        "{{nul.x}}",
        "{{undef}}",
        "{{undef.x}}",
        "{{}}",
    ],
)
def test_missing_values_render_empty(template: str) -> None:
    view = {"a": {"b": 1}, "list": [1, 2], "n": 3, "s": "str", "nul": None, "undef": UNDEFINED}
    assert render(f"[{template}]", view) == "[]"


def test_constructor_and_prototype_names_are_not_visible() -> None:
    assert render("{{a.toString}}{{a.constructor}}{{a.__class__}}{{a.keys}}", {"a": {}}) == ""


# --------------------------------------------------------------------------- JavaScript String()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (UNDEFINED, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (3, "3"),
        (-7, "-7"),
        (3.0, "3"),
        (1.5, "1.5"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e16, "10000000000000000"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (123e-20, "1.23e-18"),
        (2**60, "1152921504606847000"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        ("", ""),
        ("text", "text"),
        ([], ""),
        ([1, "a", True], "1,a,true"),
        ([None, 1, None], ",1,"),
        ([UNDEFINED, 2], ",2"),
        ([1, [2, [3, 4]], []], "1,2,3,4,"),
        ([1.0, 2.5], "1,2.5"),
        ({}, "[object Object]"),
        ({"a": 1}, "[object Object]"),
        ([{"a": 1}, {"b": 2}], "[object Object],[object Object]"),
        (FrozenView({"a": 1}), "[object Object]"),
    ],
)
def test_values_are_stringified_like_javascript(value: Any, expected: str) -> None:
    assert render("{{{x}}}", {"x": value}) == expected
    assert render("{{x}}", {"x": value}) == expected


def test_cyclic_list_does_not_recurse_forever() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    assert render("{{x}}", {"x": cyclic}) == "1,"


# --------------------------------------------------------------------------- lookups


def test_dotted_paths_in_nested_dicts() -> None:
    view = {"user": {"profile": {"first": "Ada"}}}
    assert render("Hi {{user.profile.first}}!", view) == "Hi Ada!"


def test_list_indices_in_dotted_paths() -> None:
    view = {"temp": {"items": [{"name": "first"}, {"name": "second"}], "grid": [[1, 2], [3, 4]]}}
    assert render("{{temp.items.0.name}}/{{temp.items.1.name}}", view) == "first/second"
    assert render("{{temp.grid.1.0}}", view) == "3"


def test_length_of_lists_and_strings_like_javascript() -> None:
    view = {"items": [1, 2, 3], "text": "héllo", "emoji": "a😀"}
    # JavaScript counts UTF-16 code units, so the emoji is two.
    assert render("{{items.length}} {{text.length}} {{emoji.length}}", view) == "3 5 3"
    assert render("{{text.1}}", view) == "é"


def test_dollar_keys() -> None:
    view = {"temp": {"$r": "result", "$nested": {"$x": 1}}, "$root": "top"}
    assert render("{{temp.$r}} {{temp.$nested.$x}} {{$root}}", view) == "result 1 top"


def test_keys_with_other_punctuation() -> None:
    view = {"a-b": 1, "a b": 2, "é": 3, ".lead": 4}
    assert render("{{a-b}} {{ a b }} {{é}} {{.lead}}", view) == "1 2 3 4"


def test_whitespace_inside_tags_is_ignored() -> None:
    assert render("{{ user.name }}|{{{  user.name  }}}|{{&  user.name}}", {"user": {"name": "x"}}) == "x|x|x"


def test_null_intermediate_renders_empty() -> None:
    assert render("[{{a.b.c}}]", {"a": {"b": None}}) == "[]"


def test_present_null_value_renders_empty() -> None:
    assert render("[{{a}}]", {"a": None}) == "[]"


def test_mapping_views_and_values() -> None:
    view = FrozenView({"user": FrozenView({"name": "Ada"}), "w": ItemsOnly()})
    assert render("{{user.name}} {{w.name}} [{{w.other}}] [{{user.other}}]", view) == "Ada wrapped [] []"


def test_mapping_pushed_on_the_context_stack() -> None:
    view = {"users": [FrozenView({"name": "Ada"}), ItemsOnly()], "name": "outer"}
    assert render("{{#users}}{{name}};{{/users}}", view) == "Ada;wrapped;"


def test_undefined_sentinel_behaves_as_missing() -> None:
    view = {"a": UNDEFINED, "b": {"c": UNDEFINED}}
    assert render("[{{a}}{{b.c}}{{{a}}}{{a.x}}]", view) == "[]"
    assert render("{{#a}}yes{{/a}}{{^a}}no{{/a}}", view) == "no"


# --------------------------------------------------------------------------- unicode


def test_unicode_and_emoji_pass_through() -> None:
    view = {"name": "Zoë 😀", "jp": "日本語", "flag": "🇫🇷"}
    assert render("👋 {{name}} — {{jp}} {{flag}} ✓", view) == "👋 Zoë 😀 — 日本語 🇫🇷 ✓"


def test_unicode_keys_and_section_names() -> None:
    view = {"élèves": [{"nom": "Zoé"}, {"nom": "Léa"}]}
    assert render("{{#élèves}}{{nom}},{{/élèves}}", view) == "Zoé,Léa,"


# --------------------------------------------------------------------------- single rendering pass


def test_value_containing_a_template_is_not_rendered_again() -> None:
    view = {"user": {"nickname": "{{user.secret}}", "secret": "s3cr3t"}}
    assert render("Hi {{user.nickname}}", view) == "Hi {{user.secret}}"
    assert render("Hi {{{user.nickname}}}", view) == "Hi {{user.secret}}"


def test_values_are_escaped_exactly_once() -> None:
    view = {"x": "<b>&amp;</b>"}
    assert render("{{x}}", view) == "&lt;b&gt;&amp;amp;&lt;&#x2F;b&gt;"
    assert render("{{{x}}}", view) == "<b>&amp;</b>"


def test_rendered_value_with_template_syntax_in_section() -> None:
    view = {"items": [{"t": "{{#items}}boom{{/items}}"}]}
    assert render("{{#items}}{{{t}}}{{/items}}", view) == "{{#items}}boom{{/items}}"


# --------------------------------------------------------------------------- sections


def test_section_iterates_list_with_item_on_context_stack() -> None:
    view = {"temp": {"items": [{"name": "a"}, {"name": "b"}]}}
    assert render("{{#temp.items}}- {{name}}\n{{/temp.items}}", view) == "- a\n- b\n"


def test_dot_is_the_current_item() -> None:
    assert render("{{#xs}}<{{.}}>{{/xs}}", {"xs": ["a", 1, 2.0, True, None]}) == "<a><1><2><true><>"
    assert render("{{#xs}}{{.}}{{/xs}}", {"xs": ["<&>"]}) == "&lt;&amp;&gt;"
    assert render("{{#xs}}{{{.}}}{{/xs}}", {"xs": ["<&>"]}) == "<&>"


def test_outer_names_are_visible_inside_sections() -> None:
    view = {"greeting": "hi", "people": [{"name": "a"}, {"name": "b", "greeting": "yo"}]}
    assert render("{{#people}}{{greeting}} {{name}};{{/people}}", view) == "hi a;yo b;"


def test_dotted_name_falls_back_to_outer_frame_when_path_misses() -> None:
    # mustache.js resolves the full path in each frame before moving outwards.
    view = {"x": {"a": {}}, "a": {"b": "outer"}}
    assert render("{{#x}}{{a.b}}{{/x}}", view) == "outer"


def test_truthy_object_renders_once_with_its_context() -> None:
    view = {"user": {"name": "Ada"}, "name": "outer"}
    assert render("{{#user}}[{{name}}]{{/user}}", view) == "[Ada]"


@pytest.mark.parametrize("value", [True, 1, -1, 0.5, "s", {}, {"a": 1}, [0], [None], FrozenView({})])
def test_truthy_values_render_the_section(value: Any) -> None:
    assert render("{{#x}}yes{{/x}}{{^x}}no{{/x}}", {"x": value}).startswith("yes")


@pytest.mark.parametrize("value", [None, False, 0, 0.0, -0.0, float("nan"), "", [], UNDEFINED])
def test_falsy_values_skip_the_section_and_render_inverted(value: Any) -> None:
    assert render("{{#x}}yes{{/x}}{{^x}}no{{/x}}", {"x": value}) == "no"


def test_missing_section_name_is_falsy() -> None:
    assert render("{{#x}}yes{{/x}}{{^x}}no{{/x}}", {}) == "no"


def test_empty_object_is_truthy_like_javascript() -> None:
    assert render("{{#x}}yes{{/x}}{{^x}}no{{/x}}", {"x": {}}) == "yes"


def test_primitive_section_value_is_pushed_for_dot() -> None:
    assert render("{{#n}}[{{.}}|{{name}}]{{/n}}", {"n": 42, "name": "outer"}) == "[42|outer]"
    assert render("{{#s}}{{.}}:{{length}}{{/s}}", {"s": "abc", "length": "outer"}) == "abc:outer"


def test_true_keeps_the_current_context() -> None:
    assert render("{{#flag}}{{name}}{{/flag}}", {"flag": True, "name": "Ada"}) == "Ada"


def test_nested_sections() -> None:
    view = {"groups": [{"g": "A", "xs": [1, 2]}, {"g": "B", "xs": []}]}
    template = "{{#groups}}{{g}}:{{#xs}}{{.}}{{/xs}}{{^xs}}none{{/xs}};{{/groups}}"
    assert render(template, view) == "A:12;B:none;"


def test_nested_lists_with_dot() -> None:
    assert render("{{#m}}[{{#.}}{{.}}{{/.}}]{{/m}}", {"m": [[1, 2], [3]]}) == "[12][3]"


def test_null_list_element_falls_back_to_outer_frames() -> None:
    # mustache.js throws here; rendering against outer frames is the useful best effort.
    assert render("{{#xs}}<{{name}}>{{/xs}}", {"xs": [None, {"name": "b"}], "name": "o"}) == "<o><b>"


def test_standalone_section_lines_are_removed_like_mustache_js() -> None:
    template = "List:\n{{#xs}}\n  - {{.}}\n{{/xs}}\n{{^xs}}\n  empty\n{{/xs}}\nend"
    assert render(template, {"xs": ["a", "b"]}) == "List:\n  - a\n  - b\nend"
    assert render(template, {"xs": []}) == "List:\n  empty\nend"


def test_lines_with_variables_keep_their_whitespace() -> None:
    assert render("  {{a}}  \n", {"a": ""}) == "    \n"


def test_comments_render_nothing() -> None:
    assert render("a{{! a comment with {{braces }}b", {}) == "ab"
    assert render("a{{! comment }}b\n  {{! standalone }}\nc", {}) == "ab\nc"


def test_set_delimiters() -> None:
    assert render("{{=<% %>=}}<% a %> {{a}} <%={{ }}=%>{{a}}", {"a": "x"}) == "x {{a}} x"


def test_partials_render_nothing() -> None:
    assert render("a{{> partial}}b", {"partial": "p"}) == "ab"


# --------------------------------------------------------------------------- malformed templates


@pytest.mark.parametrize(
    "template",
    [
        "{{",
        "{{a",
        "{{{a}}",
        "{{{a",
        "{{#a}}",
        "{{#a}}{{/b}}",
        "{{/a}}",
        "{{#a}}{{#b}}{{/a}}{{/b}}",
        "{{^a}}x",
        "{{=}}",
        "{{=<%=}}",
        "{{= =}}",
        "Hello {{user.name}}, {{#oops}} text",
        "{{!unclosed comment",
        "}}{{",
        "{{{{a}}",
    ],
)
def test_malformed_templates_are_returned_unchanged(template: str) -> None:
    assert render(template, {"a": [1], "b": True, "user": {"name": "x"}}) == template


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("}}", "}}"),
        ("{{}}", ""),
        ("{ {a} }", "{ {a} }"),
        ("{{a}}}", "1}"),
        ("{{{a}}}}", "1}"),
    ],
)
def test_odd_but_wellformed_templates(template: str, expected: str) -> None:
    assert render(template, {"a": 1, "{a": 1}) == expected


def test_fuzzed_templates_never_raise() -> None:
    rng = random.Random(1234)
    alphabet = ["{{", "}}", "{", "}", "#", "^", "/", "&", "!", ">", "=", "a", ".", " ", "\n", "<%", "%>"]
    alphabet.append("😀")
    view: dict[str, Any] = {"a": [{"a": {"a": 1}}, None, "x"], "": 1, ".": 2}
    for _ in range(3000):
        template = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        result = render(template, view)
        assert isinstance(result, str)


def test_deeply_nested_template_never_raises() -> None:
    nested: dict[str, Any] = {}
    nested["a"] = nested  # every level finds a truthy object
    assert render("{{#a}}" * 100 + "x" + "{{/a}}" * 100, nested) == "x"
    # Deeper than MAX_NESTING the text comes back unchanged, the same compiled as in Python. Compiled,
    # a template of 100,000 nested sections took the process down (C stack) before the limit.
    for depth in (101, 5000, 100_000):
        template = "{{#a}}" * depth + "x" + "{{/a}}" * depth
        assert render(template, nested) == template
        assert render("{{^b}}" * depth + "x" + "{{/b}}" * depth, {}) == "{{^b}}" * depth + "x" + "{{/b}}" * depth


# --------------------------------------------------------------------------- has_template / fast path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{a}}", True),
        ("x {{ a }} y", True),
        ("{{}}", True),
        ("{{{a}}}", True),
        ("", False),
        ("plain", False),
        ("{{a", False),
        ("a}}", False),
        ("}} {{", False),
        ("{ {a} }", False),
        ("}}{{a}}", True),
    ],
)
def test_has_template(text: str, expected: bool) -> None:
    assert has_template(text) is expected


def test_strings_without_tags_are_returned_without_parsing() -> None:
    text = "".join(["no", " tags ", "here } {"])
    before = templating._compile.cache_info()
    assert render(text, {}) is text
    after = templating._compile.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)


def test_templates_are_compiled_once() -> None:
    template = "cache probe {{a}} " + str(random.random())
    render(template, {"a": 1})
    before = templating._compile.cache_info()
    assert render(template, {"a": 2}) == template.replace("{{a}}", "2")
    after = templating._compile.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)


def test_long_templates_with_many_tags() -> None:
    template = "".join(f"{{{{v{i}}}}}," for i in range(200))
    view = {f"v{i}": i for i in range(200)}
    assert render(template, view) == "".join(f"{i}," for i in range(200))


def test_template_text_with_python_syntax_is_inert() -> None:
    template = "')\n__import__('os').system('x') {{a}} \"\"\" {p0} %s \\"
    assert render(template, {"a": "ok"}) == template.replace("{{a}}", "ok")


# --------------------------------------------------------------------------- render_data


def test_render_data_recurses_into_dicts_and_lists() -> None:
    view = {"user": {"name": "Ada"}, "n": 2}
    data = {
        "type": "builtin_single-choice",
        "text": "Hi {{user.name}}",
        "choices": [{"title": "{{n}} items", "value": "x"}, "{{{user.name}}}"],
        "typing": True,
        "delay": 500,
        "nothing": None,
        "nested": [[["{{n}}"]]],
        "pair": ("{{n}}", 3),
    }
    assert render_data(data, view) == {
        "type": "builtin_single-choice",
        "text": "Hi Ada",
        "choices": [{"title": "2 items", "value": "x"}, "Ada"],
        "typing": True,
        "delay": 500,
        "nothing": None,
        "nested": [[["2"]]],
        "pair": ("2", 3),
    }


def test_render_data_does_not_mutate_input_and_returns_new_containers() -> None:
    data: dict[str, Any] = {"a": ["{{x}}", {"b": "{{x}}"}], "c": {"d": 1}}
    original = copy.deepcopy(data)
    result = render_data(data, {"x": "y"})
    assert data == original
    assert result == {"a": ["y", {"b": "y"}], "c": {"d": 1}}
    assert result is not data
    assert result["a"] is not data["a"]
    assert result["a"][1] is not data["a"][1]
    assert result["c"] is not data["c"]


def test_render_data_keys_are_not_rendered() -> None:
    assert render_data({"{{x}}": "{{x}}"}, {"x": "y"}) == {"{{x}}": "y"}


@pytest.mark.parametrize("value", [None, True, 3, 1.5, "plain", UNDEFINED])
def test_render_data_leaves_scalars_untouched(value: Any) -> None:
    assert render_data(value, {"x": 1}) is value


def test_render_data_top_level_string() -> None:
    assert render_data("{{x}}!", {"x": "<y>"}) == "&lt;y&gt;!"


def test_surrogate_halves_are_joined_and_a_lone_one_cannot_break_an_answer() -> None:
    """`{{s.0}}{{s.1}}` on an emoji gives its two UTF-16 halves, which JavaScript's string joins back into
    the emoji (parley kept two lone surrogates, which no JSON answer can carry: orjson refuses them).
    A half alone becomes U+FFFD."""
    import orjson

    assert render("{{s.0}}{{s.1}}", {"s": "😀"}) == "😀"
    alone = render("[{{s.0}}]", {"s": "😀"})
    assert alone == "[\ufffd]"
    orjson.dumps(alone)
