"""Conditions: a structured language with nothing executable.

{field: amount, gt: 1000000}; operators eq, ne, gt, gte, lt, lte, in, filled, matches, contains;
combinators all, any, not. `check` says whether a condition fits a set of typed fields; `evaluate`
computes it over values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from crmctl.domain.values import ORDERED, TEXTUAL, FieldSpec, convert

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "filled", "matches", "contains")
COMBINATORS = ("all", "any", "not")
Path = tuple[str | int, ...]


def operator_of(cond: Mapping[str, Any]) -> str:
    return next(k for k in cond if k != "field")


def comparisons(cond: Mapping[str, Any], path: Path = ()) -> Iterator[tuple[Mapping[str, Any], Path]]:
    """Every comparison inside a condition, with its path relative to the condition."""
    if "field" in cond:
        yield cond, path
    elif "all" in cond or "any" in cond:
        key = "all" if "all" in cond else "any"
        for i, sub in enumerate(cond[key]):
            yield from comparisons(sub, (*path, key, i))
    elif "not" in cond:
        yield from comparisons(cond["not"], (*path, "not"))


def fits(spec: FieldSpec, op: str) -> bool:
    """Whether operator op can be applied to a field of this type."""
    if op in ("gt", "gte", "lt", "lte"):
        return spec.type in ORDERED
    if op in ("matches", "contains"):
        return spec.type in TEXTUAL
    if op == "in":
        return spec.type != "bool"
    return True


def operand_problem(spec: FieldSpec, op: str, value: Any, people: set[str] | None = None) -> str | None:
    """Why the operand does not fit the field, or None."""
    if op == "filled":
        return None
    if op == "matches":
        try:
            re.compile(value)
        except re.error as exc:
            return f"invalid regular expression '{value}': {exc}"
        return None
    if op == "contains":
        return None
    values = value if op == "in" else [value]
    loose = FieldSpec(spec.id, spec.type, options=spec.options)  # masks and limits do not bind operands
    for item in values:
        try:
            convert(loose, item, people=people)
        except ValueError as exc:
            return str(exc)
    return None


def evaluate(cond: Mapping[str, Any], values: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> bool:
    """The truth of cond for a record's (or a launch's) typed values.

    A comparison with an empty field is false, except `filled: false` and `ne`.
    """
    if "all" in cond:
        return all(evaluate(c, values, specs) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, values, specs) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], values, specs)
    name = cond["field"]
    op = operator_of(cond)
    operand = cond[op]
    actual = values.get(name)
    empty = actual is None or actual == ""
    if op == "filled":
        return (not empty) == bool(operand)
    if empty:
        return op == "ne"
    spec = specs[name]
    loose = FieldSpec(spec.id, spec.type, options=spec.options)
    if op == "matches":
        return re.fullmatch(operand, str(actual)) is not None
    if op == "contains":
        return str(operand).casefold() in str(actual).casefold()
    if op == "in":
        return any(actual == convert(loose, v) for v in operand)
    expected = convert(loose, operand)
    compare: Callable[[Any, Any], bool] = _COMPARE[op]
    return compare(actual, expected)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
