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
import re
import threading
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
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
    members: dict[str, _JSFunction]


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
    return f"[object {value.name}]" if isinstance(value, _Namespace) else "[object Object]"


def _to_primitive(v: Any) -> Any:
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


def _concat(a: str, b: str) -> str:
    """Joining the halves of a surrogate pair (e.g. from ``split('')``) must yield the real character."""
    if len(a) + len(b) > MAX_STRING:
        raise ExpressionError("RangeError: Invalid string length")
    if a and b and "\ud800" <= a[-1] <= "\udbff" and "\udc00" <= b[0] <= "\udfff":
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
    a, b = _to_primitive(a), _to_primitive(b)
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
    "<": lambda a, b: _compare(a, b, lambda x, y: x < y),
    "<=": lambda a, b: _compare(a, b, lambda x, y: x <= y),
    ">": lambda a, b: _compare(a, b, lambda x, y: x > y),
    ">=": lambda a, b: _compare(a, b, lambda x, y: x >= y),
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


def _split(s: str, args: list[Any]) -> list[str]:
    sep, limit = _arg(args, 0), _arg(args, 1)
    n = 2**32 - 1 if limit is UNDEFINED else _to_uint32(limit)
    if sep is UNDEFINED:
        return [s][:n]
    sep = js_to_string(sep)
    return (list(s) if sep == "" else s.split(sep))[:n]


def _to_regexp(v: Any) -> _JSRegExp:
    """What String match/search make of their argument: `new RegExp(v)`, so a string is a pattern."""
    if isinstance(v, _JSRegExp):
        return v
    return _make_regexp("(?:)" if v is UNDEFINED else js_to_string(v), "")


def _groups(m: bounded_regex.Match) -> list[Any]:
    return [m.group(0), *(UNDEFINED if g is None else g for g in m.groups())]


def _match(s: str, args: list[Any]) -> Any:
    rx = _to_regexp(_arg(args, 0))
    if "g" in rx.flags:
        return [m.group(0) for m in rx.pattern.finditer(s, timeout=_RX_TIME)] or None
    m = rx.pattern.search(s, timeout=_RX_TIME)
    return None if m is None else _groups(m)


def _search(s: str, args: list[Any]) -> int:
    m = _to_regexp(_arg(args, 0)).pattern.search(s, timeout=_RX_TIME)
    return -1 if m is None else m.start()


def _expand(m: bounded_regex.Match, replacement: str, s: str) -> str:
    def one(t: re.Match[str]) -> str:
        token = t.group(1)
        if token == "$":
            return "$"
        if token == "&":
            return m.group(0)
        if token == "`":
            return s[: m.start()]
        if token == "'":
            return s[m.end() :]
        if token.startswith("<"):
            name = token[1:-1]
            return (m.groupdict().get(name) or "") if m.re.groupindex else t.group(0)
        n = int(token)
        if 0 < n <= m.re.groups:
            return m.group(n) or ""
        if len(token) == 2 and 0 < int(token[0]) <= m.re.groups:  # `$12` with one group: `$1` then "2"
            return (m.group(int(token[0])) or "") + token[1]
        return t.group(0)

    return re.sub(r"\$([$&`']|\d\d?|<[^>]*>)", one, replacement)


def _replace_regexp(s: str, rx: _JSRegExp, replacement: str) -> str:
    return rx.pattern.sub(lambda m: _expand(m, replacement, s), s, count=0 if "g" in rx.flags else 1,
                          timeout=_RX_TIME)


def _replace(s: str, args: list[Any]) -> str:
    if isinstance(_arg(args, 0), _JSRegExp):
        return _replace_regexp(s, _arg(args, 0), js_to_string(_arg(args, 1)))
    pattern, replacement = js_to_string(_arg(args, 0)), js_to_string(_arg(args, 1))
    at = s.find(pattern)
    if at < 0:
        return s
    after = at + len(pattern)
    subs = {"$": "$", "&": pattern, "`": s[:at], "'": s[after:]}
    return s[:at] + re.sub(r"\$([$&`'])", lambda m: subs[m.group(1)], replacement) + s[after:]


_STRING_IMPLS: Final[dict[str, Callable[[str, list[Any]], Any]]] = {
    "startsWith": lambda s, a: s.startswith(js_to_string(_arg(a, 0)), _clamp(_arg(a, 1), len(s), 0)),
    "endsWith": lambda s, a: s.endswith(js_to_string(_arg(a, 0)), 0, _clamp(_arg(a, 1), len(s), len(s))),
    "includes": lambda s, a: s.find(js_to_string(_arg(a, 0)), _clamp(_arg(a, 1), len(s), 0)) >= 0,
    "indexOf": lambda s, a: s.find(js_to_string(_arg(a, 0)), _clamp(_arg(a, 1), len(s), 0)),
    "toLowerCase": lambda s, a: s.lower(),
    "toUpperCase": lambda s, a: s.upper(),
    "trim": lambda s, a: s.strip(_JS_WS),
    "trimStart": lambda s, a: s.lstrip(_JS_WS),
    "trimEnd": lambda s, a: s.rstrip(_JS_WS),
    "charAt": _char_at,
    "lastIndexOf": _last_index_of,
    "toString": lambda s, a: s,
    "slice": lambda s, a: s[_relative(_arg(a, 0), len(s), 0) : _relative(_arg(a, 1), len(s), len(s))],
    "substring": _substring,
    "split": _split,
    "replace": _replace,
    "match": _match,
    "search": _search,
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
    out = _bounded_string(sep.join("" if e is None or e is UNDEFINED else js_to_string(e) for e in arr))
    # the halves of a surrogate pair (from `split('')`) joined back together make the real character
    return _from_u16(out) if not out.isascii() and _LONE_SURROGATE.search(out) else out


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
        return key in ("length", "name")
    if isinstance(this, _JSRegExp):
        return key == "lastIndex"
    return key in this.members if isinstance(this, _Namespace) else False


_STRING_METHODS: Final = {name: _string_method(name, fn) for name, fn in _STRING_IMPLS.items()}
_ARRAY_METHODS: Final = {
    "includes": _JSFunction("includes", _includes),
    "indexOf": _JSFunction("indexOf", _index_of),
    "join": _JSFunction("join", _join),
    "flat": _JSFunction("flat", _flat),
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
_NUMBER_METHODS: Final = {
    "toString": _JSFunction("toString", _number_to_string),
    "toFixed": _JSFunction("toFixed", _to_fixed),
}
_BOOLEAN_METHODS: Final = {"toString": _JSFunction("toString", _to_string)}
_ARRAY_METHODS["toString"] = _JSFunction("toString", _to_string)
# Every object inherits these from Object.prototype unless it has an own property of the same name.
_OBJECT_PROTO: Final[dict[str, Any]] = {"hasOwnProperty": _JSFunction("hasOwnProperty", _has_own_property),
                                        "toString": _JSFunction("toString", _to_string)}
_DIGITS: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_PARSE_FLOAT_RE: Final = re.compile(_NUM_TEXT_RE.pattern, re.ASCII)


def _parse_int(_this: Any, args: list[Any]) -> int | float:
    s = js_to_string(_arg(args, 0)).lstrip(_JS_WS)
    sign = -1 if s[:1] == "-" else 1
    s = s[1:] if s[:1] in ("-", "+") else s
    radix = _to_uint32(_arg(args, 1))
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


def _object_keys(_this: Any, args: list[Any]) -> list[str]:
    v = _arg(args, 0)
    if v is None or v is UNDEFINED:
        raise JSTypeError("Cannot convert undefined or null to object")
    if isinstance(v, Mapping):
        return [js_to_string(k) for k in v]
    return [str(i) for i in range(js_length(v) if isinstance(v, str) else len(v) if isinstance(v, list) else 0)]


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


def _extreme(pick: Callable[..., Any], empty: float) -> Callable[[Any, list[Any]], Any]:
    def impl(_this: Any, args: list[Any]) -> Any:
        nums = [js_to_number(a) for a in args]
        return _NAN if any(n != n for n in nums) else pick(nums, default=empty)

    return impl


_GLOBALS: Final[dict[str, Any]] = {
    "Number": _JSFunction("Number", lambda _t, a: js_to_number(a[0]) if a else 0),
    "String": _JSFunction("String", lambda _t, a: js_to_string(a[0]) if a else ""),
    "Boolean": _JSFunction("Boolean", lambda _t, a: js_truthy(_arg(a, 0))),
    "parseInt": _JSFunction("parseInt", _parse_int),
    "parseFloat": _JSFunction("parseFloat", _parse_float),
    "isNaN": _JSFunction("isNaN", lambda _t, a: math.isnan(js_to_number(_arg(a, 0)))),
    "NaN": _NAN,
    "Infinity": _INF,
    "Math": _Namespace("Math", {
        "abs": _JSFunction("abs", _math(abs)),
        "floor": _JSFunction("floor", _math(math.floor)),
        "ceil": _JSFunction("ceil", _math(math.ceil)),
        "round": _JSFunction("round", _math(lambda n: math.floor(n) + (n - math.floor(n) >= 0.5))),
        "min": _JSFunction("min", _extreme(min, _INF)),
        "max": _JSFunction("max", _extreme(max, -_INF)),
    }),
    "JSON": _Namespace("JSON", {
        "stringify": _JSFunction("stringify", _json_stringify),
    }),
    "Object": _Namespace("Object", {"keys": _JSFunction("keys", _object_keys)}),
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
        return len(obj) if key == "length" else _ARRAY_METHODS.get(key) or _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, _JSRegExp):
        return _regexp_prop(obj, key)
    if isinstance(obj, _JSFunction):
        own = {"name": obj.name, "length": obj.length}.get(key)
        return own if own is not None else _OBJECT_PROTO.get(key, UNDEFINED)
    if isinstance(obj, _Namespace):
        return obj.members.get(key) or _OBJECT_PROTO.get(key, UNDEFINED)
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


# ---------------------------------------------------------------- tokenizer and parser


class _Tok(NamedTuple):
    kind: str  # "num", "str", "name", "punct", "eof"
    value: Any
    pos: int
    end: int


class _Node(NamedTuple):
    """AST node.  kind: lit(value) ident(name) member(obj, prop, optional) call(callee, args, optional,
    text) unary(op, arg) binary(op, left, right) cond(test, then, other) array(items) chain(expr)
    arrow(params, body, text)."""

    kind: str
    a: Any = None
    b: Any = None
    c: Any = None
    d: Any = None


_NUM_TOKEN_RE: Final = re.compile(r"0[xXoObB][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_IDENT_RE: Final = re.compile(r"(?:[^\W\d]|\$)(?:\w|\$)*")
_PUNCTS: Final = ("===", "!==", "==", "!=", "=>", "<=", ">=", "&&", "||", "??", "?.", "++", "--",
                  *"+-*/%<>!()[].,?:{};")  # ++ and -- are recognised only to be rejected
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "\n": ""}
_BP: Final = {"??": 3, "||": 3, "&&": 4, "==": 8, "!=": 8, "===": 8, "!==": 8, "<": 9, "<=": 9, ">": 9,
              ">=": 9, "+": 11, "-": 11, "*": 12, "/": 12, "%": 12}
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


def _read_string(src: str, start: int) -> tuple[str, int]:
    quote, i, out = src[start], start + 1, []
    while i < len(src) and src[i] not in (quote, "\n"):
        if src[i] == "\\" and i + 1 < len(src):
            e = src[i + 1]
            width = 4 if e == "u" else 2 if e == "x" else 0
            if width:
                digits = src[i + 2 : i + 2 + width]
                if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    raise _syntax_error(src, i, "Invalid escape sequence")
                out.append(chr(int(digits, 16)))
            else:
                out.append(_ESCAPES.get(e, e))
            i += 2 + width
        else:
            out.append(src[i])
            i += 1
    if i >= len(src) or src[i] != quote:
        raise _syntax_error(src, start, "Unterminated string")
    return _from_u16("".join(out)), i + 1


def _regex_allowed(toks: list[_Tok]) -> bool:
    """A `/` starts a regular expression where an operand is expected, else it divides."""
    if not toks:
        return True
    last = toks[-1]
    if last.kind == "punct":
        return last.value not in (")", "]")
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


def _tokenize(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in _JS_WS:
            i += 1
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
        left = self._unary()
        while (tok := self.toks[self.i]).kind == "punct":
            if tok.value == "?" and _TERNARY_BP > min_bp:
                self.i += 1
                then = self._expr(0)
                self._expect(":")
                left = _Node("cond", left, then, self._expr(_TERNARY_BP - 1))  # right-associative
                continue
            bp = _BP.get(tok.value)
            if bp is None or bp <= min_bp:
                break
            self.i += 1
            left = _Node("binary", tok.value, left, self._expr(bp))
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
        if (tok.kind, tok.value) in (("punct", "!"), ("punct", "-"), ("punct", "+"), ("name", "typeof")):
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
        if tok.kind == "punct" and tok.value == "(":
            node = self._expr(0)
            self._expect(")")
            self.parenthesized.add(id(node))
            return node
        if tok.kind == "punct" and tok.value == "[":
            return _Node("array", self._list("]"))
        raise self._error(tok)

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
