"""Seed 001's ``analizar_precio_optimo_v2``: what to bid for a product, from the history.

1. Similar products: catalogue names found through the database's trigram or full-text index
   and ranked by :func:`.similarity.word_similarity` (``Notebook HP 14"`` and ``Notebook
   Lenovo ThinkPad E14`` for "notebook hp"), joined by the names close in meaning that the
   embeddings find (``Laptop HP ProBook 14``; :mod:`.semantic`) when :func:`analyze` is
   given them.
2. The newest quote lines of those names in the two years before ``as_of`` (at most
   :data:`.sample.SAMPLE_ROWS`, read a month at a time: seed 001's own "limit + index + time
   filter" pattern), narrowed by organisation (a substring, as the seed's ``ILIKE``) and region
   when given; and, for the comparisons, the same without those filters.
3. Suggested (P40), competitive (P25) and safe (P60) unit prices of the **winning** quotes
   (interpolated as ``percentile_cont``), at least three insights computed from the data, and
   the five most frequent competitors (:mod:`.insights`).

The answer costs the newest months of the similar products, never their whole history, and
is the same on every database: the rows are read by the same queries and everything after
them is computed in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from rescore.packs.tenders import insights
from rescore.packs.tenders.sample import SAMPLE_ROWS, recent_quotes
from rescore.packs.tenders.schema import history, products
from rescore.packs.tenders.similarity import word_similarity
from rescore.packs.tenders.storage import candidate_names

__all__ = [
    "MIN_SIMILARITY",
    "Neighbours",
    "PriceQuery",
    "analizar_precio_optimo_v2",
    "analyze",
    "context_filter",
    "similar_products",
]

#: Names below this word similarity to the query are not "similar products".
MIN_SIMILARITY = 0.5
#: At most this many similar names are read from the history.
MAX_NAMES = 12
WINDOW_DAYS = 730
h = history.c


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceQuery:
    """What to analyse: a product (free text), optionally one buyer and one region, as of a
    day (the window is the two years before it)."""

    producto: str
    as_of: date
    organismo: str | None = None
    region: str | None = None

    def cache_key(self) -> str:
        """The same question gives the same key (case and spacing do not matter)."""
        parts = (self.producto, self.organismo or "", self.region or "", self.as_of.isoformat())
        return "|".join(" ".join(p.lower().split()) for p in parts)


#: Names close in meaning to a text, with their cosines (``ProductVectors.neighbours``).
Neighbours = Callable[[Connection, str], list[tuple[str, float]]]


def similar_products(
    conn: Connection, producto: str, limit: int = MAX_NAMES
) -> list[dict[str, Any]]:
    """Catalogue names like ``producto`` by trigrams, best first:
    ``{producto, similitud, cotizaciones, por: "trigramas"}``."""
    ranked = [
        (round(word_similarity(producto, name), 4), count, name)
        for name, count in candidate_names(conn, producto, threshold=MIN_SIMILARITY)
    ]
    ranked = [r for r in ranked if r[0] >= MIN_SIMILARITY]
    ranked.sort(key=lambda r: (-r[0], -r[1], r[2]))
    return [
        {"producto": n, "similitud": s, "cotizaciones": c, "por": "trigramas"}
        for s, c, n in ranked[:limit]
    ]


def _by_meaning(
    conn: Connection, producto: str, semantic: Neighbours, known: set[str]
) -> list[dict[str, Any]]:
    """The names ``semantic`` finds that trigrams did not, with their quote counts."""
    found = [(n, s) for n, s in semantic(conn, producto) if n not in known]
    if not found:
        return []
    counts = dict(
        conn.execute(
            select(products.c.producto, products.c.cotizaciones).where(
                products.c.producto.in_([n for n, _ in found])
            )
        ).all()
    )
    return [
        {"producto": n, "similitud": s, "cotizaciones": counts.get(n, 0), "por": "semantica"}
        for n, s in found
    ]


def analyze(
    conn: Connection,
    query: PriceQuery,
    semantic: Neighbours | None = None,
    *,
    budget_unit: float | None = None,
) -> dict[str, Any]:
    """The price analysis of ``query``; ``semantic`` adds names close in meaning;
    ``budget_unit`` (a tender's budget per unit) adds where it falls among the awards."""
    similar = similar_products(conn, query.producto)
    if semantic is not None:
        similar += _by_meaning(conn, query.producto, semantic, {s["producto"] for s in similar})
    names = sorted({s["producto"] for s in similar})
    since = query.as_of - timedelta(days=WINDOW_DAYS)
    scope = context_filter(query)
    scoped = recent_quotes(conn, names, since, query.as_of, scope)
    national = recent_quotes(conn, names, since, query.as_of) if scope else scoped
    levels = insights.prices(scoped)
    found: dict[str, Any] = {
        "producto": query.producto,
        "organismo": query.organismo,
        "region": query.region,
        "as_of": query.as_of.isoformat(),
        "desde": since.isoformat(),
        "productos_similares": similar,
        "muestra": insights.sample_summary(scoped, SAMPLE_ROWS),
        "precio_competitivo": levels[0.25],
        "precio_sugerido": levels[0.40],
        "precio_seguro": levels[0.60],
        "ultimas_adjudicaciones": insights.last_awards(scoped),
        "competidores_frecuentes": insights.competitors(scoped),
        "insights": insights.insights(
            scoped, national, organismo=query.organismo, region=query.region
        ),
    }
    if budget_unit is not None:
        found["presupuesto_rango"] = insights.budget_rank(scoped, budget_unit)
    return found


#: The seed's name for it.
analizar_precio_optimo_v2 = analyze


def context_filter(query: PriceQuery) -> list[ColumnElement[bool]]:
    """The organisation (a substring, as the seed's ``ILIKE``) and region filters."""
    found: list[ColumnElement[bool]] = []
    if query.organismo:
        found.append(h.organismo.icontains(query.organismo, autoescape=True))
    if query.region:
        found.append(h.region == query.region)
    return found
