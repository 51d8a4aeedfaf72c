"""Variables checked against a prompt's ``input_schema``, as the registry checks them (ajv, defaults applied).

A small validator for the JSON Schema a prompt's inputs use: ``type`` (one or a
list), ``enum``, ``const``, ``minimum``/``maximum`` and their exclusive forms,
``multipleOf``, ``minLength``/``maxLength``, ``pattern``, ``minItems``/``maxItems``,
``items`` (one schema), ``required``, ``properties``, ``additionalProperties``
(false or a schema) and ``default``. Other keywords (``oneOf``, ``$ref``,
``format``, ...) are not checked here; the registry's own render checks them.

It reports the first problem in ajv's order (type; const and enum; number,
string, array limits; then for objects: defaults filled in, ``required``,
``additionalProperties``, ``properties``) with ajv's words, so both clients and
the registry name the same field the same way: ``variables.age: must be integer``.
"""

from __future__ import annotations

import copy

import math
import re
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Tuple

from ._js import number_to_string
from .errors import InvalidInputError

__all__ = ["apply_input_schema"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return _is_number(value) and (isinstance(value, int) or (math.isfinite(value) and float(value).is_integer()))
    if name == "number":
        return _is_number(value) and (isinstance(value, int) or math.isfinite(value))
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, (list, tuple))
    if name == "object":
        return isinstance(value, Mapping)
    return True


def _json_equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b) and not (isinstance(a, Mapping) and isinstance(b, Mapping)) and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
        return False
    if isinstance(a, Mapping):
        return set(a) == set(b) and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _num(value: Any) -> str:
    return number_to_string(value)


Problem = Tuple[str, str]  # (field, message)


def _check(schema: Any, value: Any, field: str) -> Optional[Problem]:
    if not isinstance(schema, Mapping):
        return None  # true / {} accept anything; false schemas are not used for inputs
    types = schema.get("type")
    if types is not None:
        names: List[str] = types if isinstance(types, list) else [types]
        if not any(_is_type(value, t) for t in names):
            return field, f"must be {','.join(names)}"
    if "const" in schema and not _json_equal(value, schema["const"]):
        return field, "must be equal to constant"
    if "enum" in schema and not any(_json_equal(value, v) for v in schema["enum"]):
        return field, "must be equal to one of the allowed values"
    if _is_number(value):
        for key, op, ok in (
            ("maximum", "<=", lambda v, lim: v <= lim),
            ("minimum", ">=", lambda v, lim: v >= lim),
            ("exclusiveMaximum", "<", lambda v, lim: v < lim),
            ("exclusiveMinimum", ">", lambda v, lim: v > lim),
        ):
            limit = schema.get(key)
            if _is_number(limit) and not ok(value, limit):
                return field, f"must be {op} {_num(limit)}"
        step = schema.get("multipleOf")
        if _is_number(step) and step:
            ratio = value / step
            if ratio != math.trunc(ratio):
                return field, f"must be multiple of {_num(step)}"
    if isinstance(value, str):
        limit = schema.get("maxLength")
        if _is_number(limit) and len(value) > limit:
            return field, f"must NOT have more than {_num(limit)} characters"
        limit = schema.get("minLength")
        if _is_number(limit) and len(value) < limit:
            return field, f"must NOT have fewer than {_num(limit)} characters"
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and re.search(pattern, value) is None:
            return field, f'must match pattern "{pattern}"'
    if isinstance(value, (list, tuple)):
        limit = schema.get("maxItems")
        if _is_number(limit) and len(value) > limit:
            return field, f"must NOT have more than {_num(limit)} items"
        limit = schema.get("minItems")
        if _is_number(limit) and len(value) < limit:
            return field, f"must NOT have fewer than {_num(limit)} items"
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                found = _check(items, item, f"{field}[{i}]")
                if found:
                    return found
    if isinstance(value, dict):
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        for name, sub in properties.items():
            if name not in value and isinstance(sub, Mapping) and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
        for name in schema.get("required") or ():
            if name not in value:
                return f"{field}.{name}", "is required"
        extra = schema.get("additionalProperties")
        if extra is not None and extra is not True:
            for name in value:
                if name in properties:
                    continue
                if extra is False:
                    return f"{field}.{name}", "is not in the input schema"
                found = _check(extra, value[name], f"{field}.{name}")
                if found:
                    return found
        for name, sub in properties.items():
            if name in value:
                found = _check(sub, value[name], f"{field}.{name}")
                if found:
                    return found
    return None


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def apply_input_schema(schema: Mapping[str, Any], variables: Mapping[str, Any]) -> Dict[str, Any]:
    """The variables with the schema's defaults filled in (a copy), or InvalidInputError
    ``invalid_variables`` naming the first field the schema refuses."""
    data = _copy(variables)
    found = _check(schema, data, "variables")
    if found:
        field, message = found
        raise InvalidInputError("invalid_variables", field, f"{field}: {message}")
    return data  # type: ignore[no-any-return]


