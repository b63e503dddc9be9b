"""The quote lines a price analysis rests on: the most recent ones, read in one query.

Seed 001's own fix for its slow analysis is to stop loading every matching row ("Carga TODOS
los registros en memoria") and read the newest ones instead, through the indexes, within the
time window, with a ``LIMIT``. :func:`recent_quotes` does that: the quote lines of the similar
products in the two years before ``as_of``, newest first, at most :data:`SAMPLE_ROWS` of them.
On PostgreSQL the ``ORDER BY fecha_cierre DESC`` follows the month partitions, so a ``LIMIT``
reached in the newest months never reads the older ones. Everything else is computed from
the rows in Python (:mod:`.insights`), identically on every database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Connection, select

from rescore.packs.tenders.schema import history

__all__ = ["SAMPLE_ROWS", "Quote", "recent_quotes"]

#: Quote lines an analysis reads at most (about a fifth of them winners).
SAMPLE_ROWS = 5_000
h = history.c
_COLUMNS = (
    h.fecha_cierre,
    h.producto_cotizado,
    h.organismo,
    h.region,
    h.rut_proveedor,
    h.nombre_proveedor,
    h.region_proveedor,
    h.precio_unitario,
    h.es_ganador,
)


@dataclass(frozen=True, slots=True)
class Quote:
    """One quote line, as the analysis needs it."""

    fecha: date
    producto: str
    organismo: str
    region: str
    rut: str
    proveedor: str
    region_proveedor: str
    precio: float
    ganador: bool


def recent_quotes(
    conn: Connection,
    names: Sequence[str],
    since: date,
    until: date,
    where: Sequence[ColumnElement[bool]] = (),
    limit: int = SAMPLE_ROWS,
) -> list[Quote]:
    """The newest ``limit`` quote lines of ``names`` closing from ``since`` to ``until`` under
    ``where``, newest first (ties in key order, so every database returns the same rows).

    Read a month at a time from the newest: each query touches one month (one partition on
    PostgreSQL, through the product index), and the loop stops as soon as ``limit`` is reached,
    so a popular product costs its last few months, not its two years."""
    found: list[Quote] = []
    for start, stop in _months_back(since, until):
        if not names or len(found) >= limit:
            break
        query = (
            select(*_COLUMNS)
            .where(
                h.producto_cotizado.in_(list(names)),
                h.fecha_cierre >= start,
                h.fecha_cierre <= stop,
                *where,
            )
            .order_by(h.fecha_cierre.desc(), h.codigo_licitacion, h.item, h.rut_proveedor)
            .limit(limit - len(found))
        )
        found += [
            Quote(d, p, o, r, rut, n, rp, float(price), bool(won))
            for d, p, o, r, rut, n, rp, price, won in conn.execute(query)
        ]
    return found


def _months_back(since: date, until: date) -> list[tuple[date, date]]:
    """``[since, until]`` cut at month starts, newest piece first."""
    pieces = []
    stop = until
    while stop >= since:
        start = max(since, stop.replace(day=1))
        pieces.append((start, stop))
        stop = start - timedelta(days=1)
    return pieces
