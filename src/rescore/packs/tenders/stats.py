"""Percentiles of winning unit prices, the same numbers on every database.

PostgreSQL computes them where the rows are (``percentile_cont ... WITHIN GROUP``); SQLite and
MariaDB have no such aggregate, so their winning prices are read (already narrowed to a few
names and two years) and interpolated exactly as ``percentile_cont`` does: linearly between the
two nearest ranks of ``(n - 1) * fraction``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, select, text

from rescore.packs.tenders.schema import history

__all__ = ["interpolate", "percentiles"]


def interpolate(ordered: Sequence[float], fraction: float) -> float:
    """``percentile_cont(fraction)`` of ascending ``ordered`` values (not empty)."""
    rank = (len(ordered) - 1) * fraction
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def percentiles(
    conn: Connection, where: list[ColumnElement[bool]], fractions: tuple[float, ...]
) -> dict[float, float | None]:
    """The winning unit prices' percentiles under ``where``, rounded to pesos (None: no wins)."""
    price = history.c.precio_unitario
    query = select(price).where(*where, history.c.es_ganador)
    if conn.dialect.name == "postgresql":
        inner = query.subquery()
        array = ", ".join(str(float(f)) for f in fractions)
        stmt = select(
            text(f"percentile_cont(ARRAY[{array}]) WITHIN GROUP (ORDER BY precio_unitario)")
        ).select_from(inner)
        found = conn.execute(stmt).scalar()
        values = list(found) if found else [None] * len(fractions)
    else:
        ordered = sorted(float(p) for p in conn.execute(query).scalars())
        values = [interpolate(ordered, f) if ordered else None for f in fractions]
    return {
        f: (None if v is None else round(float(v))) for f, v in zip(fractions, values, strict=True)
    }
