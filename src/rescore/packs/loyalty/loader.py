"""Read many customers' current inputs at once: one query per table per 500 customers.

Visits and points transactions are read for the scoring window only (the last
:data:`WINDOW_DAYS` days before as-of), so a ten-year regular costs what a one-year one does.
Bound parameters only (``IN`` lists are SQLAlchemy's expanding parameters).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, Table, select

from rescore.exceptions import PluginError
from rescore.packs.loyalty.schema import customers, points, visits
from rescore.packs.sdk import all_keys, present_keys

__all__ = ["CHUNK_SIZE", "PARTS", "WINDOW_DAYS", "entity_keys", "known_entities", "load_inputs"]

CHUNK_SIZE = 500
WINDOW_DAYS = 365
PARTS = frozenset({"customer", "visits", "points", "as_of"})


def load_inputs(
    conn: Connection, entities: Sequence[str], parts: frozenset[str], as_of: datetime
) -> dict[str, dict[str, Any]]:
    """``{customer id: {"customer", "visits", "points", "as_of"}}`` for the ids found.

    ``visits`` are ``(visited_at, amount)`` and ``points`` ``(occurred_at, points, amount)``
    tuples, oldest first, inside the window."""
    unknown = parts - PARTS
    if unknown:
        raise PluginError(f"loyalty pack has no input part(s) {sorted(unknown)}")
    wanted = sorted(set(entities))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), CHUNK_SIZE):
        found.update(_load_chunk(conn, wanted[start : start + CHUNK_SIZE], as_of))
    return found


def _load_chunk(conn: Connection, ids: list[str], as_of: datetime) -> dict[str, dict[str, Any]]:
    rows = conn.execute(select(customers).where(customers.c.id.in_(ids))).mappings().all()
    since = as_of - timedelta(days=WINDOW_DAYS)
    seen = _window(conn, visits, visits.c.visited_at, [visits.c.amount], ids, since, as_of)
    loaded = _window(
        conn, points, points.c.occurred_at, [points.c.points, points.c.amount], ids, since, as_of
    )
    return {
        row["id"]: {
            "customer": dict(row),
            "visits": tuple(seen.get(row["id"], ())),
            "points": tuple(loaded.get(row["id"], ())),
            "as_of": as_of,
        }
        for row in rows
    }


def _window(
    conn: Connection,
    table: Table,
    at: Column[Any],
    values: list[Column[Any]],
    ids: list[str],
    since: datetime,
    until: datetime,
) -> dict[str, list[tuple[Any, ...]]]:
    query = (
        select(table.c.customer_id, at, *values)
        .where(table.c.customer_id.in_(ids), at >= since, at <= until)
        .order_by(table.c.customer_id, at, table.c.id)
    )
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for customer_id, *rest in conn.execute(query):
        grouped.setdefault(customer_id, []).append(tuple(rest))
    return grouped


def known_entities(conn: Connection, entities: Sequence[str]) -> set[str]:
    """Which of ``entities`` are customer ids (one ``IN`` query per chunk)."""
    return present_keys(conn, customers.c.id, entities)


def entity_keys(conn: Connection) -> Iterator[str]:
    """Every customer id, in id order."""
    yield from all_keys(conn, customers.c.id)
