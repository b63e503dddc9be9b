"""Rounding rules shared by the credit scorers.

A stored breakdown must add up to the stored value to the cent, so every component is rounded
to 2 decimals first and the value is the sum of the rounded components, never the other way
round. Rounding is monotone, so a scorer that never moves the wrong way before rounding never
does after it either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["clamp", "ratio", "settle", "total"]


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def ratio(part: float, whole: float) -> float:
    """``part / whole``, or 0 when there is nothing to divide by."""
    return part / whole if whole else 0.0


def total(components: Mapping[str, float]) -> float:
    """The value of a breakdown whose components are already rounded."""
    return round(math.fsum(components.values()), 2)


def settle(raw: Mapping[str, float], low: float, high: float) -> tuple[float, dict[str, float]]:
    """Round each component, and return ``(value, components)`` with the value in range.

    Rounding half a dozen components can push a total that sits on a bound a cent past it; the
    cent is then given back by the component that pushed hardest that way (the biggest
    deduction below ``low``, the biggest addition above ``high``), so the breakdown still adds
    up and every component keeps its sign.
    """
    components = {name: round(value, 2) + 0.0 for name, value in raw.items()}  # no -0.0
    value = total(components)
    if value < low or value > high:
        sign = -1.0 if value < low else 1.0
        culprit = max(components, key=lambda name: sign * components[name])
        components[culprit] = round(components[culprit] + clamp(value, low, high) - value, 2)
        value = total(components)
    return value, components
