"""Safe interpreter for the JavaScript expression subset used by Botpress flow transition conditions.

Botpress evaluates conditions such as ``temp['skill-choice-ret'] == "context"`` inside a Node vm.  We
must reproduce JavaScript semantics (loose equality, truthiness, ``undefined``) without ever executing
host code, so this is a hand-written tokenizer and Pratt parser whose AST is compiled to closures.
Values are plain JSON data plus ``UNDEFINED``; the only things that can ever be called are the builtin
``_JSFunction`` values defined here and arrow functions written in the expression (whose calls are bounded
in depth and number), and property access never touches Python attributes.
"""

from __future__ import annotations

import json
import math
import operator
import random
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from functools import lru_cache
from time import time_ns
from typing import Any, ClassVar, Final, NamedTuple

from parley import bounded_regex

MAX_SOURCE_LENGTH: Final = 2000
MAX_DEPTH: Final = 100
# Calls in progress from inside arrow-function bodies, each weighted by its nesting depth in the body plus
# a few: roughly the Python frames they hold, so that self-application (`(f => f(f))(f => f(f))`) ends in a
# RangeError well before Python's own recursion limit.  Without recursion nothing gets near it.
MAX_STACK: Final = 300
MAX_CALLS: Final = 100_000  # arrow-function calls in one evaluation (nested callbacks over big arrays)
_MAX_SAFE: Final = 2**53
_NAN: Final = math.nan
_INF: Final = math.inf
_JS_WS: Final = " \t\n\v\f\r\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)


class _Undefined:
    """JS ``undefined`` must stay distinct from ``None`` (null) and keep one identity through copies."""

    __slots__ = ()
    _instance: ClassVar[_Undefined | None] = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "undefined"

    def __reduce__(self) -> str:
        return "UNDEFINED"  # copy/pickle resolve the module global, preserving the singleton


UNDEFINED: Final[_Undefined] = _Undefined()


class ExpressionError(Exception):
    """A JS ReferenceError/SyntaxError or other non-TypeError failure: the caller treats the
    instruction as failed."""


class JSTypeError(ExpressionError):
    """Reading a property of undefined/null, calling a non-function, etc."""


class _ShortCircuit(Exception):
    """Unwinds an optional chain (``a?.b.c``) to its end, where it becomes ``undefined``."""


Scope = Mapping[str, Any]
_Fn = Callable[[Any], Any]  # takes the Scope, or a _Frame inside an arrow function's body
_Env = tuple[tuple[str, ...], ...]  # parameter names of the enclosing arrow functions, innermost last


class _JSFunction(NamedTuple):
    """The only callable values: the builtins defined here and arrow functions written in the expression
    itself (``text`` is their source, ``length`` their parameter count), so host functions stay out of reach."""

    name: str
    impl: Callable[[Any, list[Any]], Any]  # (this, args) -> result
    text: str | None = None
    length: int | None = None


class _Namespace(NamedTuple):
    """Stands in for ``Math``/``JSON``/``Object`` so that only whitelisted members are reachable."""

    name: str
    members: dict[str, Any]  # functions, and constants such as Math.PI


class _JSDate:
    """A Date object: its time value, in whole milliseconds since the epoch (NaN for an Invalid Date).
    Mutable, as the setters need, but only ever created by `new Date(...)` in the expression itself, so
    the scope's data is never touched.  Not a tuple or a Mapping, so it stays opaque to everything else."""

    __slots__ = ("time",)

    def __init__(self, time_value: int | float) -> None:
        self.time = time_value


class _JSRegExp(NamedTuple):
    """A regular expression literal (`/^\\d+$/.test(event.preview)`), translated to Python's `re`."""

    source: str
    flags: str
    pattern: bounded_regex.Pattern


# a regex literal runs on what users type: bounded in time (a timeout fails the condition as an error)
_RX_TIME: Final = bounded_regex.TIME_LIMIT


def _make_regexp(source: str, flags: str) -> _JSRegExp:
    if any(f not in "gimsuy" for f in flags) or len(set(flags)) != len(flags):
        raise ExpressionError(f"SyntaxError: Invalid regular expression flags '{flags}'")
    py_flags = (bounded_regex.IGNORECASE if "i" in flags else 0) | (bounded_regex.MULTILINE if "m" in flags else 0)
    py_flags |= bounded_regex.DOTALL if "s" in flags else 0
    try:
        pattern = bounded_regex.compile(bounded_regex.from_js(source, "m" in flags), py_flags)
    except (bounded_regex.error, OverflowError, RecursionError) as exc:
        raise ExpressionError(f"SyntaxError: Invalid regular expression: /{source}/: {exc}") from None
    return _JSRegExp(source, flags, pattern)


# ---------------------------------------------------------------- conversions


def _int_result(n: int) -> int | float:
    """JS numbers are doubles: ints beyond 2**53 lose precision, so stop pretending they are exact."""
    if -_MAX_SAFE <= n <= _MAX_SAFE:
        return n
    try:
        return float(n)
    except OverflowError:
        return _INF if n > 0 else -_INF


def _norm_num(x: int | float) -> int | float:
    """Integral results become ints so they round-trip through JSON as ``1`` rather than ``1.0``."""
    if isinstance(x, int):
        return _int_result(x)
    if x.is_integer() and -_MAX_SAFE <= x <= _MAX_SAFE and (x != 0 or math.copysign(1.0, x) > 0):
        return int(x)
    return x


def _tag(v: Any) -> str:
    """The JS type of a value; Python bool must count as boolean even though it subclasses int."""
    if v is None:
        return "null"
    if v is UNDEFINED:
        return "undefined"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return "string" if isinstance(v, str) else "object"


def js_typeof(v: Any) -> str:
    tag = _tag(v)
    return "function" if isinstance(v, _JSFunction) else "object" if tag == "null" else tag


def js_truthy(value: Any) -> bool:
    if value is True:
        return True
    if value is False or value is None or value is UNDEFINED:
        return False
    if isinstance(value, (str, int, float)):
        return bool(value) and value == value
    return True


_NUM_TEXT_RE: Final = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)", re.ASCII)
_RADIX_RE: Final = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def _str_to_num(s: str) -> int | float:
    s = s.strip(_JS_WS)
    if not s:
        return 0
    if _NUM_TEXT_RE.fullmatch(s):
        if s.endswith("Infinity"):
            return -_INF if s[0] == "-" else _INF
        return _norm_num(float(s))
    if _RADIX_RE.fullmatch(s):
        return _int_result(int(s[2:], {"x": 16, "o": 8, "b": 2}[s[1].lower()]))
    return _NAN


def js_to_number(value: Any) -> float | int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _int_result(value)
    if isinstance(value, float):
        return value
    if value is None:
        return 0
    if isinstance(value, str):
        return _str_to_num(value)
    if isinstance(value, _JSDate):
        return value.time  # its valueOf
    return _NAN if value is UNDEFINED else _str_to_num(js_to_string(value))


def _float_to_str(x: float) -> str:
    """Number::toString: shortest round-trip digits (Python's repr) laid out by the JS rules."""
    if x != x:
        return "NaN"
    if x in (_INF, -_INF):
        return "Infinity" if x > 0 else "-Infinity"
    if x.is_integer() and abs(x) < _MAX_SAFE:
        return str(int(x))
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    n = len(whole) + (int(exp) if exp else 0) - (len(whole + frac) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * -n + digits
    else:
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if n > 0 else "e-") + str(abs(n - 1))
    return ("-" if x < 0 else "") + body


def js_to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or value is UNDEFINED:
        return "null" if value is None else "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -_MAX_SAFE <= value <= _MAX_SAFE else _float_to_str(_int_result(value))
    if isinstance(value, float):
        return _float_to_str(value)
    if isinstance(value, list):  # bounded at every level: nested shared arrays expand exponentially
        return _bounded_string(",".join("" if e is None or e is UNDEFINED else js_to_string(e) for e in value))
    if isinstance(value, _JSFunction):
        return value.text if value.text is not None else f"function {value.name}() {{ [native code] }}"
    if isinstance(value, _JSRegExp):
        return f"/{value.source}/{value.flags}"
    if isinstance(value, _JSDate):
        return _date_string(value.time, "toString")
    return f"[object {value.name}]" if isinstance(value, _Namespace) else "[object Object]"


def _to_primitive(v: Any, hint: str = "default") -> Any:
    """ToPrimitive.  Only a Date tells the hints apart: `date - 1` and `date < other` use its number, but
    `date + 'x'` and `date == 'x'` its string.  Every other object we model prints itself (its valueOf is
    itself, so toString decides)."""
    if hint == "number" and isinstance(v, _JSDate):
        return v.time
    return js_to_string(v) if _tag(v) == "object" else v


_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")


def _has_astral(s: str) -> bool:
    return not s.isascii() and _ASTRAL.search(s) is not None


def _to_u16(s: str) -> str:
    """JS strings are UTF-16: indices and lengths count surrogate halves, so split astral chars."""

    def pair(m: re.Match[str]) -> str:
        o = ord(m.group()) - 0x10000
        return chr(0xD800 + (o >> 10)) + chr(0xDC00 + (o & 0x3FF))

    return _ASTRAL.sub(pair, s)


def _from_u16(s: str) -> str:
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def js_length(s: str) -> int:
    """`String.length`: UTF-16 code units."""
    return len(s) if s.isascii() else len(s) + len(_ASTRAL.findall(s))


# ---------------------------------------------------------------- operators


def js_strict_equals(a: Any, b: Any) -> bool:
    ta = type(a)
    if ta is type(b) and (ta is str or ta is int or ta is bool):
        return bool(a == b)
    tag = _tag(a)
    if tag != _tag(b):
        return False
    return a is b if tag == "object" else bool(a == b)


def js_loose_equals(a: Any, b: Any) -> bool:
    ta = type(a)
    if ta is type(b) and (ta is str or ta is int or ta is bool):
        return bool(a == b)
    tag_a, tag_b = _tag(a), _tag(b)
    if tag_a == tag_b:
        return js_strict_equals(a, b)
    nullish = ("null", "undefined")
    if tag_a in nullish or tag_b in nullish:
        return tag_a in nullish and tag_b in nullish
    if tag_a == "object" or tag_b == "object":
        return js_loose_equals(_to_primitive(a), _to_primitive(b))
    return bool(js_to_number(a) == js_to_number(b))  # number/string/boolean mixes compare as numbers


# Bounds on what one condition may build: arrow functions make doubling a value in a loop easy
# (`xs.reduce(a => a + a, "x")`, `xs.reduce(a => [a, a], 1).flat(Infinity)`), and thirty doublings
# would take the process down. JavaScript's own limits are higher (2**29 units, 2**32 elements);
# no condition comes near these.
MAX_STRING = 1 << 20
MAX_ELEMENTS = 1 << 20


def _bounded_string(s: str) -> str:
    if len(s) > MAX_STRING:
        raise ExpressionError("RangeError: Invalid string length")
    return s


class _Output:
    """A string built piece by piece (a replacement, a template literal) that fails with JavaScript's
    RangeError as soon as it passes MAX_STRING, before the pieces are ever joined."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, piece: str) -> None:
        self.size += len(piece)
        if self.size > MAX_STRING:
            raise ExpressionError("RangeError: Invalid string length")
        self.parts.append(piece)

    def text(self) -> str:
        return _rejoin_surrogates("".join(self.parts))


def _rejoin_surrogates(s: str) -> str:
    """The halves of a surrogate pair (from `split('')`) joined back together make the real character."""
    return _from_u16(s) if not s.isascii() and _LONE_SURROGATE.search(s) else s


def _concat(a: str, b: str) -> str:
    """Joining the halves of a surrogate pair (e.g. from ``split('')``) must yield the real character."""
    if len(a) + len(b) > MAX_STRING:
        raise ExpressionError("RangeError: Invalid string length")
    if a and b and 0xD800 <= ord(a[-1]) <= 0xDBFF and 0xDC00 <= ord(b[0]) <= 0xDFFF:
        return _from_u16(a + b)
    return a + b


def _add(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return _int_result(a + b)
    if type(a) is str and type(b) is str:
        return _concat(a, b)
    a, b = _to_primitive(a), _to_primitive(b)
    if isinstance(a, str) or isinstance(b, str):
        return _concat(js_to_string(a), js_to_string(b))
    return _norm_num(js_to_number(a) + js_to_number(b))


def _div(a: Any, b: Any) -> Any:
    x, y = js_to_number(a), js_to_number(b)
    if y == 0:
        return _NAN if x == 0 or x != x else math.copysign(_INF, x) * math.copysign(1.0, y)
    return _norm_num(x / y)


def _mod(a: Any, b: Any) -> Any:
    x, y = js_to_number(a), js_to_number(b)
    if x != x or y != y or y == 0 or x in (_INF, -_INF):
        return _NAN
    if y in (_INF, -_INF) or x == 0:
        return x
    if type(x) is int and type(y) is int:
        return (-(abs(x) % abs(y)) or -0.0) if x < 0 else x % abs(y)
    return _norm_num(math.fmod(x, y))


def _mul(a: Any, b: Any) -> Any:
    x, y = js_to_number(a), js_to_number(b)
    product = x * y
    if product == 0 and type(product) is int and (x < 0 or y < 0):
        return -0.0  # ints have no negative zero, but 1 / (0 * -1) must still be -Infinity
    return _norm_num(product)


def _negate(v: Any) -> Any:
    n = js_to_number(v)
    return -0.0 if n == 0 and type(n) is int else _norm_num(-n)


def _compare(a: Any, b: Any, op: Callable[[Any, Any], bool]) -> bool:
    """Relational operators: two strings compare by UTF-16 code units, else numerically (NaN -> false)."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return op(a, b)
    a, b = _to_primitive(a, "number"), _to_primitive(b, "number")
    if isinstance(a, str) and isinstance(b, str):
        if _has_astral(a) or _has_astral(b):
            return op(a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass"))
        return op(a, b)
    return op(js_to_number(a), js_to_number(b))


_BINARY: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+": _add,
    "-": lambda a, b: _norm_num(js_to_number(a) - js_to_number(b)),
    "*": _mul,
    "/": _div,
    "%": _mod,
    "==": js_loose_equals,
    "!=": lambda a, b: not js_loose_equals(a, b),
    "===": js_strict_equals,
    "!==": lambda a, b: not js_strict_equals(a, b),
    "<": lambda a, b: _compare(a, b, operator.lt),
    "<=": lambda a, b: _compare(a, b, operator.le),
    ">": lambda a, b: _compare(a, b, operator.gt),
    ">=": lambda a, b: _compare(a, b, operator.ge),
}

# ---------------------------------------------------------------- builtins


def _arg(args: list[Any], i: int) -> Any:
    return args[i] if i < len(args) else UNDEFINED


def _to_integer(v: Any) -> int | float:
    """ToIntegerOrInfinity; infinities survive so that callers can clamp them."""
    n = js_to_number(v)
    return 0 if n != n else n if n in (_INF, -_INF) else math.trunc(n)


def _to_uint32(v: Any) -> int:
    n = _to_integer(v)
    return int(n) % 2**32 if math.isfinite(n) else 0


def _clamp(v: Any, length: int, default: int) -> int:
    return default if v is UNDEFINED else int(min(max(_to_integer(v), 0), length))


def _relative(v: Any, length: int, default: int) -> int:
    """Index argument of ``slice``: negative values count from the end."""
    if v is UNDEFINED:
        return default
    n = _to_integer(v)
    return int(max(length + n, 0) if n < 0 else min(n, length))


def _slice(seq: Any, args: list[Any]) -> Any:
    """String/Array.prototype.slice: a copy from start to end, negative indices counting from the end."""
    return seq[_relative(_arg(args, 0), len(seq), 0) : _relative(_arg(args, 1), len(seq), len(seq))]


def _char_at(s: str, args: list[Any]) -> str:
    i = _to_integer(_arg(args, 0))
    return s[int(i)] if 0 <= i < len(s) else ""


def _last_index_of(s: str, args: list[Any]) -> int:
    sub = js_to_string(_arg(args, 0))
    at = js_to_number(_arg(args, 1))
    start = len(s) if at != at else int(min(max(_to_integer(at), 0), len(s)))  # NaN (or none): the end
    return s.rfind(sub, 0, start + len(sub))


def _substring(s: str, args: list[Any]) -> str:
    start, end = _clamp(_arg(args, 0), len(s), 0), _clamp(_arg(args, 1), len(s), len(s))
    return s[min(start, end) : max(start, end)]


def _split(s: str, args: list[Any]) -> list[Any]:
    sep, limit = _arg(args, 0), _arg(args, 1)
    n = 2**32 - 1 if limit is UNDEFINED else _to_uint32(limit)
    if sep is UNDEFINED:
        return [s][:n]
    if isinstance(sep, _JSRegExp):
        return _split_regexp(s, sep.pattern, n)
    sep = js_to_string(sep)
    return (list(s) if sep == "" else s.split(sep))[:n]


def _split_regexp(s: str, pattern: bounded_regex.Pattern, n: int) -> list[Any]:
    """`split` on a regular expression, as the language's SplitMatcher does it: the separator is matched
    at each position in turn, an empty match where the last piece began does not split, and capture
    groups go into the result (undefined when they took no part)."""
    if n == 0:
        return []
    if not s:
        return [] if pattern.match(s, 0, timeout=_RX_TIME) is not None else [s]
    out: list[Any] = []
    p = q = 0
    while q < len(s):
        m = pattern.match(s, q, timeout=_RX_TIME)
        if m is None or m.end() == p:
            q += 1
            continue
        out.append(s[p:q])
        out.extend(UNDEFINED if g is None else g for g in m.groups())
        if len(out) >= n:
            return out[:n]
        p = q = m.end()
    out.append(s[p:])
    return out[:n]


def _to_regexp(v: Any) -> _JSRegExp:
    """What String match/search make of their argument: `new RegExp(v)`, so a string is a pattern."""
    if isinstance(v, _JSRegExp):
        return v
    return _make_regexp("(?:)" if v is UNDEFINED else js_to_string(v), "")


class _MatchArray(list[Any]):
    """What `match` (without `g`) and `exec` return: an array of the match and its groups that also has
    `index`, `input` and `groups` (the named groups, or undefined without any)."""

    __slots__ = ("extras",)

    def __init__(self, items: list[Any], extras: dict[str, Any]) -> None:
        super().__init__(items)
        self.extras = extras


def _groups(m: bounded_regex.Match) -> list[Any]:
    named = m.groupdict()
    return _MatchArray([m.group(0), *(UNDEFINED if g is None else g for g in m.groups())], {
        "index": m.start(), "input": m.string,
        "groups": {k: UNDEFINED if v is None else v for k, v in named.items()} if named else UNDEFINED})


def _match(s: str, args: list[Any]) -> Any:
    rx = _to_regexp(_arg(args, 0))
    if "g" in rx.flags:
        return [m.group(0) for m in rx.pattern.finditer(s, timeout=_RX_TIME)] or None
    m = rx.pattern.search(s, timeout=_RX_TIME)
    return None if m is None else _groups(m)


def _search(s: str, args: list[Any]) -> int:
    m = _to_regexp(_arg(args, 0)).pattern.search(s, timeout=_RX_TIME)
    return -1 if m is None else m.start()


_REPLACEMENT_RE: Final = re.compile(r"\$([$&`']|\d\d?|<[^>]*>)")


def _expand(out: _Output, replacement: str, s: str, start: int, end: int, m: bounded_regex.Match | None) -> None:
    """Appends the replacement for the match ``s[start:end]`` (``m`` when it came from a regular expression,
    whose groups ``$1``/``$<name>`` may then name), expanding the ``$`` patterns piece by piece: a few
    ``$'`` in a long replacement would otherwise multiply the length of the text before any check."""
    last = 0
    for t in _REPLACEMENT_RE.finditer(replacement):
        out.add(replacement[last : t.start()])
        last = t.end()
        token = t.group(1)
        if token == "$":
            out.add("$")
        elif token == "&":
            out.add(s[start:end])
        elif token == "`":
            out.add(s[:start])
        elif token == "'":
            out.add(s[end:])
        elif m is None:
            out.add(t.group(0))  # a string pattern has no groups
        elif token.startswith("<"):
            out.add((m.groupdict().get(token[1:-1]) or "") if m.re.groupindex else t.group(0))
        elif 0 < int(token) <= m.re.groups:
            out.add(m.group(int(token)) or "")
        elif len(token) == 2 and 0 < int(token[0]) <= m.re.groups:  # `$12` with one group: `$1` then "2"
            out.add((m.group(int(token[0])) or "") + token[1])
        else:
            out.add(t.group(0))
    out.add(replacement[last:])


def _regexp_matches(s: str, rx: _JSRegExp) -> list[bounded_regex.Match]:
    """What replace sees of a regex: every match with `g`, else the first."""
    if "g" in rx.flags:
        return list(rx.pattern.finditer(s, timeout=_RX_TIME))
    return [m for m in [rx.pattern.search(s, timeout=_RX_TIME)] if m is not None]


def _replace_regexp(s: str, rx: _JSRegExp, replacement: str) -> str:
    out, last = _Output(), 0
    for m in _regexp_matches(s, rx):
        out.add(s[last : m.start()])
        _expand(out, replacement, s, m.start(), m.end(), m)
        last = m.end()
    out.add(s[last:])
    return out.text()


def _replace_text(s: str, pattern: str, replacement: str, every: bool) -> str:
    """String.prototype.replace/replaceAll with a string pattern: the text itself, not a regex."""
    out, last, at = _Output(), 0, s.find(pattern)
    while at >= 0:
        out.add(s[last:at])
        last = at + len(pattern)
        _expand(out, replacement, s, at, last, None)
        # an empty pattern matches between every two units (and at both ends): step past each one
        at = s.find(pattern, last + (not pattern)) if every and last + (not pattern) <= len(s) else -1
    out.add(s[last:])
    return out.text()


def _not_regexp(method: str, args: list[Any]) -> str:
    """includes/startsWith/endsWith throw on a regular expression (it used to be searched as its text)."""
    if isinstance(_arg(args, 0), _JSRegExp):
        raise JSTypeError(f"First argument to String.prototype.{method} must not be a regular expression")
    return js_to_string(_arg(args, 0))


def _replace_calling(s: str, pattern: Any, fn: _JSFunction, every: bool) -> str:
    """replace/replaceAll with a function: each match is replaced by `fn(match, ...groups, offset, string)`."""
    found: list[tuple[int, int, list[Any]]] = []
    if isinstance(pattern, _JSRegExp):
        found = [(m.start(), m.end(), [UNDEFINED if g is None else g for g in m.groups()])
                 for m in _regexp_matches(s, pattern)]
    else:
        text, at = js_to_string(pattern), 0
        while (at := s.find(text, at)) >= 0:
            found.append((at, at + len(text), []))
            if not every:
                break
            at += len(text) or 1
            if at > len(s):
                break
    out, last = _Output(), 0
    for start, end, groups in found:
        out.add(s[last:start])
        out.add(js_to_string(fn.impl(UNDEFINED, [s[start:end], *groups, start, s])))
        last = end
    out.add(s[last:])
    return out.text()


def _replacing(every: bool) -> Callable[[str, list[Any]], str]:
    """String.prototype.replace (`every` false) and replaceAll: a regex or a text, replaced by a string
    (with its `$` patterns) or by what a function returns for each match."""

    def replace(s: str, args: list[Any]) -> str:
        pattern, replacement = _arg(args, 0), _arg(args, 1)
        if every and isinstance(pattern, _JSRegExp) and "g" not in pattern.flags:
            raise JSTypeError("String.prototype.replaceAll called with a non-global RegExp argument")
        if isinstance(replacement, _JSFunction):
            return _replace_calling(s, pattern, replacement, every)
        if isinstance(pattern, _JSRegExp):
            return _replace_regexp(s, pattern, js_to_string(replacement))
        return _replace_text(s, js_to_string(pattern), js_to_string(replacement), every)

    return replace


_replace, _replace_all = _replacing(False), _replacing(True)


def _at(seq: Any, args: list[Any]) -> Any:
    """String/Array.prototype.at: a negative index counts from the end; outside, undefined."""
    n = _to_integer(_arg(args, 0))
    i = n + len(seq) if n < 0 else n
    return seq[int(i)] if 0 <= i < len(seq) else UNDEFINED


def _pad(at_start: bool) -> Callable[[str, list[Any]], str]:
    """padStart/padEnd: the filler repeats and is cut to fit; a target length past MAX_STRING is JS's
    RangeError (Node's own limit is 2**29 units), not an allocation."""

    def pad(s: str, args: list[Any]) -> str:
        target = _to_integer(_arg(args, 0))
        filler = " " if _arg(args, 1) is UNDEFINED else js_to_string(args[1])
        if target <= len(s) or not filler:
            return s
        if target > MAX_STRING:
            raise ExpressionError("RangeError: Invalid string length")
        missing = int(target) - len(s)
        fill = (filler * (missing // len(filler) + 1))[:missing]
        return fill + s if at_start else s + fill

    return pad


def _repeat(s: str, args: list[Any]) -> str:
    n = _to_integer(_arg(args, 0))
    if n < 0 or n == _INF:
        raise ExpressionError(f"RangeError: Invalid count value: {js_to_string(n)}")
    if s and len(s) * n > MAX_STRING:
        raise ExpressionError("RangeError: Invalid string length")
    return s * int(n) if s else ""


def _substr(s: str, args: list[Any]) -> str:
    """The legacy ``substr(start, length)``, still common in older bots."""
    start = _relative(_arg(args, 0), len(s), 0)
    count = len(s) - start if _arg(args, 1) is UNDEFINED else min(max(_to_integer(args[1]), 0), len(s) - start)
    return s[start : start + int(count)]


def _char_code_at(s: str, args: list[Any]) -> int | float:
    i = _to_integer(_arg(args, 0))
    return ord(s[int(i)]) if 0 <= i < len(s) else _NAN


def _code_point_at(s: str, args: list[Any]) -> Any:
    """Sees UTF-16 units (the wrapper splits astral chars): a high surrogate followed by a low one reads
    as the whole code point, the low half alone as itself."""
    i = _to_integer(_arg(args, 0))
    if not 0 <= i < len(s):
        return UNDEFINED
    i = int(i)
    pair = s[i : i + 2]
    if len(pair) == 2 and 0xD800 <= ord(pair[0]) <= 0xDBFF and 0xDC00 <= ord(pair[1]) <= 0xDFFF:
        return ord(_from_u16(pair))
    return ord(s[i])


def _collation_key(s: str) -> tuple[str, str, str]:
    """An approximation of ICU's root collation, which Node's localeCompare uses: first the letters
    without accents or case, with spaces and punctuation before digits and digits before letters; then
    the accents; then the case, lower before upper.  Unlike ICU it compares within each level by code
    point, so the order of symbols among themselves and of different scripts may differ from Node's."""
    decomposed = unicodedata.normalize("NFD", s)
    base = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    primary = "".join(("\2" if c.isalpha() else "\1" if c.isdigit() else "\0") + c for c in base)
    return primary, unicodedata.normalize("NFD", s.casefold()), s.swapcase()


def _locale_compare(s: str, args: list[Any]) -> int:
    """-1/0/1 as Node gives for the default locale; the locales and options arguments are ignored."""
    a, b = _collation_key(_from_u16(s)), _collation_key(_from_u16(js_to_string(_arg(args, 0))))
    return (a > b) - (a < b)


_NORMAL_FORMS: Final = ("NFC", "NFD", "NFKC", "NFKD")


def _normalize(s: str, args: list[Any]) -> str:
    form = "NFC" if _arg(args, 0) is UNDEFINED else js_to_string(args[0])
    if form not in _NORMAL_FORMS:
        raise ExpressionError("RangeError: The normalization form should be one of NFC, NFD, NFKC, NFKD.")
    return _bounded_string(unicodedata.normalize(form, _from_u16(s)))  # type: ignore[arg-type]


def _string_concat(s: str, args: list[Any]) -> str:
    for a in args:
        s = _concat(s, js_to_string(a))
    return s


_STRING_IMPLS: Final[dict[str, Callable[[str, list[Any]], Any]]] = {
    "startsWith": lambda s, a: s.startswith(_not_regexp("startsWith", a), _clamp(_arg(a, 1), len(s), 0)),
    "endsWith": lambda s, a: s.endswith(_not_regexp("endsWith", a), 0, _clamp(_arg(a, 1), len(s), len(s))),
    "includes": lambda s, a: s.find(_not_regexp("includes", a), _clamp(_arg(a, 1), len(s), 0)) >= 0,
    "indexOf": lambda s, a: s.find(js_to_string(_arg(a, 0)), _clamp(_arg(a, 1), len(s), 0)),
    "toLowerCase": lambda s, a: s.lower(),
    "toUpperCase": lambda s, a: s.upper(),
    "toLocaleLowerCase": lambda s, a: s.lower(),
    "toLocaleUpperCase": lambda s, a: s.upper(),
    "trim": lambda s, a: s.strip(_JS_WS),
    "trimStart": lambda s, a: s.lstrip(_JS_WS),
    "trimEnd": lambda s, a: s.rstrip(_JS_WS),
    "trimLeft": lambda s, a: s.lstrip(_JS_WS),
    "trimRight": lambda s, a: s.rstrip(_JS_WS),
    "charAt": _char_at,
    "charCodeAt": _char_code_at,
    "codePointAt": _code_point_at,
    "at": _at,
    "lastIndexOf": _last_index_of,
    "toString": lambda s, a: s,
    "valueOf": lambda s, a: s,
    "slice": _slice,
    "substring": _substring,
    "substr": _substr,
    "split": _split,
    "replace": _replace,
    "replaceAll": _replace_all,
    "match": _match,
    "search": _search,
    "padStart": _pad(True),
    "padEnd": _pad(False),
    "repeat": _repeat,
    "concat": _string_concat,
    "localeCompare": _locale_compare,
    "normalize": _normalize,
}


def _string_method(name: str, fn: Callable[[str, list[Any]], Any]) -> _JSFunction:
    """Wraps a String.prototype method so that it sees UTF-16 units when astral chars are involved."""

    def impl(this: Any, args: list[Any]) -> Any:
        if this is None or this is UNDEFINED:  # only reachable as a callback: `arr.map(''.trim)`
            raise JSTypeError(f"String.prototype.{name} called on null or undefined")
        s = js_to_string(this)
        if not (_has_astral(s) or any(isinstance(a, str) and _has_astral(a) for a in args)):
            return fn(s, args)
        result = fn(_to_u16(s), [_to_u16(a) if isinstance(a, str) else a for a in args])
        if isinstance(result, list):
            return [_from_u16(r) for r in result]
        return _from_u16(result) if isinstance(result, str) else result

    return _JSFunction(name, impl)


def _same_value_zero(a: Any, b: Any) -> bool:
    return js_strict_equals(a, b) or (_tag(a) == "number" == _tag(b) and a != a and b != b)


def _render(v: Any) -> str:
    """How V8 names a value in "… is not a function": objects are not converted, only described."""
    if isinstance(v, list):
        return "[object Array]"
    if isinstance(v, _JSRegExp):
        return "[object RegExp]"
    return "#<Object>" if _tag(v) == "object" and not isinstance(v, _JSFunction) else js_to_string(v)


def _callable(v: Any) -> _JSFunction:
    if not isinstance(v, _JSFunction):
        raise JSTypeError(f"{_render(v)} is not a function")
    return v


_TO_OBJECT_MESSAGE: Final = frozenset({"includes", "join"})  # V8 words these two differently


def _elements(this: Any, name: str) -> list[Any]:
    """The elements an Array.prototype method sees.  ``this`` is an array except when a method is passed
    as a callback (`arr.map([].join)`, where it is undefined, or the ``thisArg``); strings are array-like,
    and other objects count as empty (they have no ``length``)."""
    if isinstance(this, list):
        return this
    if this is None or this is UNDEFINED:
        if name in _TO_OBJECT_MESSAGE:
            raise JSTypeError("Cannot convert undefined or null to object")
        raise JSTypeError(f"Array.prototype.{name} called on null or undefined")
    return list(_to_u16(this)) if isinstance(this, str) else []


def _from_index(args: list[Any], length: int) -> int:
    """The ``fromIndex`` of ``indexOf``/``includes``: negative counts from the end, clamped to the array."""
    n = _to_integer(_arg(args, 1))
    return int(min(n, length) if n >= 0 else max(length + n, 0))


def _index_of(this: Any, args: list[Any]) -> int:
    arr, target = _elements(this, "indexOf"), _arg(args, 0)
    return next((i for i in range(_from_index(args, len(arr)), len(arr)) if js_strict_equals(arr[i], target)), -1)


def _includes(this: Any, args: list[Any]) -> bool:
    arr, target = _elements(this, "includes"), _arg(args, 0)
    return any(_same_value_zero(arr[i], target) for i in range(_from_index(args, len(arr)), len(arr)))


def _join(this: Any, args: list[Any]) -> str:
    arr = _elements(this, "join")
    sep = "," if _arg(args, 0) is UNDEFINED else js_to_string(args[0])
    if len(sep) * (len(arr) - 1) > MAX_STRING:
        raise ExpressionError("RangeError: Invalid string length")
    return _rejoin_surrogates(
        _bounded_string(sep.join("" if e is None or e is UNDEFINED else js_to_string(e) for e in arr))
    )


def _iteration(name: str) -> _JSFunction:
    """The Array.prototype methods that call ``callback(element, index, array)`` with ``this`` set to the
    optional second argument.  Expressions cannot mutate arrays, so iterating a snapshot is exact."""

    def impl(this: Any, args: list[Any]) -> Any:
        arr = _elements(this, name)
        if name == "flatMap" and not isinstance(_arg(args, 0), _JSFunction):
            raise JSTypeError("flatMap mapper function is not callable")
        call, this_arg = _callable(_arg(args, 0)).impl, _arg(args, 1)
        if name == "some":
            return any(js_truthy(call(this_arg, [e, i, this])) for i, e in enumerate(arr))
        if name == "every":
            return all(js_truthy(call(this_arg, [e, i, this])) for i, e in enumerate(arr))
        if name == "find":
            return next((e for i, e in enumerate(arr) if js_truthy(call(this_arg, [e, i, this]))), UNDEFINED)
        if name == "findIndex":
            return next((i for i, e in enumerate(arr) if js_truthy(call(this_arg, [e, i, this]))), -1)
        if name == "filter":
            return [e for i, e in enumerate(arr) if js_truthy(call(this_arg, [e, i, this]))]
        results = [call(this_arg, [e, i, this]) for i, e in enumerate(arr)]
        if name == "flatMap":
            return [x for r in results for x in (r if isinstance(r, list) else (r,))]
        return results if name == "map" else UNDEFINED  # forEach

    return _JSFunction(name, impl)


def _last_index_of_element(this: Any, args: list[Any]) -> int:
    arr, target = _elements(this, "lastIndexOf"), _arg(args, 0)
    n = len(arr) - 1 if len(args) < 2 else _to_integer(args[1])
    start = int(min(n, len(arr) - 1) if n >= 0 else max(len(arr) + n, -1))  # n may be ±Infinity
    return next((i for i in range(start, -1, -1) if js_strict_equals(arr[i], target)), -1)


def _array_concat(this: Any, args: list[Any]) -> list[Any]:
    """Arrays among the arguments are spread one level, other values appended."""
    out = list(_elements(this, "concat"))
    for a in args:
        out.extend(a if isinstance(a, list) else (a,))
        if len(out) > MAX_ELEMENTS:
            raise ExpressionError("RangeError: Invalid array length")
    return out


def _flat(this: Any, args: list[Any]) -> list[Any]:
    depth = 1 if _arg(args, 0) is UNDEFINED else _to_integer(args[0])

    def flatten(arr: list[Any], d: int | float) -> list[Any]:
        if d < 1:
            return list(arr)
        out = [x for e in arr for x in (flatten(e, d - 1) if isinstance(e, list) else (e,))]
        if len(out) > MAX_ELEMENTS:
            raise ExpressionError("RangeError: Invalid array length")
        return out

    return flatten(_elements(this, "flat"), depth)


def _reduction(name: str) -> _JSFunction:
    """``reduce``/``reduceRight``: ``callback(accumulator, element, index, array)``; an explicit initial
    value counts even when it is undefined."""

    def impl(this: Any, args: list[Any]) -> Any:
        arr = _elements(this, name)
        call = _callable(_arg(args, 0)).impl
        order = range(len(arr) - 1, -1, -1) if name == "reduceRight" else range(len(arr))
        indices = iter(order)
        if len(args) >= 2:
            acc = args[1]
        else:
            first = next(indices, None)
            if first is None:
                raise JSTypeError("Reduce of empty array with no initial value")
            acc = arr[first]
        for i in indices:
            acc = call(UNDEFINED, [acc, arr[i], i, this])
        return acc

    return _JSFunction(name, impl)


def _has_own_property(this: Any, args: list[Any]) -> bool:
    if this is None or this is UNDEFINED:
        raise JSTypeError("Cannot convert undefined or null to object")
    key = js_to_string(_arg(args, 0))
    if isinstance(this, Mapping):
        return key in this
    if isinstance(this, (list, str)):
        idx = _array_index(key)
        return key == "length" or idx is not None and idx < (len(this) if isinstance(this, list) else js_length(this))
    if isinstance(this, _JSFunction):
        return key in ("length", "name") or this.text is None and key in _STATICS.get(this, {})
    if isinstance(this, _JSRegExp):
        return key == "lastIndex"
    return key in this.members if isinstance(this, _Namespace) else False


_STRING_METHODS: Final = {name: _string_method(name, fn) for name, fn in _STRING_IMPLS.items()}
_ARRAY_METHODS: Final = {
    "includes": _JSFunction("includes", _includes),
    "indexOf": _JSFunction("indexOf", _index_of),
    "join": _JSFunction("join", _join),
    "flat": _JSFunction("flat", _flat),
    "lastIndexOf": _JSFunction("lastIndexOf", _last_index_of_element),
    "concat": _JSFunction("concat", _array_concat),
    "at": _JSFunction("at", lambda this, a: _at(_elements(this, "at"), a)),
    "slice": _JSFunction("slice", lambda this, a: _slice(_elements(this, "slice"), a)),
    **{name: _iteration(name) for name in ("some", "every", "find", "findIndex", "filter", "map", "flatMap",
                                           "forEach")},
    **{name: _reduction(name) for name in ("reduce", "reduceRight")},
}
def _radix_string(x: float, radix: int) -> str:
    """Number::toString(radix) for radix ≠ 10, laid out as V8 does: fraction digits until the rest is
    below half the gap to the next double (rounded up at the end, carrying), the integer part by
    division in doubles (so digits past 2**53 come out as zeros)."""
    if x != x:
        return "NaN"
    if x in (_INF, -_INF):
        return "Infinity" if x > 0 else "-Infinity"
    sign, x = ("-", -x) if x < 0 else ("", x)
    integer = math.floor(x)
    fraction = x - integer
    delta = max(0.5 * (math.nextafter(x, _INF) - x), math.nextafter(0.0, 1.0))
    digits: list[int] = []
    if fraction >= delta:
        while True:
            fraction *= radix
            delta *= radix
            digit = int(fraction)
            digits.append(digit)
            fraction -= digit
            if fraction > 0.5 or (fraction == 0.5 and digit & 1):
                if fraction + delta > 1:  # round up, carrying into earlier digits and the integer part
                    while True:
                        if not digits:
                            integer += 1
                            break
                        digits[-1] += 1
                        if digits[-1] < radix:
                            break
                        digits.pop()
                    break
            if fraction < delta:
                break
    whole: list[str] = []
    n = float(integer)
    while n / radix >= 2.0**53:
        n /= radix
        whole.append("0")
    while True:
        remainder = math.fmod(n, radix)
        whole.append(_DIGITS[int(remainder)])
        n = (n - remainder) / radix
        if n <= 0:
            break
    frac = "." + "".join(_DIGITS[d] for d in digits) if digits else ""
    return sign + "".join(reversed(whole)) + frac


def _number_to_string(this: Any, args: list[Any]) -> str:
    if not isinstance(this, int | float) or isinstance(this, bool):
        raise JSTypeError("Number.prototype.toString requires that 'this' be a Number")
    radix = 10 if _arg(args, 0) is UNDEFINED else _to_integer(args[0])
    if not 2 <= radix <= 36:
        raise ExpressionError("RangeError: toString() radix must be between 2 and 36")
    return js_to_string(this) if radix == 10 else _radix_string(float(this), int(radix))


def _to_fixed(this: Any, args: list[Any]) -> str:
    """Number.prototype.toFixed: the exact binary value rounded half away from zero (not Python's
    half-to-even of `format`), plain notation below 1e21."""
    if not isinstance(this, int | float) or isinstance(this, bool):
        raise JSTypeError("Number.prototype.toFixed requires that 'this' be a Number")
    f = _to_integer(_arg(args, 0))
    if not 0 <= f <= 100:
        raise ExpressionError("RangeError: toFixed() digits argument must be between 0 and 100")
    x = float(this)
    if x != x or abs(x) >= 1e21:
        return js_to_string(this)
    if x == 0:
        x = 0.0  # -0 prints without its sign
    return format(Decimal(x).quantize(Decimal(1).scaleb(-int(f)), context=_EXACT), "f")


def _to_string(this: Any, _args: list[Any]) -> str:
    """Object.prototype.toString, and Array's and Boolean's (which print as `String(x)` does)."""
    if isinstance(this, Mapping):
        return "[object Object]"
    return js_to_string(this)


_EXACT: Final = Context(prec=200, rounding=ROUND_HALF_UP)  # a double below 1e21 has < 130 significant digits
def _value_of(this: Any, _args: list[Any]) -> Any:
    """Number/Boolean.prototype.valueOf: the primitive itself."""
    return this


_NUMBER_METHODS: Final = {
    "toString": _JSFunction("toString", _number_to_string),
    "toFixed": _JSFunction("toFixed", _to_fixed),
    "valueOf": _JSFunction("valueOf", _value_of),
}
_BOOLEAN_METHODS: Final = {"toString": _JSFunction("toString", _to_string),
                           "valueOf": _JSFunction("valueOf", _value_of)}
_ARRAY_METHODS["toString"] = _JSFunction("toString", _to_string)
# Every object inherits these from Object.prototype unless it has an own property of the same name.
_OBJECT_PROTO: Final[dict[str, Any]] = {"hasOwnProperty": _JSFunction("hasOwnProperty", _has_own_property),
                                        "toString": _JSFunction("toString", _to_string)}
_DIGITS: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_LONE_SURROGATE: Final = re.compile(f"[{chr(0xD800)}-{chr(0xDFFF)}]")  # (mypyc takes no surrogate in a literal)
_PARSE_FLOAT_RE: Final = re.compile(_NUM_TEXT_RE.pattern, re.ASCII)


def _parse_int(_this: Any, args: list[Any]) -> int | float:
    return js_parse_int(_arg(args, 0), _arg(args, 1))


def js_parse_int(value: Any, radix_arg: Any = UNDEFINED) -> int | float:
    """JavaScript's parseInt: the leading integer of the text (NaN when there is none)."""
    s = js_to_string(value).lstrip(_JS_WS)
    sign = -1 if s[:1] == "-" else 1
    s = s[1:] if s[:1] in ("-", "+") else s
    radix = _to_uint32(radix_arg)
    radix = radix - 2**32 if radix >= 2**31 else radix  # ToInt32, then the spec's range check
    if radix and not 2 <= radix <= 36:
        return _NAN
    if radix in (0, 16) and s[:2].lower() == "0x":
        s, radix = s[2:], 16
    radix = radix or 10
    end = 0
    while end < len(s) and s[end].isascii() and 0 <= _DIGITS.find(s[end].lower()) < radix:
        end += 1
    if end == 0:
        return _NAN
    try:
        return sign * _int_result(int(s[:end], radix))
    except ValueError:  # more digits than Python will convert: far beyond the double range anyway
        return sign * _INF


def _parse_float(_this: Any, args: list[Any]) -> int | float:
    m = _PARSE_FLOAT_RE.match(js_to_string(_arg(args, 0)).lstrip(_JS_WS))
    return _NAN if m is None else _str_to_num(m.group())


def _json_quote(s: str) -> str:
    """A JSON string literal; lone surrogates are escaped, as in well-formed JSON.stringify."""
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(s, ensure_ascii=False))


def _json_gap(space: Any) -> str:
    if _tag(space) == "number":
        return " " * int(min(10, max(0, _to_integer(space))))
    return _from_u16(_to_u16(space)[:10]) if isinstance(space, str) else ""


def _json_stringify(_this: Any, args: list[Any]) -> Any:
    """JSON.stringify(value, replacer, space): undefined and functions vanish from objects and become null in
    arrays; a replacer function sees every (key, value), a replacer array lists the keys to keep."""
    replacer, gap = _arg(args, 1), _json_gap(_arg(args, 2))
    fn = replacer if isinstance(replacer, _JSFunction) else None
    keep: list[str] | None = None
    if isinstance(replacer, list):
        keep = list(dict.fromkeys(js_to_string(e) for e in replacer if _tag(e) in ("string", "number")))

    def join(parts: list[str], open_: str, close: str, indent: str) -> str:
        if not parts:
            return open_ + close
        if not gap:
            return _bounded_string(open_ + ",".join(parts) + close)
        inner = indent + gap
        return _bounded_string(f"{open_}\n{inner}" + f",\n{inner}".join(parts) + f"\n{indent}{close}")

    def ser(holder: Any, key: str, v: Any, indent: str) -> str | None:
        if isinstance(v, _JSDate):
            v = _date_to_json(v, [])  # its toJSON, which runs before the replacer
        if fn is not None:
            v = fn.impl(holder, [key, v])
        if v is None or isinstance(v, bool):
            return js_to_string(v)
        if isinstance(v, str):
            return _json_quote(v)
        if isinstance(v, (int, float)):
            return js_to_string(v) if math.isfinite(v) else "null"
        if v is UNDEFINED or isinstance(v, _JSFunction):
            return None
        inner = indent + gap
        if isinstance(v, list):
            return join([ser(v, str(i), e, inner) or "null" for i, e in enumerate(v)], "[", "]", indent)
        if not isinstance(v, Mapping):
            return "{}"  # Math, JSON, a regular expression: no enumerable properties
        items = [(k, v[k] if k in v else UNDEFINED) for k in keep] if keep is not None else [
            (js_to_string(k), e) for k, e in v.items()
        ]
        sep = ": " if gap else ":"
        parts = [(k, ser(v, k, e, inner)) for k, e in items]
        return join([_json_quote(k) + sep + p for k, p in parts if p is not None], "{", "}", indent)

    value = _arg(args, 0)
    result = ser({"": value}, "", value, "")
    return UNDEFINED if result is None else result


def _own_entries(v: Any) -> list[tuple[str, Any]]:
    """The enumerable own properties Object.keys/values/entries list: an object's keys, the indices of
    an array or string (in UTF-16 units); other values have none."""
    if v is None or v is UNDEFINED:
        raise JSTypeError("Cannot convert undefined or null to object")
    if isinstance(v, Mapping):
        return [(js_to_string(k), e) for k, e in v.items()]
    items = _to_u16(v) if isinstance(v, str) else v if isinstance(v, list) else ()
    return [(str(i), e) for i, e in enumerate(items)]


def _object_static(part: str) -> _JSFunction:
    pick: Callable[[tuple[str, Any]], Any] = {
        "keys": lambda kv: kv[0], "values": lambda kv: kv[1], "entries": lambda kv: list(kv)
    }[part]
    return _JSFunction(part, lambda _this, args: [pick(kv) for kv in _own_entries(_arg(args, 0))])


def _math(fn: Callable[[float], Any]) -> Callable[[Any, list[Any]], Any]:
    """Math.* on one argument; non-finite inputs pass through as in JS (floor(Infinity) is Infinity),
    and rounding a negative number to zero gives -0, which matters once it becomes a divisor."""

    def impl(_this: Any, args: list[Any]) -> Any:
        n = js_to_number(_arg(args, 0))
        if not math.isfinite(n):
            return abs(n) if fn is abs else n
        result = fn(n)
        return -0.0 if result == 0 and fn is not abs and math.copysign(1.0, n) < 0 else _norm_num(result)

    return impl


def _ieee(fn: Callable[[float], float]) -> Callable[[Any, list[Any]], Any]:
    """Math.* on one argument where Python raises instead of answering as IEEE 754 does: a domain error is
    NaN (Math.sqrt(-1)), an overflow Infinity (Math.exp(1000))."""

    def impl(_this: Any, args: list[Any]) -> Any:
        try:
            return _norm_num(fn(float(js_to_number(_arg(args, 0)))))
        except ValueError:
            return _NAN
        except OverflowError:
            return _INF

    return impl


def _cbrt(x: float) -> float:
    """Math.cbrt rounded to the nearest double, as V8's is: Python's can be an ulp off (cbrt(27) is
    3.0000000000000004 there), so the neighbour whose cube is exactly closest to ``x`` wins."""
    r = math.cbrt(x)
    if not math.isfinite(r) or r == 0:
        return r
    candidates = (math.nextafter(r, -_INF), r, math.nextafter(r, _INF))
    return min(candidates, key=lambda c: abs(Fraction(c) ** 3 - Fraction(x)))


def _log(fn: Callable[[float], float]) -> Callable[[float], float]:
    return lambda x: -_INF if x == 0 else fn(x)  # Python raises for log(0)


def _pow(_this: Any, args: list[Any]) -> Any:
    """Math.pow: JavaScript's rules where they differ from C's (pow(1, Infinity) is NaN), and the signed
    infinities Python raises for instead (0 to a negative power, overflow)."""
    x, y = float(js_to_number(_arg(args, 0))), float(js_to_number(_arg(args, 1)))
    if y != y or (abs(x) == 1 and math.isinf(y)):
        return _NAN
    odd = y.is_integer() and abs(y) < _MAX_SAFE and int(y) % 2 == 1
    try:
        return _norm_num(math.pow(x, y))
    except ValueError:  # zero to a negative power, or a negative number to a fraction
        return (math.copysign(_INF, x) if odd else _INF) if x == 0 else _NAN
    except OverflowError:
        return -_INF if x < 0 and odd else _INF


def _hypot(_this: Any, args: list[Any]) -> Any:
    return _norm_num(math.hypot(*(float(js_to_number(a)) for a in args)))


def _is_integral(v: Any, limit: float) -> bool:
    """Number.isInteger/isSafeInteger: numbers only (no coercion), finite and whole, within ``limit``."""
    if _tag(v) != "number":
        return False
    n = js_to_number(v)
    return math.isfinite(n) and float(n).is_integer() and abs(n) <= limit


def _number_test(test: Callable[[float], bool]) -> Callable[[Any, list[Any]], bool]:
    """Number.isFinite/isNaN: unlike the global functions they do not convert their argument."""
    return lambda _this, args: _tag(_arg(args, 0)) == "number" and test(js_to_number(args[0]))


def _from_char_code(_this: Any, args: list[Any]) -> str:
    return _from_u16("".join(chr(_to_uint32(a) & 0xFFFF) for a in args))


def _extreme(pick: Callable[..., Any], empty: float) -> Callable[[Any, list[Any]], Any]:
    def impl(_this: Any, args: list[Any]) -> Any:
        nums = [js_to_number(a) for a in args]
        return _NAN if any(n != n for n in nums) else pick(nums, default=empty)

    return impl



# ---------------------------------------------------------------- Date
#
# The server runs in UTC, as Botpress does in its Docker image, so local time is UTC here: the local
# getters equal the getUTC* ones, getTimezoneOffset() is 0 and a date-time string without an offset reads
# as UTC.  Dates are computed from the spec's day arithmetic on integers rather than with `datetime`,
# whose years stop at 1..9999 where JavaScript's run to ±275760.

_MS_PER_DAY: Final = 86_400_000
_MAX_TIME: Final = 8.64e15
_WEEKDAYS: Final = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (month 1..12), for any year."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, doy - (153 * mp + 2) // 5 + 1


def _time_clip(t: int | float) -> int | float:
    """TimeClip: whole milliseconds within ±8.64e15, else an Invalid Date."""
    if (isinstance(t, float) and not math.isfinite(t)) or abs(t) > _MAX_TIME:
        return _NAN
    return int(t)


def _make_time(fields: list[Any]) -> int | float:
    """MakeDate(MakeDay(year, month, date), MakeTime(h, min, s, ms)) from numbers that may be fractional,
    out of range (month 13 is next January) or not finite (an Invalid Date)."""
    nums = [js_to_number(f) for f in fields]
    if not all(math.isfinite(n) for n in nums):
        return _NAN
    y, mon, d, h, mi, sec, ms = (int(n) for n in nums)
    day = _days_from_civil(y + mon // 12, mon % 12 + 1, 1) + d - 1
    return _time_clip(day * _MS_PER_DAY + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms)


def _date_fields(t: int) -> list[int]:
    """year, month (0-11), date, hours, minutes, seconds, ms, weekday and the zone's offset in minutes
    (0: the server runs in UTC) of a valid time value."""
    day, ms = divmod(t, _MS_PER_DAY)
    y, m, d = _civil_from_days(day)
    return [y, m - 1, d, ms // 3_600_000, ms // 60_000 % 60, ms // 1000 % 60, ms % 1000, (day + 4) % 7, 0]


def _date_string(t: int | float, form: str) -> str:
    """toString and its relatives, in the UTC zone the server runs in."""
    if t != t:
        if form == "toISOString":
            raise ExpressionError("RangeError: Invalid time value")
        return "Invalid Date"
    y, m, d, h, mi, sec, ms, wd, _ = _date_fields(int(t))
    clock = f"{h:02d}:{mi:02d}:{sec:02d}"
    if form == "toISOString":
        year = f"{y:04d}" if 0 <= y <= 9999 else f"{'-' if y < 0 else '+'}{abs(y):06d}"
        return f"{year}-{m + 1:02d}-{d:02d}T{clock}.{ms:03d}Z"
    year = f"{'-' if y < 0 else ''}{abs(y):04d}"
    if form == "toUTCString":
        return f"{_WEEKDAYS[wd]}, {d:02d} {_MONTHS[m]} {year} {clock} GMT"
    day_text = f"{_WEEKDAYS[wd]} {_MONTHS[m]} {d:02d} {year}"
    time_text = f"{clock} GMT+0000 (Coordinated Universal Time)"
    return {"toDateString": day_text, "toTimeString": time_text}.get(form, f"{day_text} {time_text}")


_ISO_DATE_RE: Final = re.compile(
    r"([+-]\d{6}|\d{4})(?:-(\d\d)(?:-(\d\d))?)?"
    r"(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|[+-]\d\d:\d\d)?)?", re.ASCII)
_TEXT_DATE_RE: Final = re.compile(  # "Tue Mar 05 2024 10:20:30 GMT+0000 (…)", "Tue, 05 Mar 2024 …", "March 5, 2024"
    r"(?:[a-z]+,?\s+)??(?:([a-z]{3})[a-z]*\.?\s+(\d{1,2})|(\d{1,2})\s+([a-z]{3})[a-z]*\.?),?\s+(-?\d{1,6})"
    r"(?:\s+(\d{1,2}):(\d\d)(?::(\d\d))?)?(?:\s*(?:gmt|utc|z)?\s*([+-]\d\d:?\d\d)?)?(?:\s*\(.*\))?",
    re.ASCII | re.IGNORECASE)
_SLASH_DATE_RE: Final = re.compile(  # "2024/03/05", "03/05/2024", optionally with "10:20[:30]"
    r"(?:(\d{4})/(\d{1,2})/(\d{1,2})|(\d{1,2})/(\d{1,2})/(\d{4}))(?:\s+(\d{1,2}):(\d\d)(?::(\d\d))?)?", re.ASCII)


_MAX_DATE_TEXT: Final = 200


def _offset_ms(text: str | None) -> int:
    if not text or text.upper() == "Z":
        return 0
    digits = text[1:].replace(":", "")
    return (-1 if text[0] == "-" else 1) * (int(digits[:2]) * 60 + int(digits[2:])) * 60_000


def _parse_date(text: str) -> int | float:
    """Date.parse for the formats bots meet: ISO 8601 (V8 also takes a space for the `T`), what toString
    and toUTCString print, "March 5, 2024" / "5 Mar 2024" and "2024/03/05" / "03/05/2024", each with an
    optional time.  V8's fallback parser accepts much more (`new Date('5')` is May 2001); such strings
    are an Invalid Date here, as is anything longer than any date (so that no pattern sees a long text).
    Without an offset a time is local, which here is UTC."""
    text = text.strip(_JS_WS)
    if len(text) > _MAX_DATE_TEXT:
        return _NAN
    if m := _ISO_DATE_RE.fullmatch(text):
        y, mon, d, h, mi, sec, frac, zone = m.groups()
        month, day = int(mon or 1), int(d or 1)
        hour, minute, second = (int(x or 0) for x in (h, mi, sec))
        ms = int((frac or "0")[:3].ljust(3, "0"))
        # V8 takes days up to 31 in any month (Feb 30 is Mar 1) and 24:00 for the end of a day
        in_range = 1 <= month <= 12 and 1 <= day <= 31 and hour <= 24 and minute < 60 and second < 60
        if y == "-000000" or not in_range or (hour == 24 and (minute or second or int(frac or 0))):
            return _NAN
        return _time_clip(_make_time([int(y), month - 1, day, hour, minute, second, ms]) - _offset_ms(zone))
    if m := _TEXT_DATE_RE.fullmatch(text):
        mon_a, d_a, d_b, mon_b, y, h, mi, sec, zone = m.groups()
        name = (mon_a or mon_b).title()
        if name not in _MONTHS:
            return _NAN
        clock = [int(h or 0), int(mi or 0), int(sec or 0)]
        return _time_clip(_make_time([int(y), _MONTHS.index(name), int(d_a or d_b), *clock, 0]) - _offset_ms(zone))
    if m := _SLASH_DATE_RE.fullmatch(text):
        y1, m1, d1, m2, d2, y2, h, mi, sec = m.groups()
        mon, d = int(m1 or m2), int(d1 or d2)
        if not (1 <= mon <= 12 and 1 <= d <= 31):
            return _NAN
        return _make_time([int(y1 or y2), mon - 1, d, int(h or 0), int(mi or 0), int(sec or 0), 0])
    return _NAN


def _now() -> int:
    return time_ns() // 1_000_000  # (from-imported: a test can move this clock, compiled too)


def _date_from_args(args: list[Any]) -> int | float:
    """The time value `new Date(...args)` starts from: now, a time value or date string, or fields
    (a two-digit year means 19xx), as in the Date constructor."""
    if not args:
        return _now()
    if len(args) == 1:
        v = args[0]
        if isinstance(v, _JSDate):
            return v.time
        v = _to_primitive(v)
        return _parse_date(v) if isinstance(v, str) else _time_clip(js_to_number(v))
    return _make_time(_fields_with_defaults(args))


def _fields_with_defaults(args: list[Any]) -> list[Any]:
    """The fields of `new Date(y, m, d = 1, h = 0, …)` and of Date.UTC (where the month too may be left
    out); a year 0..99 counts from 1900."""
    fields = [*args[:7], *[_NAN, 0, 1, 0, 0, 0, 0][len(args) :]]
    y = js_to_number(fields[0])
    fields[0] = 1900 + math.trunc(y) if math.isfinite(y) and 0 <= math.trunc(y) <= 99 else y
    return fields


def _this_date(this: Any) -> _JSDate:
    """Date methods work on Dates only (they can be reached as callbacks: `[1].map(d.getTime)`)."""
    if not isinstance(this, _JSDate):
        raise JSTypeError("this is not a Date object.")
    return this


def _date_getter(index: int, offset: int = 0) -> Callable[[Any, list[Any]], Any]:
    def get(this: Any, _args: list[Any]) -> Any:
        t = _this_date(this).time
        return t if t != t else _date_fields(int(t))[index] - offset

    return get


def _date_setter(index: int, count: int) -> Callable[[Any, list[Any]], Any]:
    """setFullYear(y, m, d), setHours(h, min, s, ms), …: the given fields replace those from ``index``
    on.  An Invalid Date stays invalid, except that setFullYear starts it from 1970-01-01."""

    def set_(this: Any, args: list[Any]) -> Any:
        date = _this_date(this)
        t = date.time
        given = [js_to_number(a) for a in args[:count]] or [_NAN]
        if t != t and index != 0:
            return t
        fields: list[Any] = _date_fields(0 if t != t else int(t))[:7]
        fields[index : index + len(given)] = given
        date.time = _make_time(fields)
        return date.time

    return set_


def _set_time(this: Any, args: list[Any]) -> Any:
    date = _this_date(this)
    date.time = _time_clip(js_to_number(_arg(args, 0)))
    return date.time


def _date_formatter(form: str) -> Callable[[Any, list[Any]], Any]:
    return lambda this, _a: _date_string(_this_date(this).time, form)


def _date_to_json(this: Any, _args: list[Any]) -> Any:
    """What JSON.stringify writes for a Date: its ISO string, or null for an Invalid Date."""
    t = _this_date(this).time
    return None if t != t else _date_string(t, "toISOString")


_DATE_FIELDS: Final = ("FullYear", "Month", "Date", "Hours", "Minutes", "Seconds", "Milliseconds")
_DATE_METHODS: Final[dict[str, _JSFunction]] = {
    **{f"get{utc}{name}": _JSFunction(f"get{utc}{name}", _date_getter(i))
       for i, name in enumerate((*_DATE_FIELDS, "Day")) for utc in ("", "UTC")},
    **{f"set{utc}{name}": _JSFunction(f"set{utc}{name}", _date_setter(i, count))
       for i, (name, count) in enumerate(zip(_DATE_FIELDS, (3, 2, 1, 4, 3, 2, 1), strict=True))
       for utc in ("", "UTC")},
    "getTime": _JSFunction("getTime", lambda this, _a: _this_date(this).time),
    "valueOf": _JSFunction("valueOf", lambda this, _a: _this_date(this).time),
    "getYear": _JSFunction("getYear", _date_getter(0, 1900)),
    # the server's zone is UTC: no offset (NaN, like every getter, for an Invalid Date)
    "getTimezoneOffset": _JSFunction("getTimezoneOffset", _date_getter(8)),
    "setTime": _JSFunction("setTime", _set_time),
    "toJSON": _JSFunction("toJSON", _date_to_json),
    **{form: _JSFunction(form, _date_formatter(form))
       for form in ("toString", "toISOString", "toUTCString", "toDateString", "toTimeString")},
    "toGMTString": _JSFunction("toGMTString", _date_formatter("toUTCString")),
}


def _date_utc(_this: Any, args: list[Any]) -> int | float:
    return _make_time(_fields_with_defaults(args)) if args else _NAN


# Calling Date as a function ignores its arguments and gives the current time as a string.
_DATE: Final = _JSFunction("Date", lambda _t, _a: _date_string(_now(), "toString"), length=7)


_NUMBER: Final = _JSFunction("Number", lambda _t, a: js_to_number(a[0]) if a else 0, length=1)
_STRING: Final = _JSFunction("String", lambda _t, a: js_to_string(a[0]) if a else "", length=1)
_BOOLEAN: Final = _JSFunction("Boolean", lambda _t, a: js_truthy(_arg(a, 0)), length=1)
_PARSE_INT: Final = _JSFunction("parseInt", _parse_int)
_PARSE_FLOAT: Final = _JSFunction("parseFloat", _parse_float)


def _fn(name: str, impl: Callable[[Any, list[Any]], Any]) -> tuple[str, _JSFunction]:
    return name, _JSFunction(name, impl)


_MATH: Final = _Namespace("Math", dict([
    _fn("abs", _math(abs)),
    _fn("floor", _math(math.floor)),
    _fn("ceil", _math(math.ceil)),
    _fn("trunc", _math(math.trunc)),
    _fn("round", _math(lambda n: math.floor(n) + (n - math.floor(n) >= 0.5))),
    _fn("sign", _ieee(lambda x: x if x == 0 or x != x else math.copysign(1.0, x))),
    _fn("sqrt", _ieee(math.sqrt)),
    _fn("cbrt", _ieee(_cbrt)),
    _fn("exp", _ieee(math.exp)),
    _fn("log", _ieee(_log(math.log))),
    _fn("log2", _ieee(_log(math.log2))),
    _fn("log10", _ieee(_log(math.log10))),
    _fn("pow", _pow),
    _fn("hypot", _hypot),
    _fn("min", _extreme(min, _INF)),
    _fn("max", _extreme(max, -_INF)),
    _fn("random", lambda _t, _a: random.random()),  # noqa: S311 (A/B routing, not cryptography)
], PI=math.pi, E=math.e, LN2=0.6931471805599453, LN10=2.302585092994046, LOG2E=1.4426950408889634,
    LOG10E=0.4342944819032518, SQRT2=1.4142135623730951, SQRT1_2=0.7071067811865476))

# Own properties of the builtin constructors, besides `name` and `length` (`Number.isInteger`, `Date.now`).
_STATICS: Final[dict[_JSFunction, dict[str, Any]]] = {
    _NUMBER: dict([
        _fn("isInteger", lambda _t, a: _is_integral(_arg(a, 0), _INF)),
        _fn("isSafeInteger", lambda _t, a: _is_integral(_arg(a, 0), _MAX_SAFE - 1)),
        _fn("isFinite", _number_test(math.isfinite)),
        _fn("isNaN", _number_test(math.isnan)),
    ], parseInt=_PARSE_INT, parseFloat=_PARSE_FLOAT, MAX_SAFE_INTEGER=_MAX_SAFE - 1, MIN_SAFE_INTEGER=1 - _MAX_SAFE,
        EPSILON=2.0**-52, MAX_VALUE=sys.float_info.max, MIN_VALUE=5e-324, POSITIVE_INFINITY=_INF,
        NEGATIVE_INFINITY=-_INF, NaN=_NAN),
    _STRING: dict([_fn("fromCharCode", _from_char_code)]),
    _DATE: dict([
        _fn("now", lambda _t, _a: _now()),
        _fn("parse", lambda _t, a: _parse_date(js_to_string(_arg(a, 0)))),
        _fn("UTC", _date_utc),
    ]),
}

_GLOBALS: Final[dict[str, Any]] = {
    "Number": _NUMBER,
    "String": _STRING,
    "Boolean": _BOOLEAN,
    "Date": _DATE,
    "parseInt": _PARSE_INT,
    "parseFloat": _PARSE_FLOAT,
    "isNaN": _JSFunction("isNaN", lambda _t, a: math.isnan(js_to_number(_arg(a, 0)))),
    "isFinite": _JSFunction("isFinite", lambda _t, a: math.isfinite(js_to_number(_arg(a, 0)))),
    "NaN": _NAN,
    "Infinity": _INF,
    "Math": _MATH,
    "JSON": _Namespace("JSON", {
        "stringify": _JSFunction("stringify", _json_stringify),
    }),
    "Object": _Namespace("Object", {part: _object_static(part) for part in ("keys", "values", "entries")}),
    "Array": _Namespace("Array", {"isArray": _JSFunction("isArray", lambda _t, a: isinstance(_arg(a, 0), list))}),
}


def _array_index(key: Any) -> int | None:
    if type(key) is int:
        return key if key >= 0 else None
    if type(key) is float:
        return int(key) if key.is_integer() and key >= 0 else None
    if isinstance(key, str) and 0 < len(key) < 16 and key.isascii() and key.isdigit():
        return int(key) if key == "0" or key[0] != "0" else None
    return None


def _get_prop(obj: Any, key: Any) -> Any:
    """Property read restricted to JSON data and the whitelisted builtins, never Python attributes."""
    if obj is None or obj is UNDEFINED:
        raise JSTypeError(f"Cannot read properties of {js_to_string(obj)} (reading '{js_to_string(key)}')")
    idx = _array_index(key)
    if not isinstance(key, str):
        key = js_to_string(key)
        idx = _array_index(key) if idx is None else idx
    if isinstance(obj, Mapping):
        return obj[key] if key in obj else _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, str):
        if idx is not None:
            units = _to_u16(obj) if _has_astral(obj) else obj
            return units[idx] if idx < len(units) else UNDEFINED
        if key == "length":
            return js_length(obj)
        return _STRING_METHODS.get(key) or _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, list):
        if idx is not None:
            return obj[idx] if idx < len(obj) else UNDEFINED
        if isinstance(obj, _MatchArray) and key in obj.extras:
            return obj.extras[key]
        return len(obj) if key == "length" else _ARRAY_METHODS.get(key) or _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, _JSRegExp):
        return _regexp_prop(obj, key)
    if isinstance(obj, _JSDate):
        return _DATE_METHODS.get(key) or _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, _JSFunction):
        own = {"name": obj.name, "length": obj.length}.get(key)
        statics = _STATICS.get(obj, {}) if obj.text is None else {}
        return own if own is not None else statics[key] if key in statics else _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, _Namespace):
        return obj.members[key] if key in obj.members else _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, bool):
        return _BOOLEAN_METHODS.get(key) or _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, int | float):
        return _NUMBER_METHODS.get(key) or _OBJECT_PROTO.get(key, UNDEFINED)
    return _OBJECT_PROTO.get(key, UNDEFINED)


def _regexp_method(key: str) -> _JSFunction:
    def run(this: Any, args: list[Any]) -> Any:
        if not isinstance(this, _JSRegExp):  # only reachable as a callback: `arr.some(/x/.test)`
            # V8's wording: `test` on an object fails in the `exec` it calls; on a primitive it names undefined
            primitive = _tag(this) != "object"
            name, receiver = ("test", "undefined") if key == "test" and primitive else ("exec", _render(this))
            raise JSTypeError(f"Method RegExp.prototype.{name} called on incompatible receiver {receiver}")
        m = this.pattern.search(js_to_string(_arg(args, 0)), timeout=_RX_TIME)
        return m is not None if key == "test" else None if m is None else _groups(m)

    return _JSFunction(key, run)


_REGEXP_METHODS: Final = {"test": _regexp_method("test"), "exec": _regexp_method("exec")}


def _regexp_prop(rx: _JSRegExp, key: str) -> Any:
    if key in _REGEXP_METHODS:
        return _REGEXP_METHODS[key]
    fixed = {"source": rx.source, "flags": rx.flags, "global": "g" in rx.flags, "ignoreCase": "i" in rx.flags,
             "multiline": "m" in rx.flags}
    return fixed.get(key, _OBJECT_PROTO.get(key, UNDEFINED))


# Object.prototype's own names: `'constructor' in temp` is true in JavaScript for every object.
_OBJECT_PROTO_NAMES: Final = frozenset(
    "constructor __defineGetter__ __defineSetter__ hasOwnProperty __lookupGetter__ __lookupSetter__ "
    "isPrototypeOf propertyIsEnumerable toString valueOf __proto__ toLocaleString".split()
)


def _in(key: Any, obj: Any) -> bool:
    """`key in obj`: an own property (an array index below the length, "length"), a method we model
    (`'map' in arr`) or one of Object.prototype's names.  Array methods we do not model (`'push' in arr`)
    are false here, true in Node."""
    name = js_to_string(key)
    if _tag(obj) != "object":
        shown = js_to_string(obj)  # V8 prints the whole string; a long one need not fill the logs
        shown = shown if len(shown) <= 100 else shown[:100] + "…"
        raise JSTypeError(f"Cannot use 'in' operator to search for '{name[:100]}' in {shown}")
    return _has_own_property(obj, [name]) or name in _OBJECT_PROTO_NAMES or _get_prop(obj, name) is not UNDEFINED


def _instanceof(v: Any, ctor: Any) -> bool:
    """`v instanceof C` for the constructors we model; primitives are never instances."""
    if _tag(ctor) != "object":
        raise JSTypeError("Right-hand side of 'instanceof' is not an object")
    if ctor is _DATE:
        return isinstance(v, _JSDate)
    if ctor is _GLOBALS["Array"]:
        return isinstance(v, list)
    if ctor is _GLOBALS["Object"]:
        return _tag(v) == "object"
    if isinstance(ctor, _JSFunction):
        return False  # Number, String, Boolean (whose instances are wrappers, never made here), arrow functions
    raise JSTypeError("Right-hand side of 'instanceof' is not callable")


_BINARY["**"] = lambda a, b: _pow(UNDEFINED, [a, b])
_BINARY["in"] = _in
_BINARY["instanceof"] = _instanceof

# ---------------------------------------------------------------- tokenizer and parser


class _Tok(NamedTuple):
    kind: str  # "num", "str", "name", "punct", "eof"
    value: Any
    pos: int
    end: int


class _Node(NamedTuple):
    """AST node.  kind: lit(value) ident(name) member(obj, prop, optional) call(callee, args, optional,
    text) unary(op, arg) binary(op, left, right) cond(test, then, other) array(items) chain(expr)
    arrow(params, body, text) template(texts, substitutions) new(callee, args)."""

    kind: str
    a: Any = None
    b: Any = None
    c: Any = None
    d: Any = None


_NUM_TOKEN_RE: Final = re.compile(r"0[xXoObB][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_IDENT_RE: Final = re.compile(r"(?:[^\W\d]|\$)(?:\w|\$)*")
_PUNCTS: Final = ("===", "!==", "**", "==", "!=", "=>", "<=", ">=", "&&", "||", "??", "?.", "++", "--",
                  *"+-*/%<>!()[].,?:{};")  # ++ and -- are recognised only to be rejected
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "\n": ""}
_BP: Final = {"??": 3, "||": 3, "&&": 4, "==": 8, "!=": 8, "===": 8, "!==": 8, "<": 9, "<=": 9, ">": 9,
              ">=": 9, "in": 9, "instanceof": 9, "+": 11, "-": 11, "*": 12, "/": 12, "%": 12, "**": 13}
_WORD_OPERATORS: Final = frozenset({"in", "instanceof"})
_UNARY_OPERATORS: Final = frozenset({("punct", "!"), ("punct", "-"), ("punct", "+"), ("name", "typeof")})
_TERNARY_BP: Final = 2
_KEYWORD_LITERALS: Final = {"true": True, "false": False, "null": None, "undefined": UNDEFINED}
_RESERVED: Final = frozenset(
    "new function this class delete void in instanceof var let const return if else for while do switch "
    "case break continue throw try catch finally yield await async import export super with typeof".split()
)


_LINE_BREAKS: Final = "\n\r\u2028\u2029"


def _is(tok: _Tok, punct: str) -> bool:
    return tok.kind == "punct" and tok.value == punct


def _syntax_error(src: str, pos: int, what: str) -> ExpressionError:
    return ExpressionError(f"SyntaxError: {what} at column {pos + 1}")


_HEX: Final = frozenset("0123456789abcdefABCDEF")


def _read_escape(src: str, i: int) -> tuple[str, int]:
    """The escape sequence at ``src[i]`` (a backslash with something after it): its text and where it
    ends.  ``\\u{1F600}`` names a code point; a backslash before a line break continues the line."""
    e = src[i + 1]
    if e == "u" and src[i + 2 : i + 3] == "{":
        close = src.find("}", i + 3)
        digits = src[i + 3 : close] if close > 0 else ""
        if not digits or not set(digits) <= _HEX or int(digits, 16) > 0x10FFFF:
            raise _syntax_error(src, i, "Invalid Unicode escape sequence")
        return chr(int(digits, 16)), close + 1
    width = 4 if e == "u" else 2 if e == "x" else 0
    if width:
        digits = src[i + 2 : i + 2 + width]
        if len(digits) != width or not set(digits) <= _HEX:
            raise _syntax_error(src, i, "Invalid escape sequence")
        return chr(int(digits, 16)), i + 2 + width
    if e == "\r":
        return "", i + 3 if src[i + 2 : i + 3] == "\n" else i + 2
    return ("" if e in _LINE_BREAKS else _ESCAPES.get(e, e)), i + 2


def _read_string(src: str, start: int) -> tuple[str, int]:
    quote, i, out = src[start], start + 1, []
    while i < len(src) and src[i] not in (quote, "\n"):
        if src[i] == "\\" and i + 1 < len(src):
            text, i = _read_escape(src, i)
            out.append(text)
        else:
            out.append(src[i])
            i += 1
    if i >= len(src) or src[i] != quote:
        raise _syntax_error(src, start, "Unterminated string")
    return _from_u16("".join(out)), i + 1


def _read_template(src: str, i: int, opening: int) -> tuple[str, int, bool]:
    """A piece of a template literal from ``src[i]`` (after the backtick or a substitution's `}`) to the
    closing backtick or the next `${`: its text, where it ends and whether the literal ends there.  Line
    breaks are kept, a CRLF reading as LF as in JavaScript."""
    out: list[str] = []
    while i < len(src):
        c = src[i]
        if c == "`" or (c == "$" and src[i + 1 : i + 2] == "{"):
            return _from_u16("".join(out)), i + (1 if c == "`" else 2), c == "`"
        if c == "\\" and i + 1 < len(src):
            if "1" <= src[i + 1] <= "9" or (src[i + 1] == "0" and "0" <= src[i + 2 : i + 3] <= "9"):
                raise _syntax_error(src, i, "Octal escape sequences are not allowed in template strings")
            text, i = _read_escape(src, i)
            out.append(text)
        elif c == "\r":
            out.append("\n")
            i += 2 if src[i + 1 : i + 2] == "\n" else 1
        else:
            out.append(c)
            i += 1
    raise _syntax_error(src, opening, "Unterminated template literal")


def _regex_allowed(toks: list[_Tok]) -> bool:
    """A `/` starts a regular expression where an operand is expected, else it divides."""
    if not toks:
        return True
    last = toks[-1]
    if last.kind == "punct":
        return last.value not in (")", "]")
    if last.kind in ("template_head", "template_middle"):
        return True  # a substitution starts: `${/a/.test(x)}`
    return last.kind == "name" and last.value in _RESERVED


def _read_regex(src: str, start: int) -> tuple[_JSRegExp, int]:
    i, in_class = start + 1, False
    while i < len(src) and src[i] != "\n":
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            break
        i += 1
    if i >= len(src) or src[i] != "/" or i == start + 1:
        raise _syntax_error(src, start, "Invalid regular expression: missing /")
    end = i + 1
    while end < len(src) and (src[end].isalnum() or src[end] in "_$"):
        end += 1
    return _make_regexp(src[start + 1 : i], src[i + 1 : end]), end


def _template_token(src: str, start: int, opening: int, first: bool) -> _Tok:
    """A template literal without substitutions is a string; one with them is split as JavaScript's lexer
    does: `text${` (head), `}text${` (middle), `}text`` (tail), the substitutions' tokens in between."""
    text, end, closed = _read_template(src, start, opening)
    kind = ("str" if closed else "template_head") if first else "template_tail" if closed else "template_middle"
    return _Tok(kind, text, start - 1, end)


def _tokenize(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(src)
    # one entry per open `{` or `${`: where the template literal that a `${` is part of started, else -1
    braces: list[int] = []
    while i < n:
        c = src[i]
        if c in _JS_WS:
            i += 1
        elif c == "`" or (c == "}" and braces and braces[-1] >= 0):
            opening = i if c == "`" else braces.pop()
            tok = _template_token(src, i + 1, opening, c == "`")
            if tok.kind in ("template_head", "template_middle"):
                braces.append(opening)
            toks.append(tok)
            i = tok.end
        elif "0" <= c <= "9" or (c == "." and "0" <= src[i + 1 : i + 2] <= "9"):
            m = _NUM_TOKEN_RE.match(src, i)
            end = m.end() if m else i
            value = _str_to_num(src[i:end])
            if end == i or (end < n and (src[end].isalnum() or src[end] in "_$")) or value != value:
                raise _syntax_error(src, i, "Invalid number")
            toks.append(_Tok("num", value, i, end))
            i = end
        elif c in "'\"":
            text, i_next = _read_string(src, i)
            toks.append(_Tok("str", text, i, i_next))
            i = i_next
        elif m := _IDENT_RE.match(src, i):
            toks.append(_Tok("name", m.group(), i, m.end()))
            i = m.end()
        elif c == "/" and _regex_allowed(toks):
            rx, i_next = _read_regex(src, i)
            toks.append(_Tok("regex", rx, i, i_next))
            i = i_next
        else:
            p = next((p for p in _PUNCTS if src.startswith(p, i)), None)
            if p is None:
                raise _syntax_error(src, i, f"Unexpected token '{c}'")
            if p == "?." and src[i + 2 : i + 3].isdigit():
                p = "?"  # `a?.5:b` is a ternary, as in JS
            elif p == "{":
                braces.append(-1)
            elif p == "}" and braces:
                braces.pop()
            toks.append(_Tok("punct", p, i, i + len(p)))
            i += len(p)
    toks.append(_Tok("eof", None, n, n))
    return toks


class _Parser:
    def __init__(self, src: str) -> None:
        self.src, self.toks, self.i, self.depth = src, _tokenize(src), 0, 0
        self.parenthesized: set[int] = set()
        self.params: list[tuple[str, ...]] = []  # of the arrow functions around the current position

    def _error(self, tok: _Tok) -> ExpressionError:
        what = {"eof": "end of input", "num": "number", "str": "string"}.get(tok.kind, f"token '{tok.value}'")
        what = "template string" if tok.kind.startswith("template") else what
        return _syntax_error(self.src, tok.pos, f"Unexpected {what}")

    def _at(self, punct: str) -> bool:
        tok = self.toks[self.i]
        return tok.kind == "punct" and tok.value == punct

    def _expect(self, punct: str) -> None:
        if not self._at(punct):
            raise self._error(self.toks[self.i])
        self.i += 1

    def _nest(self, delta: int) -> None:
        """Bounds recursion so hostile input gets an ExpressionError instead of a RecursionError."""
        self.depth += delta
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"SyntaxError: expression nested deeper than {MAX_DEPTH} levels")

    def parse(self) -> _Node:
        node = self._expr(0)
        if self.toks[self.i].kind != "eof":
            raise self._error(self.toks[self.i])
        return node

    def _expr(self, min_bp: int) -> _Node:
        self._nest(1)
        if min_bp < _TERNARY_BP and (arrow := self._arrow_params()) is not None:
            node = self._arrow(*arrow)  # an AssignmentExpression: nothing binds tighter around it
            self._nest(-1)
            return node
        first = self.toks[self.i]
        unary = (first.kind, first.value) in _UNARY_OPERATORS  # until an operator makes `left` a binary node
        left = self._unary()
        while (tok := self.toks[self.i]).kind == "punct" or (tok.kind == "name" and tok.value in _WORD_OPERATORS):
            if tok.value == "?" and _TERNARY_BP > min_bp:
                self.i += 1
                then = self._expr(0)
                self._expect(":")
                left = _Node("cond", left, then, self._expr(_TERNARY_BP - 1))  # right-associative
                continue
            bp = _BP.get(tok.value)
            if bp is None or bp <= min_bp:
                break
            if tok.value == "**" and unary:
                raise _syntax_error(self.src, tok.pos, "Unary operator used immediately before exponentiation "
                                    "expression. Parenthesis must be used to disambiguate operator precedence")
            unary = False
            self.i += 1
            right = self._expr(bp - 1 if tok.value == "**" else bp)  # `**` is right-associative
            left = _Node("binary", tok.value, left, right)
            if tok.value in ("??", "||", "&&") and any(self._mixes_nullish(tok.value, n) for n in left[2:4]):
                raise _syntax_error(self.src, tok.pos, f"Unexpected token '{tok.value}'")
        self._nest(-1)
        return left

    def _arrow_params(self) -> tuple[tuple[str, ...], int] | None:
        """Looks ahead for `x =>` or `(a, b) =>`; on a match, consumes the parameters and the arrow and
        returns the parameter names and where the function's source text starts."""
        toks, j = self.toks, self.i
        names: list[_Tok] = []
        if toks[j].kind == "name" and _is(toks[j + 1], "=>"):
            names.append(toks[j])
            j += 1
        elif _is(toks[j], "("):
            j += 1
            while toks[j].kind == "name":
                names.append(toks[j])
                j += 1
                if not _is(toks[j], ","):
                    break
                j += 1
            if not (_is(toks[j], ")") and _is(toks[j + 1], "=>")):
                return None
            j += 1
        else:
            return None
        if any(c in _LINE_BREAKS for c in self.src[toks[j - 1].end : toks[j].pos]):
            raise self._error(toks[j])  # no line break is allowed before `=>`
        seen: set[str] = set()
        for tok in names:
            if tok.value in _RESERVED or tok.value in ("true", "false", "null"):
                raise self._error(tok)
            if tok.value in seen:
                raise _syntax_error(self.src, tok.pos, "Duplicate parameter name not allowed in this context")
            seen.add(tok.value)
        start, self.i = toks[self.i].pos, j + 1
        return tuple(t.value for t in names), start

    def _arrow(self, params: tuple[str, ...], start: int) -> _Node:
        """An arrow function's body: an expression, or a block holding at most one `return` statement."""
        self.params.append(params)
        if self._at("{"):
            self.i += 1
            body = _Node("lit", UNDEFINED)
            while self._at(";"):
                self.i += 1
            tok = self.toks[self.i]
            if tok.kind == "name" and tok.value == "return":
                self.i += 1
                after = self.toks[self.i]
                if not (after.kind == "punct" and after.value in (";", "}")):
                    if any(c in _LINE_BREAKS for c in self.src[tok.end : after.pos]):
                        raise _syntax_error(self.src, after.pos, "Unsupported statement after `return`")
                    body = self._expr(0)
                while self._at(";"):
                    self.i += 1
            self._expect("}")
        else:
            body = self._expr(0)
        self.params.pop()
        return _Node("arrow", params, body, self.src[start : self.toks[self.i - 1].end])

    def _mixes_nullish(self, op: str, operand: _Node) -> bool:
        """JS forbids mixing ``??`` with ``||``/``&&`` unless one side is parenthesized."""
        if operand.kind != "binary" or id(operand) in self.parenthesized:
            return False
        return (operand.a == "??") != (op == "??") and operand.a in ("??", "||", "&&")

    def _unary(self) -> _Node:
        tok = self.toks[self.i]
        if (tok.kind, tok.value) in _UNARY_OPERATORS:
            self.i += 1
            self._nest(1)
            arg = self._unary()
            self._nest(-1)
            if tok.value == "-" and arg.kind == "lit" and _tag(arg.a) == "number":
                return _Node("lit", _negate(arg.a))
            return _Node("unary", tok.value, arg)
        return self._postfix(tok.pos, self._primary())

    def _list(self, close: str) -> tuple[_Node, ...]:
        items: list[_Node] = []
        while not self._at(close):
            items.append(self._expr(0))
            if not self._at(","):
                break
            self.i += 1
        self._expect(close)
        return tuple(items)

    def _primary(self) -> _Node:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind in ("num", "str", "regex"):
            return _Node("lit", tok.value)
        if tok.kind == "name" and tok.value in _KEYWORD_LITERALS:
            if tok.value == "undefined" and any("undefined" in p for p in self.params):
                return _Node("ident", tok.value)  # not a keyword: a parameter may shadow it
            return _Node("lit", _KEYWORD_LITERALS[tok.value])
        if tok.kind == "name" and tok.value not in _RESERVED:
            return _Node("ident", tok.value)
        if tok.kind == "name" and tok.value == "new":
            return self._new(tok)
        if tok.kind == "template_head":
            return self._template(tok)
        if tok.kind == "punct" and tok.value == "(":
            node = self._expr(0)
            self._expect(")")
            self.parenthesized.add(id(node))
            return node
        if tok.kind == "punct" and tok.value == "[":
            return _Node("array", self._list("]"))
        raise self._error(tok)

    def _new(self, tok: _Tok) -> _Node:
        """`new Date(...)` (or `new Date`): the one constructor conditions need; other classes would bring
        objects the interpreter does not model."""
        name = self.toks[self.i]
        if name.kind != "name" or name.value != "Date":
            raise _syntax_error(self.src, tok.pos, "Unsupported `new`: only `new Date(...)` is available")
        self.i += 1
        args: tuple[_Node, ...] = ()
        if self._at("("):
            self.i += 1
            args = self._list(")")
        return _Node("new", _Node("ident", "Date"), args)

    def _template(self, head: _Tok) -> _Node:
        """`text${a}text${b}text`: the texts and the substitutions between them."""
        texts, substitutions = [head.value], []
        while True:
            substitutions.append(self._expr(0))
            tok = self.toks[self.i]
            if tok.kind not in ("template_middle", "template_tail"):
                raise self._error(tok)
            self.i += 1
            texts.append(tok.value)
            if tok.kind == "template_tail":
                return _Node("template", tuple(texts), tuple(substitutions))

    def _name(self) -> _Node:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind != "name":
            raise self._error(tok)
        return _Node("lit", tok.value)

    def _postfix(self, start: int, node: _Node) -> _Node:
        chained = False
        while (tok := self.toks[self.i]).kind == "punct" and tok.value in ("?.", ".", "[", "("):
            self.i += 1
            optional = tok.value == "?."
            chained = chained or optional
            if tok.value == "(" or optional and self._at("("):
                self.i += optional
                text = self.src[start : tok.pos].strip()
                node = _Node("call", node, self._list(")"), optional, text)
            elif tok.value == "[" or optional and self._at("["):
                self.i += optional
                node = _Node("member", node, self._expr(0), optional)
                self._expect("]")
            else:
                node = _Node("member", node, self._name(), optional)
        return _Node("chain", node) if chained else node


# ---------------------------------------------------------------- compiler


def _nullish(v: Any) -> bool:
    return v is None or v is UNDEFINED


class _Frame:
    """The parameters of one arrow-function call; ``parent`` is the frame or Scope the function was
    created in, so that its body also sees the enclosing variables (a closure)."""

    __slots__ = ("values", "parent")

    def __init__(self, values: list[Any], parent: Any) -> None:
        self.values, self.parent = values, parent


class _Calls(threading.local):
    """Arrow-function calls in progress and made so far, per thread: no expression may recurse without
    end (`(f => f(f))(f => f(f))`) or call functions a practically unbounded number of times."""

    depth = 0
    total = 0


_CALLS: Final = _Calls()


def _compile_param(up: int, i: int) -> _Fn:
    """The ``i``-th parameter of the arrow function ``up`` levels out from the current body."""
    if up == 0:
        return lambda s: s.values[i]

    def param(s: Any) -> Any:
        for _ in range(up):
            s = s.parent
        return s.values[i]

    return param


def _compile_ident(name: str, env: _Env) -> _Fn:
    """Parameters are resolved at compile time to a slot of an enclosing frame; other names are read
    from the Scope at the root of the frames."""
    for up, params in enumerate(reversed(env)):
        if name in params:
            return _compile_param(up, params.index(name))
    if name in _GLOBALS:
        default = _GLOBALS[name]
        get: _Fn = lambda s: s.get(name, default)  # noqa: E731
    else:

        def get(s: Scope) -> Any:
            try:
                return s[name]
            except KeyError:
                raise ExpressionError(f"ReferenceError: {name} is not defined") from None

    levels = len(env)
    if levels == 0:
        return get
    if levels == 1:
        return lambda s: get(s.parent)

    def outer(s: Any) -> Any:
        for _ in range(levels):
            s = s.parent
        return get(s)

    return outer


def _compile_arrow(node: _Node, depth: int, env: _Env) -> _Fn:
    params, text = node.a, node.c
    n = len(params)
    body = _compile(node.b, depth, (*env, params), depth)

    def make(s: Any) -> _JSFunction:
        def call(_this: Any, args: list[Any]) -> Any:
            calls = _CALLS
            calls.total += 1
            if calls.total > MAX_CALLS:
                raise ExpressionError(f"Error: Script execution timed out (more than {MAX_CALLS} function calls)")
            values = args[:n] if len(args) >= n else [*args, *[UNDEFINED] * (n - len(args))]
            return body(_Frame(values, s))

        return _JSFunction("", call, text, n)

    return make


def _compile_template(texts: tuple[str, ...], substitutions: list[_Fn]) -> _Fn:
    """A template literal: each substitution converted as String(value) does (a Date prints its
    toString), the whole bounded like any other string the expression builds."""

    def template(s: Any) -> str:
        out = _Output()
        out.add(texts[0])
        for fn, text in zip(substitutions, texts[1:], strict=True):
            out.add(js_to_string(fn(s)))
            out.add(text)
        return out.text()

    return template


def _compile_new(ctor_fn: _Fn, arg_fns: list[_Fn]) -> _Fn:
    """`new Date(...)`: ``Date`` is looked up like any name, so a parameter or scope key may shadow it."""

    def construct(s: Any) -> _JSDate:
        ctor = ctor_fn(s)
        args = [a(s) for a in arg_fns]
        if ctor is not _DATE:
            raise JSTypeError("Date is not a constructor")
        return _JSDate(_date_from_args(args))

    return construct


def _compile(node: _Node, depth: int, env: _Env = (), base: int = 0) -> _Fn:
    """Turns the AST into nested closures, which is much cheaper per evaluation than walking it.  Inside an
    arrow function's body, ``env`` holds the parameter names in scope and ``base`` the depth of the body."""
    if depth > MAX_DEPTH:
        raise ExpressionError(f"SyntaxError: expression nested deeper than {MAX_DEPTH} levels")
    kind, sub = node.kind, depth + 1
    if kind == "lit":
        value = node.a
        return lambda s: value
    if kind == "ident":
        return _compile_ident(node.a, env)
    if kind == "arrow":
        return _compile_arrow(node, sub, env)
    if kind == "member":
        obj_fn, optional = _compile(node.a, sub, env, base), node.c
        if node.b.kind == "lit":
            key = node.b.a
            dict_key = js_to_string(key)
            plain = dict_key not in _OBJECT_PROTO  # else a dict without that own key inherits the method

            def member(s: Scope) -> Any:
                obj = obj_fn(s)
                if plain and type(obj) is dict:
                    return obj.get(dict_key, UNDEFINED)
                if optional and _nullish(obj):
                    raise _ShortCircuit
                return _get_prop(obj, key)

            return member
        key_fn = _compile(node.b, sub, env, base)

        def computed(s: Scope) -> Any:
            obj = obj_fn(s)
            if optional and _nullish(obj):
                raise _ShortCircuit
            return _get_prop(obj, key_fn(s))

        return computed
    if kind == "call":
        arg_fns = [_compile(a, sub, env, base) for a in node.b]
        callee, optional_call, text = node.a, node.c, node.d
        cost = depth - base + 4  # about the Python frames between the function body and this call

        def invoke(fn: Any, this: Any, s: Scope) -> Any:
            if optional_call and _nullish(fn):
                raise _ShortCircuit
            args = [a(s) for a in arg_fns]  # JS evaluates arguments before checking the callee
            if not isinstance(fn, _JSFunction):
                raise JSTypeError(f"{text} is not a function")
            if not env:
                return fn.impl(this, args)  # recursion needs a call inside a function body
            calls = _CALLS
            if calls.depth + cost > MAX_STACK:
                raise ExpressionError("RangeError: Maximum call stack size exceeded")
            calls.depth += cost
            try:
                return fn.impl(this, args)
            finally:
                calls.depth -= cost

        if callee.kind != "member":
            callee_fn = _compile(callee, sub, env, base)
            return lambda s: invoke(callee_fn(s), UNDEFINED, s)
        this_fn, prop_fn = _compile(callee.a, sub, env, base), _compile(callee.b, sub, env, base)
        optional_member = callee.c

        def method_call(s: Scope) -> Any:
            this = this_fn(s)
            if optional_member and _nullish(this):
                raise _ShortCircuit
            return invoke(_get_prop(this, prop_fn(s)), this, s)

        return method_call
    if kind == "unary":
        op, arg_fn = node.a, _compile(node.b, sub, env, base)
        if op == "!":
            return lambda s: not js_truthy(arg_fn(s))
        if op == "-":
            return lambda s: _negate(arg_fn(s))
        if op == "+":
            return lambda s: js_to_number(arg_fn(s))

        def typeof(s: Scope) -> str:
            try:
                return js_typeof(arg_fn(s))
            except ExpressionError:
                if node.b.kind == "ident":  # an undeclared variable is "undefined", not a ReferenceError
                    return "undefined"
                raise

        return typeof
    if kind == "binary":
        op, left, right = node.a, _compile(node.b, sub, env, base), _compile(node.c, sub, env, base)
        if op == "&&":
            return lambda s: right(s) if js_truthy(v := left(s)) else v
        if op == "||":
            return lambda s: v if js_truthy(v := left(s)) else right(s)
        if op == "??":
            return lambda s: right(s) if _nullish(v := left(s)) else v
        fn = _BINARY[op]
        if node.c.kind == "lit":
            const = node.c.a
            return lambda s: fn(left(s), const)
        return lambda s: fn(left(s), right(s))
    if kind == "cond":
        test, then, other = (_compile(n, sub, env, base) for n in (node.a, node.b, node.c))
        return lambda s: then(s) if js_truthy(test(s)) else other(s)
    if kind == "array":
        item_fns = [_compile(i, sub, env, base) for i in node.a]
        return lambda s: [f(s) for f in item_fns]
    if kind == "template":
        return _compile_template(node.a, [_compile(e, sub, env, base) for e in node.b])
    if kind == "new":
        return _compile_new(_compile(node.a, sub, env, base), [_compile(a, sub, env, base) for a in node.b])
    inner = _compile(node.a, sub, env, base)

    def chain(s: Scope) -> Any:
        try:
            return inner(s)
        except _ShortCircuit:
            return UNDEFINED

    return chain


class Expression:
    """A compiled expression; immutable, so the compile cache can share it between callers."""

    __slots__ = ("source", "_fn", "_has_functions")

    def __init__(self, source: str, fn: _Fn) -> None:
        self.source, self._fn = source, fn
        self._has_functions = "=>" in source  # only arrow functions count towards MAX_CALLS

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        if self._has_functions:
            _CALLS.total = 0
        try:
            return self._fn(scope)
        except ExpressionError:
            raise
        except RecursionError:
            raise ExpressionError("RangeError: Maximum call stack size exceeded") from None
        except TimeoutError:
            raise ExpressionError(f"Error: a regular expression ran over {_RX_TIME} s") from None
        except Exception as exc:  # e.g. ints in the data too large to divide: still just a failed condition
            raise ExpressionError(f"Error: {exc!r}") from exc

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(f"SyntaxError: expression longer than {MAX_SOURCE_LENGTH} characters")
    return Expression(source, _compile(_Parser(source).parse(), 0))


def evaluate_condition(source: str, scope: Mapping[str, Any]) -> bool:
    """Botpress semantics: a TypeError (e.g. reading a property of undefined) just means "no match"."""
    if source.strip() == "true":
        return True
    expression = compile_expression(source)
    try:
        return js_truthy(expression.evaluate(scope))
    except JSTypeError:
        return False
