"""Declarative conditions over a firing's context: ``field`` ``op`` ``value``, all/any.

A field is a dotted path (``payload.amount``, ``components.payment``); a path that does not
resolve is *missing*, which only ``missing`` and ``empty`` accept. Comparisons between values
of different kinds (a number and a text) are false, never an error: a rule never breaks a
score write.

Example::

    holds(Conditions(all=[Condition(field="payload.amount", op="ge", value=100)]),
          {"payload": {"amount": 250}})   # True
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from rescore.automations.rules import Condition, Conditions

__all__ = ["MISSING", "holds", "resolve"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def resolve(context: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or :data:`MISSING`."""
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def holds(conditions: Conditions, context: Mapping[str, Any]) -> bool:
    """Whether every ``all`` condition and (if any are given) one ``any`` condition hold."""
    if not all(_one(c, context) for c in conditions.all):
        return False
    return not conditions.any or any(_one(c, context) for c in conditions.any)


def _one(condition: Condition, context: Mapping[str, Any]) -> bool:
    found = resolve(context, condition.field)
    op, want = condition.op, condition.value
    if op == "missing":
        return found is MISSING or found is None
    if op == "exists":
        return found is not MISSING and found is not None
    if op in ("empty", "not_empty"):
        empty = found is MISSING or found is None or (hasattr(found, "__len__") and not found)
        return empty if op == "empty" else not empty
    if found is MISSING:
        return False
    return _compare(op, found, want)


def _compare(op: str, found: Any, want: Any) -> bool:
    if op == "eq":
        return bool(found == want)
    if op == "ne":
        return bool(found != want)
    if op in ("in", "not_in"):
        inside = isinstance(want, list) and found in want
        return inside if op == "in" else not inside
    if op == "contains":
        return isinstance(found, list | str) and want in found
    try:
        return _ORDER[op](_number(found), _number(want))
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> Any:
    """Numbers compare as numbers, texts as texts; a bool is not a number here."""
    if isinstance(value, bool):
        raise TypeError("a bool is not ordered")
    return float(value) if isinstance(value, int | float) else value
