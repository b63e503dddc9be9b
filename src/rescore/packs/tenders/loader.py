"""Read tenders' current inputs: the ``licitaciones`` row and its price analysis.

An entity is a tender's ``codigo``. The price analysis is the one :mod:`.analysis` gives for
the tender's product in its region, as of the day it was published (so a recompute next month
gives the same numbers unless the history of the two years before it changed), plus where the
buyer's budget per unit falls among the similar winning prices. Bound parameters only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from rescore.exceptions import PluginError
from rescore.packs.sdk import all_keys, present_keys
from rescore.packs.tenders.analysis import PriceQuery, analyze
from rescore.packs.tenders.schema import tenders

__all__ = ["CHUNK_SIZE", "PARTS", "entity_keys", "known_entities", "load_inputs"]

CHUNK_SIZE = 500
PARTS = frozenset({"tender", "prices"})

#: The analysis a loader runs, given the tender's budget per unit (the pack's adds the names
#: found by meaning).
Analyzer = Callable[[Connection, PriceQuery, float | None], dict[str, Any]]


def _plain(conn: Connection, query: PriceQuery, unit: float | None) -> dict[str, Any]:
    return analyze(conn, query, budget_unit=unit)


def load_inputs(
    conn: Connection,
    entities: Sequence[str],
    parts: frozenset[str],
    analyzer: Analyzer = _plain,
) -> dict[str, dict[str, Any]]:
    """``{codigo: {"tender": row, "prices": analysis}}`` for the tenders found."""
    unknown = parts - PARTS
    if unknown:
        raise PluginError(f"tenders pack has no input part(s) {sorted(unknown)}")
    found: dict[str, dict[str, Any]] = {}
    wanted = sorted(set(entities))
    for start in range(0, len(wanted), CHUNK_SIZE):
        query = select(tenders).where(tenders.c.codigo.in_(wanted[start : start + CHUNK_SIZE]))
        for row in conn.execute(query).mappings():
            found[row["codigo"]] = _inputs(conn, dict(row), parts, analyzer)
    return found


def _inputs(
    conn: Connection, tender: dict[str, Any], parts: frozenset[str], analyzer: Analyzer
) -> dict[str, Any]:
    inputs: dict[str, Any] = {"tender": tender}
    if "prices" in parts:
        prices = analyzer(conn, price_query(tender), budget_unit(tender))
        inputs["prices"] = {"presupuesto_rango": None, **prices}
    return inputs


def price_query(tender: dict[str, Any]) -> PriceQuery:
    """The question a tender asks: its product, in its region, before it was published."""
    published: date = tender["fecha_publicacion"].date()
    return PriceQuery(producto=tender["producto"], region=tender["region"], as_of=published)


def budget_unit(tender: dict[str, Any]) -> float | None:
    """The buyer's budget per unit, when it published one."""
    budget, quantity = tender.get("monto_estimado"), float(tender.get("cantidad") or 0)
    return None if budget is None or quantity <= 0 else round(budget / quantity, 2)


def known_entities(conn: Connection, entities: Sequence[str]) -> set[str]:
    """Which of ``entities`` are tender codes."""
    return present_keys(conn, tenders.c.codigo, entities)


def entity_keys(conn: Connection) -> Iterator[str]:
    """Every tender code, in order."""
    yield from all_keys(conn, tenders.c.codigo)
