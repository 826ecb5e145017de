"""The condition model: all / any / not over comparisons of context attributes. Pure.

Wire form (JSON), one of:
    {"all": [condition, ...]}   {"any": [condition, ...]}   {"not": condition}
    {"attribute": "windows.30d.connects", "op": ">=", "value": 2}

Parsing validates every attribute, operator and value against the catalog and reports
every problem with its path; compiling turns a condition into a plain function of a
context, so evaluating it on ingest is a few attribute reads and comparisons.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.segments.attributes import NOT_SEGMENTABLE, Attribute

Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not_in", "contains", "not_contains"]
ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
SCALAR_OPS = ("=", "!=", "in", "not_in", *ORDERING)
SET_OPS = ("contains", "not_contains")


class Compare(msgspec.Struct, frozen=True):
    attribute: str
    op: Op
    value: Any = None


class All(msgspec.Struct, frozen=True):
    all: list[Condition]


class AnyOf(msgspec.Struct, frozen=True):
    any: list[Condition]


class Not(msgspec.Struct, frozen=True):
    not_: Condition = msgspec.field(name="not")


Condition = Compare | All | AnyOf | Not


def attributes_of(condition: Condition) -> set[str]:
    if isinstance(condition, Compare):
        return {condition.attribute}
    if isinstance(condition, Not):
        return attributes_of(condition.not_)
    parts = condition.all if isinstance(condition, All) else condition.any
    return set().union(*(attributes_of(c) for c in parts))


# --- parsing -------------------------------------------------------------------------


def parse_condition(raw: Any, catalog: dict[str, Attribute], path: str = "condition") -> Condition:
    errors: list[FieldError] = []
    condition = _parse(raw, catalog, path, errors)
    if errors:
        unknown = any(e.code == "unknown_attribute" for e in errors)
        raise ValidationFailed(
            "the segment condition is invalid",
            errors,
            details={"valid_attributes": sorted(catalog)} if unknown else None,
        )
    return condition


def _parse(raw: Any, catalog: dict[str, Attribute], path: str, errors: list[FieldError]) -> Condition:
    if not isinstance(raw, dict):
        errors.append(FieldError(path, "invalid_value", "a condition is an object: all, any, not or a comparison"))
        return All([])
    keys = set(raw)
    if keys in ({"all"}, {"any"}):
        (key,) = keys
        parts = raw[key]
        if not isinstance(parts, list) or not parts:
            errors.append(FieldError(f"{path}.{key}", "invalid_value", f"'{key}' takes a non-empty list of conditions"))
            return All([])
        parsed = [_parse(part, catalog, f"{path}.{key}[{i}]", errors) for i, part in enumerate(parts)]
        return All(parsed) if key == "all" else AnyOf(parsed)
    if keys == {"not"}:
        return Not(_parse(raw["not"], catalog, f"{path}.not", errors))
    if "attribute" in keys and "op" in keys and keys <= {"attribute", "op", "value"}:
        return _parse_compare(raw, catalog, path, errors)
    errors.append(
        FieldError(
            path,
            "invalid_value",
            "expected {all: [...]}, {any: [...]}, {not: ...} or {attribute, op, value}; "
            f"got keys {sorted(keys)}",
        )
    )
    return All([])


def _parse_compare(raw: dict, catalog: dict[str, Attribute], path: str, errors: list[FieldError]) -> Compare:
    name, op, value = raw["attribute"], raw["op"], raw.get("value")
    attribute = catalog.get(name) if isinstance(name, str) else None
    if attribute is None and isinstance(name, str) and name in NOT_SEGMENTABLE:
        errors.append(
            FieldError(
                f"{path}.attribute",
                "attribute_not_segmentable",
                f"{name} cannot be used in a segment: {NOT_SEGMENTABLE[name]}",
            )
        )
        return Compare(name, "=", value)
    if attribute is None:
        errors.append(
            FieldError(
                f"{path}.attribute",
                "unknown_attribute",
                f"unknown attribute {name!r}; the valid attributes are listed in details.valid_attributes",
            )
        )
        return Compare(str(name), "=", value)
    allowed = SET_OPS if attribute.kind == "set" else SCALAR_OPS
    if op not in allowed:
        errors.append(
            FieldError(f"{path}.op", "invalid_value", f"{name} ({attribute.kind}) takes one of {list(allowed)}")
        )
        return Compare(name, "=", value)
    problem = _value_problem(attribute, op, value)
    if problem:
        errors.append(FieldError(f"{path}.value", "invalid_value", problem))
    return Compare(name, op, value)


def _fits(attribute: Attribute, value: Any) -> bool:
    kind = attribute.kind
    if kind in ("int", "number"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    return ok and (attribute.choices is None or kind in ("int", "number", "bool") or value in attribute.choices)


def _value_problem(attribute: Attribute, op: str, value: Any) -> str | None:
    expected = f"a {attribute.kind}" + (f" from {list(attribute.choices)}" if attribute.choices else "")
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or not all(_fits(attribute, v) for v in value):
            return f"'{op}' takes a non-empty list, each {expected}"
        return None
    if op in ("=", "!=") and value is None:
        return None  # "has no value" / "has a value"
    if not _fits(attribute, value):
        return f"{attribute.name} {op} takes {expected}"
    return None


# --- evaluation ----------------------------------------------------------------------

Predicate = Callable[[Any], bool]


def compile_condition(condition: Condition, catalog: dict[str, Attribute]) -> Predicate:
    if isinstance(condition, All):
        parts = [compile_condition(c, catalog) for c in condition.all]
        return lambda context: all(p(context) for p in parts)
    if isinstance(condition, AnyOf):
        parts = [compile_condition(c, catalog) for c in condition.any]
        return lambda context: any(p(context) for p in parts)
    if isinstance(condition, Not):
        inner = compile_condition(condition.not_, catalog)
        return lambda context: not inner(context)
    return _compile_compare(condition, catalog[condition.attribute].get)


def _compile_compare(c: Compare, get: Callable[[Any], Any]) -> Predicate:
    value, op = c.value, c.op
    if op in ORDERING:
        compare = ORDERING[op]
        return lambda context: (v := get(context)) is not None and compare(v, value)
    if op == "=":
        return lambda context: get(context) == value
    if op == "!=":
        return lambda context: get(context) != value
    if op in ("in", "not_in"):
        values = frozenset(value)
        if op == "in":
            return lambda context: get(context) in values
        return lambda context: get(context) not in values
    if op == "contains":
        return lambda context: value in get(context)
    return lambda context: value not in get(context)
