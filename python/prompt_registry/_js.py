"""JavaScript value semantics the template engine needs to match the server.

The registry renders templates with Handlebars on Node.js, so what a value
prints as, whether it counts as true, and which properties a path can reach
follow JavaScript's rules. The values here are what ``json.loads`` gives
(dict, list, str, int, float, bool, None), plus tuples (treated as lists).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Iterator

__all__ = [
    "MISSING",
    "NULL_CONTEXT",
    "number_to_string",
    "to_property_key",
    "truthy",
    "is_empty",
    "loose_equal",
    "get_property",
    "own_keys",
    "describe",
]


class _Missing:
    """JavaScript's ``undefined``: a value that is not there (``None`` is ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

# Handlebars passes a sealed empty object as `this` to helpers when the
# current context is null; it is an object, so it is truthy and prints as one.
NULL_CONTEXT: dict = {}

_MAX_SAFE = 2**53


def number_to_string(value: float | int) -> str:
    """``String(value)`` for a JavaScript number (Number.prototype.toString)."""
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        if -_MAX_SAFE <= value <= _MAX_SAFE:
            return str(int(value))
        try:
            value = float(value)
        except OverflowError:
            return "Infinity" if value > 0 else "-Infinity"
    x = float(value)
    if x != x:
        return "NaN"
    if x in (math.inf, -math.inf):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) <= _MAX_SAFE:
        return str(int(x))
    sign = "-" if x < 0 else ""
    # repr() gives the shortest digits that round-trip, as JavaScript does;
    # only the layout (where the point goes, when to use an exponent) differs.
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + exponent
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp = ("+" if e >= 0 else "-") + str(abs(e))
    if k == 1:
        return sign + digits + "e" + exp
    return sign + digits[0] + "." + digits[1:] + "e" + exp


def to_string(value: Any) -> str:
    """``String(value)`` for a JSON-like value (used for property keys and ``==``)."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if value is MISSING:
        return "undefined"
    if isinstance(value, (int, float)):
        return number_to_string(value)
    if isinstance(value, (list, tuple)):
        return ",".join("" if v is None or v is MISSING else to_string(v) for v in value)
    return "[object Object]"


def to_property_key(value: Any) -> str:
    """The property name JavaScript uses for ``obj[value]``."""
    return value if type(value) is str else to_string(value)


def json_key(key: Any) -> str:
    """The text ``json.dumps`` writes for a dict key: what the server sees as the key."""
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        if key != key:
            return "NaN"
        if key in (math.inf, -math.inf):
            return "Infinity" if key > 0 else "-Infinity"
        return float.__repr__(key)
    return str(key)


def truthy(value: Any) -> bool:
    """JavaScript truthiness: ``{}`` and ``[]`` are true; ``0``, ``""``, null, undefined, NaN false."""
    if value is None or value is MISSING or value is False or value is True:
        return value is True
    t = type(value)
    if t is str:
        return value != ""
    if t is int:
        return value != 0
    if t is float:
        return value == value and value != 0
    if isinstance(value, str):
        return len(value) > 0
    if isinstance(value, (int, float)):
        return value == value and value != 0
    return True


def is_empty(value: Any) -> bool:
    """Handlebars' ``isEmpty``: falsy but not 0, or an empty list."""
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    if not truthy(value):
        return not (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)
    return False


def _to_number(value: Any) -> float:
    """``Number(value)`` for a primitive."""
    if value is True:
        return 1.0
    if value is False or value is None:
        return 0.0
    if value is MISSING:
        return math.nan
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    text = str(value).strip(_JS_SPACE)
    if text == "":
        return 0.0
    lowered = text.lower()
    try:
        if lowered.startswith(("0x", "0o", "0b")):
            return float(int(text[2:], {"x": 16, "o": 8, "b": 2}[lowered[1]]))
        if text in ("Infinity", "+Infinity", "-Infinity"):
            return math.inf if text[0] != "-" else -math.inf
        if "_" in text or "inf" in lowered or "nan" in lowered:
            return math.nan
        return float(text)
    except ValueError:
        return math.nan


_JS_SPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def _is_object(value: Any) -> bool:
    return not (value is None or value is MISSING or isinstance(value, (str, int, float)))


def loose_equal(a: Any, b: Any) -> bool:
    """JavaScript's ``a == b`` for JSON-like values (objects compare by identity)."""
    if a is b:
        return True
    a_null = a is None or a is MISSING
    b_null = b is None or b is MISSING
    if a_null or b_null:
        return a_null and b_null
    a_obj, b_obj = _is_object(a), _is_object(b)
    if a_obj and b_obj:
        return False
    if a_obj:
        a = to_string(a)
    if b_obj:
        b = to_string(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    x, y = _to_number(a), _to_number(b)
    return x == y


def _utf16_units(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _array_index(key: str) -> int:
    """The list index a property name denotes, or -1 (only canonical forms: "0", "12")."""
    if key.isdigit() and key.isascii() and (key == "0" or key[0] != "0"):
        return int(key)
    return -1


def get_property(obj: Any, key: Any) -> Any:
    """``lookupProperty(obj, key)``: an own property of ``obj``, else MISSING.

    Handlebars only reads own properties (never the prototype), so a dict
    gives its keys, a list its indexes and ``length``, a string its
    characters (UTF-16 code units) and ``length``; numbers and booleans none.
    """
    if type(key) is not str:
        key = to_property_key(key)
    t = type(obj)
    if t is dict:
        found = obj.get(key, MISSING)
        if found is MISSING and obj:
            return _nonstr_key_lookup(obj, key)
        return found
    if t is list or t is tuple:
        if key == "length":
            return len(obj)
        i = _array_index(key)
        return obj[i] if 0 <= i < len(obj) else MISSING
    if t is str:
        return _string_property(obj, key)
    if obj is None or obj is MISSING or isinstance(obj, (bool, int, float)):
        return MISSING
    if isinstance(obj, str):
        return _string_property(str(obj), key)
    if isinstance(obj, Mapping):
        found = obj.get(key, MISSING)
        if found is MISSING and len(obj):
            return _nonstr_key_lookup(obj, key)
        return found
    if isinstance(obj, (list, tuple)):
        return get_property(list(obj), key)
    return MISSING


def _nonstr_key_lookup(obj: Mapping, key: str) -> Any:
    # A Python dict may have int/float/bool/None keys; the server sees them
    # as the strings json.dumps writes.
    for k in obj:
        if type(k) is not str and json_key(k) == key:
            return obj[k]
    return MISSING


def _string_property(text: str, key: str) -> Any:
    if key == "length":
        return _utf16_units(text)
    i = _array_index(key)
    if i < 0:
        return MISSING
    if text.isascii():
        return text[i] if i < len(text) else MISSING
    units = text.encode("utf-16-le", "surrogatepass")
    if 2 * i + 2 > len(units):
        return MISSING
    return units[2 * i : 2 * i + 2].decode("utf-16-le", "surrogatepass")


def own_keys(obj: Mapping) -> Iterator[tuple[str, Any]]:
    """``Object.keys`` order: array-index keys ascending, then the others in insertion order."""
    items = [(json_key(k), k) for k in obj]
    indexes = [(k, orig) for k, orig in items if _array_index(k) >= 0 and int(k) < 2**32 - 1]
    if indexes:
        indexes.sort(key=lambda pair: int(pair[0]))
        others = [(k, orig) for k, orig in items if not (_array_index(k) >= 0 and int(k) < 2**32 - 1)]
        items = indexes + others
    for k, orig in items:
        yield k, obj[orig]


def describe(value: Any) -> str:
    """How the server names a value's type in an error message."""
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "an object"
