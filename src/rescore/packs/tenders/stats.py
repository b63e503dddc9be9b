"""Percentiles interpolated as PostgreSQL's ``percentile_cont``: linearly between the two
nearest ranks of ``(n - 1) * fraction``."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["interpolate"]


def interpolate(ordered: Sequence[float], fraction: float) -> float:
    """``percentile_cont(fraction)`` of ascending ``ordered`` values (not empty)."""
    rank = (len(ordered) - 1) * fraction
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
