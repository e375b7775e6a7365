"""Mustache rendering with the observable behaviour of mustache.js 4.2, as Botpress v12 uses it.

Content elements, action arguments and QnA answers are all rendered through this module on every
message, so the output has to match what a Botpress bot author sees, and rendering has to be cheap.

Why not ``pystache``: it is a faithful implementation of the Mustache *spec*, and Botpress bots depend
on places where mustache.js departs from the spec or from Python, which no ``Renderer`` option changes:

* list indices in dotted names (``{{temp.items.0.name}}``) resolve to nothing, because only ``dict``
  subclasses are treated as hashes and built-in types are never searched for attributes;
* a dotted name whose later segment is missing in the innermost frame does not fall back to outer
  frames, whereas mustache.js walks the full path in each frame before moving outwards;
* truthiness is Python's (``{}`` skips a section), not JavaScript's (``{}`` is truthy, ``0``/``""``
  are falsy, ``[]`` is truthy but iterates nothing);
* malformed templates are rendered partially and silently (``{{#a}}`` drops the text after it), so
  a typo in a bot's content would lose text instead of showing what the author wrote;
* it is slow for a per-message hot path: about 15 µs for a two-variable template even when
  pre-parsed, against 2-3 µs here on the same machine.

So this module contains a small compiler instead: a template is parsed once (mustache.js's scanner
rules, including its standalone-line whitespace stripping and ``{{=<% %>=}}`` delimiter changes),
turned into closures (one generated straight-line function per block of text and tags) and cached
by template string.  Partials are not supported; like
mustache.js called without partials, ``{{> name}}`` renders nothing.

Deliberate differences from Botpress:

* Botpress re-renders its output while it still looks like a template; we render exactly once, so
  text that arrives through a value (e.g. a user nickname containing ``{{...}}``) is never
  interpreted and never escaped twice.
* mustache.js throws on a malformed template (unclosed tag or section, mismatched section, invalid
  delimiters).  We return the template text unchanged instead: the author sees their own text, and a
  message is never lost to an exception.  The same fallback applies to sections nested deeper than
  ``MAX_NESTING``: compiled (``make``), this module recurses on the C stack, where no RecursionError
  stops a pathological template before the process crashes.
* Members JavaScript objects inherit from their prototype (``toString``, ``constructor``, ...) are not
  emulated; only own data is visible.  ``length`` of lists and strings is, since authors use it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["has_template", "render", "render_data"]

# A compiled node takes the context stack (outermost view first) and returns its rendered text.
_Stack = list[Any]
_Node = Callable[[_Stack], str]
_Part = str | _Node


class _Miss:
    """Marks a failed lookup so that a present-but-null value stays distinguishable from absence."""

    __slots__ = ()


_MISS: Final = _Miss()

# JavaScript's \s differs from Python's (no \x1c-\x1f or \x85, but \ufeff), and the scanner's
# choices of where a tag name ends depend on it.
_JS_WS: Final = "\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_WS_CHARS: Final = frozenset(
    "\t\n\x0b\x0c\r \xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(map(chr, range(0x2000, 0x200B)))
)
_WHITE_RE: Final = re.compile(f"[{_JS_WS}]*")
_SPACE_SPLIT_RE: Final = re.compile(f"[{_JS_WS}]+")
_EQUALS_RE: Final = re.compile(f"[{_JS_WS}]*=")
_CURLY_RE: Final = re.compile(f"[{_JS_WS}]*\\}}")
_TAG_TYPES: Final = frozenset("#^/>{&=!")
MAX_NESTING: Final = 100  # sections within sections (real templates nest a few levels)
# Canonical array indices only ("01" is a property name in JavaScript, not an index); the length cap
# keeps int() clear of Python's limit on digits in a conversion.
_INDEX_RE: Final = re.compile(r"0|[1-9][0-9]{0,17}")


_LONE_SURROGATE: Final = re.compile(f"[{chr(0xD800)}-{chr(0xDFFF)}]")  # (mypyc takes no surrogate in a literal)


class _MalformedTemplate(ValueError):
    """Raised internally where mustache.js would throw; never escapes ``render``."""


def has_template(s: str) -> bool:
    """Tell callers whether a string is worth handing to ``render`` at all."""
    i = s.find("{{")
    return i >= 0 and s.find("}}", i + 2) >= 0


def render(template: str, view: Mapping[str, Any], *, escape: bool = True) -> str:
    """Render once; never raises, so a broken template cannot break a conversation.

    `escape=False` renders `{{x}}` raw too: for values that are data (action arguments), not markup.
    """
    if "{{" not in template:
        return template
    node = _compile(template, escape)
    if node is None:
        return template
    try:
        out = node([view])
    except RecursionError:
        return template
    # halves of a surrogate pair (`{{s.0}}{{s.1}}` on an emoji) side by side are the character they were;
    # a half alone, which JSON (and so every answer and the store) cannot carry, becomes U+FFFD
    return out if out.isascii() or not _LONE_SURROGATE.search(out) else (
        out.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"))


def render_data(value: Any, view: Mapping[str, Any], *, escape: bool = True) -> Any:
    """Render every string of a JSON-like payload, building new containers so shared data stays intact."""
    cls = value.__class__
    if cls is str:
        return render(value, view, escape=escape)
    if isinstance(value, dict):
        return {k: render_data(v, view, escape=escape) for k, v in value.items()}
    if isinstance(value, list):
        return [render_data(v, view, escape=escape) for v in value]
    if isinstance(value, tuple):
        return tuple(render_data(v, view, escape=escape) for v in value)
    return value


# --------------------------------------------------------------------------- JavaScript value semantics


def _is_undefined(value: Any) -> bool:
    # The sentinel lives in another module; matching by name avoids an import cycle.
    return type(value).__name__ == "_Undefined"


def _js_number(x: float) -> str:
    """Number.prototype.toString, because Python's repr switches to exponents at different magnitudes."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp_part = repr(abs(x)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # Position of the decimal point relative to the start of ``digits``.
    point = len(int_part) + (int(exp_part) if exp_part else 0) - (len(int_part + frac_part) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        body = digits + "0" * (point - k)
    elif 0 < point <= 21:
        body = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        body = "0." + "0" * -point + digits
    else:
        e = point - 1
        exp = ("e+" if e >= 0 else "e-") + str(abs(e))
        body = (digits[0] + "." + digits[1:] if k > 1 else digits) + exp
    return sign + body


def _js_string(value: Any, seen: frozenset[int] = frozenset()) -> str:
    """String(value) as mustache.js applies it, with null/undefined as empty like Array.join does."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        # JavaScript holds numbers as doubles; beyond 2**53 the double's digits are what it prints.
        return str(value) if -(2**53) <= value <= 2**53 else _js_number(float(value))
    if cls is float:
        return _js_number(value)
    if isinstance(value, (list, tuple)):
        # Array.prototype.join renders a cyclic reference as empty instead of recursing forever.
        if id(value) in seen:
            return ""
        inner = seen | {id(value)}
        return ",".join([_js_string(v, inner) for v in value])
    if isinstance(value, str):  # a subclass: a JavaScript Date has its own String() (state.EventDate)
        js_string = getattr(value, "js_string", None)
        return js_string() if callable(js_string) else str.__str__(value)
    if isinstance(value, int):
        return _js_string(int(value))
    if isinstance(value, float):
        return _js_number(float(value))
    if _is_undefined(value):
        return ""
    if isinstance(value, Mapping) or hasattr(type(value), "__getitem__"):
        return "[object Object]"
    try:
        return str(value)
    except Exception:
        return ""


def _js_truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    cls = value.__class__
    if cls is str or cls is int:
        return bool(value)
    if cls is float:
        return bool(value == value and value != 0)
    if cls is bool:
        return True
    # Containers, even empty ones, are objects and therefore truthy in JavaScript.
    return not _is_undefined(value)


def _escape_html(s: str) -> str:
    """mustache.js's escapeHtml table, which is wider than html.escape (adds / ` =)."""
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if '"' in s:
        s = s.replace('"', "&quot;")
    if "'" in s:
        s = s.replace("'", "&#39;")
    if "/" in s:
        s = s.replace("/", "&#x2F;")
    if "`" in s:
        s = s.replace("`", "&#x60;")
    if "=" in s:
        s = s.replace("=", "&#x3D;")
    return s


def _utf16_unit(s: str, index: int) -> Any:
    """JavaScript strings index UTF-16 code units, so an emoji occupies two positions."""
    if s.isascii():
        return s[index] if index < len(s) else _MISS
    units = s.encode("utf-16-le", "surrogatepass")
    if 2 * index + 2 > len(units):
        return _MISS
    return units[2 * index : 2 * index + 2].decode("utf-16-le", "surrogatepass")


def _prop(obj: Any, key: str) -> Any:
    """``obj[key]`` guarded by ``key in obj``, returning _MISS where JavaScript's ``in`` would be false."""
    cls = obj.__class__
    if cls is dict:
        return obj.get(key, _MISS)
    if cls is list or isinstance(obj, (list, tuple)):
        if key == "length":
            return len(obj)
        if _INDEX_RE.fullmatch(key):
            i = int(key)
            return obj[i] if i < len(obj) else _MISS
        return _MISS
    if isinstance(obj, str):
        if key == "length":
            return len(obj) if obj.isascii() else len(obj.encode("utf-16-le", "surrogatepass")) // 2
        if _INDEX_RE.fullmatch(key):
            return _utf16_unit(obj, int(key))
        return _MISS
    if obj is None or isinstance(obj, (int, float)) or _is_undefined(obj):
        return _MISS
    if isinstance(obj, Mapping):
        try:
            return obj[key] if key in obj else _MISS
        except Exception:
            return _MISS
    if hasattr(cls, "__getitem__"):
        try:
            return obj[key]
        except Exception:
            return _MISS
    return _MISS


def _is_object(value: Any) -> bool:
    """typeof value === 'object': what an undotted name may be looked up in."""
    return not (value is None or isinstance(value, (str, int, float)) or _is_undefined(value))


def _make_lookup(name: str) -> Callable[[_Stack], Any]:
    """Specialise name resolution at compile time; a miss yields None, which renders as nothing."""
    if name == ".":
        return lambda stack: stack[-1]
    # mustache.js only splits when the first dot is not at position 0.
    if name.find(".") <= 0:

        def lookup_simple(stack: _Stack) -> Any:
            for view in reversed(stack):
                if view.__class__ is dict:
                    value = view.get(name, _MISS)
                elif _is_object(view):
                    value = _prop(view, name)
                else:
                    # mustache.js only looks undotted names up in objects (and throws on null frames).
                    continue
                if value is not _MISS:
                    return value
            return None

        return lookup_simple

    head, *rest_list = name.split(".")
    rest = tuple(rest_list)

    def lookup_dotted(stack: _Stack) -> Any:
        # Each frame gets the whole path; only a miss on the full path moves outwards.
        for view in reversed(stack):
            value = view.get(head, _MISS) if view.__class__ is dict else _prop(view, head)
            for key in rest:
                if value.__class__ is dict:
                    value = value.get(key, _MISS)
                elif value is _MISS:
                    break
                else:
                    value = _prop(value, key)  # null and undefined have no properties: _MISS
            if value is not _MISS:
                return value
        return None

    return lookup_dotted


# --------------------------------------------------------------------------- parsing


class _Token:
    __slots__ = ("kind", "value", "children")

    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.value = value
        self.children: list[_Token] = []


def _tag_patterns(open_tag: str, close_tag: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    ws = f"[{_JS_WS}]*"
    return (
        re.compile(re.escape(open_tag) + ws),
        re.compile(ws + re.escape(close_tag)),
        re.compile(ws + re.escape("}" + close_tag)),
    )


def _tokenize(template: str) -> list[_Token]:
    """Scan like mustache.js's parseTemplate, so standalone-line whitespace disappears in the same places."""
    tokens: list[_Token | None] = []
    sections: list[_Token] = []
    spaces: list[int] = []  # indices of whitespace text tokens on the current line
    has_tag = False
    non_space = False
    opening, closing, closing_curly = _tag_patterns("{{", "}}")
    pos = 0
    end = len(template)

    def strip_space() -> None:
        nonlocal has_tag, non_space, spaces
        if has_tag and not non_space:
            for i in spaces:
                tokens[i] = None
        spaces = []
        has_tag = False
        non_space = False

    def scan_until(pattern: re.Pattern[str]) -> str:
        nonlocal pos
        m = pattern.search(template, pos)
        stop = m.start() if m else end
        text = template[pos:stop]
        pos = stop
        return text

    def scan(pattern: re.Pattern[str]) -> str:
        nonlocal pos
        m = pattern.match(template, pos)
        if not m:
            return ""
        pos = m.end()
        return m.group()

    while pos < end:
        text = scan_until(opening)
        if text:
            # Runs of visible characters can never be stripped, so only whitespace is kept per character.
            run_start = -1
            for i, ch in enumerate(text):
                if ch in _JS_WS_CHARS:
                    if run_start >= 0:
                        tokens.append(_Token("text", text[run_start:i]))
                        run_start = -1
                    spaces.append(len(tokens))
                    tokens.append(_Token("text", ch))
                    if ch == "\n":
                        strip_space()
                else:
                    non_space = True
                    if run_start < 0:
                        run_start = i
            if run_start >= 0:
                tokens.append(_Token("text", text[run_start:]))

        if not scan(opening):
            break
        has_tag = True
        kind = template[pos] if pos < end and template[pos] in _TAG_TYPES else "name"
        if kind != "name":
            pos += 1
        scan(_WHITE_RE)

        if kind == "=":
            value = scan_until(_EQUALS_RE)
            scan(_EQUALS_RE)
            scan_until(closing)
        elif kind == "{":
            value = scan_until(closing_curly)
            scan(_CURLY_RE)
            scan_until(closing)
            kind = "&"
        else:
            value = scan_until(closing)

        if not scan(closing):
            raise _MalformedTemplate(f"unclosed tag at {pos}")

        token = _Token(kind, value)
        tokens.append(token)
        if kind in ("#", "^"):
            sections.append(token)
            if len(sections) > MAX_NESTING:
                raise _MalformedTemplate(f"sections nested deeper than {MAX_NESTING} levels at {pos}")
        elif kind == "/":
            if not sections:
                raise _MalformedTemplate(f"unopened section {value!r}")
            if sections.pop().value != value:
                raise _MalformedTemplate(f"unclosed section before {value!r}")
        elif kind in ("name", "&"):
            non_space = True
        elif kind == "=":
            # Like JavaScript's split(re, 2): extra words after the second are ignored.
            delimiters = _SPACE_SPLIT_RE.split(value)[:2]
            if len(delimiters) != 2 or not all(delimiters):
                raise _MalformedTemplate(f"invalid delimiters {value!r}")
            opening, closing, closing_curly = _tag_patterns(delimiters[0], delimiters[1])

    strip_space()
    if sections:
        raise _MalformedTemplate(f"unclosed section {sections[-1].value!r}")
    return [t for t in tokens if t is not None]


def _nest(tokens: list[_Token]) -> list[_Token]:
    """Turn the flat token list into a tree; nesting was already validated by the scanner."""
    root: list[_Token] = []
    collector = root
    stack: list[list[_Token]] = []
    for token in tokens:
        if token.kind in ("#", "^"):
            collector.append(token)
            stack.append(collector)
            collector = token.children
        elif token.kind == "/":
            collector = stack.pop()
        elif token.kind in ("text", "name", "&"):
            collector.append(token)
        # Comments, delimiter changes and partials (we have none) produce no output.
    return root


# --------------------------------------------------------------------------- compilation to closures


def _build(tokens: list[_Token], escape: bool = True) -> _Node:
    parts: list[_Part] = []
    text: list[str] = []  # adjacent text tokens, joined once instead of concatenated pairwise
    for token in tokens:
        if token.kind == "text":
            text.append(token.value)
            continue
        if text:
            parts.append("".join(text))
            text = []
        if token.kind == "name":
            parts.append(_variable(token.value, escape=escape))
        elif token.kind == "&":
            parts.append(_variable(token.value, escape=False))
        elif token.kind == "#":
            parts.append(_section(token.value, _build(token.children, escape)))
        else:
            parts.append(_inverted(token.value, _build(token.children, escape)))
    if text:
        parts.append("".join(text))

    if all(p.__class__ is str for p in parts):
        constant = "".join(p for p in parts if isinstance(p, str))
        return lambda stack: constant
    if len(parts) == 1 and not isinstance(parts[0], str):
        return parts[0]
    frozen = tuple(parts)

    def block(stack: _Stack) -> str:
        return "".join([p if p.__class__ is str else p(stack) for p in frozen])  # type: ignore[operator]

    return block


def _variable(name: str, escape: bool) -> _Node:
    lookup = _make_lookup(name)
    if escape:

        def escaped(stack: _Stack) -> str:
            value = lookup(stack)
            return _escape_html(value if value.__class__ is str else _js_string(value))

        return escaped

    def raw(stack: _Stack) -> str:
        value = lookup(stack)
        return value if value.__class__ is str else _js_string(value)

    return raw


def _section(name: str, inner: _Node) -> _Node:
    lookup = _make_lookup(name)

    def section(stack: _Stack) -> str:
        value = lookup(stack)
        if not _js_truthy(value):
            return ""
        if isinstance(value, (list, tuple)):
            out = []
            for item in value:
                stack.append(item)
                out.append(inner(stack))
                stack.pop()
            return "".join(out)
        if value is True:
            return inner(stack)
        stack.append(value)
        text = inner(stack)
        stack.pop()
        return text

    return section


def _inverted(name: str, inner: _Node) -> _Node:
    lookup = _make_lookup(name)

    def inverted(stack: _Stack) -> str:
        value = lookup(stack)
        if not _js_truthy(value) or (isinstance(value, (list, tuple)) and not value):
            return inner(stack)
        return ""

    return inverted


@functools.lru_cache(maxsize=4096)
def _compile(template: str, escape: bool = True) -> _Node | None:
    """Parse once per distinct template; None marks a template mustache.js would reject."""
    try:
        return _build(_nest(_tokenize(template)), escape)
    except (_MalformedTemplate, RecursionError):
        return None
