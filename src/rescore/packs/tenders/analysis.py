"""Seed 001's ``analizar_precio_optimo_v2``: what to bid for a product, from the history.

1. Similar products: catalogue names found through the database's trigram or full-text index
   and ranked by :func:`.similarity.word_similarity` (``Notebook HP 14"`` and ``Notebook
   Lenovo ThinkPad E14`` for "notebook hp"), joined by the names close in meaning that the
   embeddings find (``Laptop HP ProBook 14``; :mod:`.semantic`) when :func:`analyze` is
   given them.
2. The quote lines of those names in the two years before ``as_of``, narrowed by organisation
   (a substring, as the seed's ``ILIKE``) and region when given.
3. Suggested (P40), competitive (P25) and safe (P60) unit prices of the **winning** quotes
   (interpolated as ``percentile_cont``), at least three insights computed from the data, and
   the five most frequent competitors.

Every read is an aggregate or a short ``LIMIT``, so the answer costs what the matching rows'
index ranges cost, not what they weigh. On PostgreSQL the percentiles are one
``percentile_cont`` (:mod:`.stats`); elsewhere the winning prices are read and interpolated
the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from rescore.packs.tenders import stats
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
    conn: Connection, query: PriceQuery, semantic: Neighbours | None = None
) -> dict[str, Any]:
    """The price analysis of ``query``; ``semantic`` adds names close in meaning."""
    similar = similar_products(conn, query.producto)
    if semantic is not None:
        similar += _by_meaning(conn, query.producto, semantic, {s["producto"] for s in similar})
    names = sorted({s["producto"] for s in similar})
    base = _window(query, names)
    scoped = base + context_filter(query)
    prices = stats.percentiles(conn, scoped, (0.25, 0.40, 0.60))
    found = {
        "producto": query.producto,
        "organismo": query.organismo,
        "region": query.region,
        "as_of": query.as_of.isoformat(),
        "desde": (query.as_of - timedelta(days=WINDOW_DAYS)).isoformat(),
        "productos_similares": similar,
        "muestra": _sample(conn, scoped),
        "precio_competitivo": prices[0.25],
        "precio_sugerido": prices[0.40],
        "precio_seguro": prices[0.60],
        "ultimas_adjudicaciones": _last_awards(conn, scoped),
        "competidores_frecuentes": _competitors(conn, scoped),
    }
    found["insights"] = _insights(conn, query, base, found)
    return found


#: The seed's name for it.
analizar_precio_optimo_v2 = analyze


def _window(query: PriceQuery, names: list[str]) -> list[ColumnElement[bool]]:
    since = query.as_of - timedelta(days=WINDOW_DAYS)
    return [h.producto_cotizado.in_(names), h.fecha_cierre >= since, h.fecha_cierre <= query.as_of]


def context_filter(query: PriceQuery) -> list[ColumnElement[bool]]:
    """The organisation (a substring, as the seed's ``ILIKE``) and region filters."""
    found: list[ColumnElement[bool]] = []
    if query.organismo:
        found.append(h.organismo.icontains(query.organismo, autoescape=True))
    if query.region:
        found.append(h.region == query.region)
    return found


def _sample(conn: Connection, where: list[ColumnElement[bool]]) -> dict[str, int]:
    won = func.sum(case((h.es_ganador, 1), else_=0))
    row = conn.execute(select(func.count(), won).where(*where)).one()
    return {"cotizaciones": int(row[0] or 0), "adjudicaciones": int(row[1] or 0)}


def _last_awards(conn: Connection, where: list[ColumnElement[bool]]) -> list[dict[str, Any]]:
    query = (
        select(h.fecha_cierre, h.precio_unitario, h.nombre_proveedor, h.organismo)
        .where(*where, h.es_ganador)
        .order_by(h.fecha_cierre.desc(), h.codigo_licitacion)
        .limit(10)
    )
    return [
        {"fecha": d.isoformat(), "precio_unitario": float(p), "proveedor": s, "organismo": o}
        for d, p, s, o in conn.execute(query)
    ]


def _competitors(conn: Connection, where: list[ColumnElement[bool]]) -> list[dict[str, Any]]:
    won = func.sum(case((h.es_ganador, 1), else_=0))
    query = (
        select(h.rut_proveedor, func.max(h.nombre_proveedor), func.count(), won)
        .where(*where)
        .group_by(h.rut_proveedor)
        .order_by(func.count().desc(), h.rut_proveedor)
        .limit(5)
    )
    return [
        {"rut": r, "nombre": n, "cotizaciones": int(c), "adjudicaciones": int(w or 0)}
        for r, n, c, w in conn.execute(query)
    ]


def _insights(
    conn: Connection, query: PriceQuery, base: list[ColumnElement[bool]], found: dict[str, Any]
) -> list[dict[str, Any]]:
    """Three or more sentences, each with the numbers it rests on (``datos``)."""
    made = [
        _price_level(conn, query, base),
        _region_wins(conn, query, base),
        _award_range(found["ultimas_adjudicaciones"]),
        _local_edge(conn, base),
    ]
    return [m for m in made if m is not None]


def _price_level(
    conn: Connection, query: PriceQuery, base: list[ColumnElement[bool]]
) -> dict[str, Any] | None:
    """How the buyer's (or region's) winning prices compare with the national ones, product by
    product (a mix of cheap and dear products must not pass for a price difference)."""
    scope = context_filter(query)
    if not scope:
        return _trend(conn, query, base)
    inside = and_(*scope)
    mean_in = func.avg(case((inside, h.precio_unitario)))
    rows = conn.execute(
        select(h.producto_cotizado, mean_in, func.avg(h.precio_unitario), func.count())
        .where(*base, h.es_ganador)
        .group_by(h.producto_cotizado)
    ).all()
    pairs = [(float(a), float(n), int(c)) for _, a, n, c in rows if a is not None and n]
    if not pairs:
        return None
    weight = sum(c for _, _, c in pairs)
    ratio = sum(a / n * c for a, n, c in pairs) / weight
    diff = round((ratio - 1) * 100, 1)
    who = f"El organismo {query.organismo}" if query.organismo else f"La {query.region}"
    side = "menos" if diff < 0 else "más"
    return {
        "tipo": "nivel_de_precios",
        "texto": f"{who} suele pagar un {abs(diff)}% {side} que el promedio nacional",
        "datos": {"diferencia_pct": diff, "productos": len(pairs)},
    }


def _trend(
    conn: Connection, query: PriceQuery, base: list[ColumnElement[bool]]
) -> dict[str, Any] | None:
    """Without a buyer or region: this year's winning prices against last year's."""
    split = query.as_of - timedelta(days=365)
    recent = h.fecha_cierre > split
    rows = conn.execute(
        select(
            h.producto_cotizado,
            func.avg(case((recent, h.precio_unitario))),
            func.avg(case((~recent, h.precio_unitario))),
        )
        .where(*base, h.es_ganador)
        .group_by(h.producto_cotizado)
    ).all()
    pairs = [(float(a), float(b)) for _, a, b in rows if a is not None and b]
    if not pairs:
        return None
    change = round((sum(a / b for a, b in pairs) / len(pairs) - 1) * 100, 1)
    return {
        "tipo": "tendencia",
        "texto": f"Los precios adjudicados cambiaron {change:+}% en los últimos 12 meses",
        "datos": {"cambio_pct": change, "productos": len(pairs)},
    }


def _region_wins(
    conn: Connection, query: PriceQuery, base: list[ColumnElement[bool]]
) -> dict[str, Any] | None:
    """How often suppliers from the region (the query's, or the one winning most) win."""
    won = func.sum(case((h.es_ganador, 1), else_=0))
    rows = conn.execute(
        select(h.region_proveedor, func.count(), won).where(*base).group_by(h.region_proveedor)
    ).all()
    table = {r: (int(c), int(w or 0)) for r, c, w in rows}
    if not table:
        return None
    region = query.region if query.region in table else max(table, key=lambda r: table[r][1])
    quotes, wins = table[region]
    rate = round(100 * wins / quotes, 1)
    return {
        "tipo": "region_proveedores",
        "texto": f"Los proveedores de {region} ganan el {rate}% de las veces",
        "datos": {"region": region, "cotizaciones": quotes, "adjudicaciones": wins},
    }


def _award_range(awards: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not awards:
        return None
    prices = [a["precio_unitario"] for a in awards]
    low, high = min(prices), max(prices)
    return {
        "tipo": "rango_adjudicaciones",
        "texto": f"Últimas {len(prices)} adjudicaciones: rango ${low:,.0f} - ${high:,.0f}",
        "datos": {"minimo": low, "maximo": high, "adjudicaciones": len(prices)},
    }


def _local_edge(conn: Connection, base: list[ColumnElement[bool]]) -> dict[str, Any] | None:
    """Win rate of suppliers quoting in their own region against those from elsewhere."""
    local = h.region_proveedor == h.region
    won = func.sum(case((h.es_ganador, 1), else_=0))
    rows = conn.execute(select(local, func.count(), won).where(*base).group_by(local)).all()
    rates = {bool(k): (int(w or 0) / int(c)) for k, c, w in rows if c}
    if False not in rates or True not in rates:
        return None
    here, away = round(rates[True] * 100, 1), round(rates[False] * 100, 1)
    return {
        "tipo": "ventaja_local",
        "texto": f"Los proveedores locales ganan el {here}% de sus cotizaciones; "
        f"los de otras regiones, el {away}%",
        "datos": {"local_pct": here, "foraneo_pct": away},
    }


def with_as_of(query: PriceQuery, as_of: date) -> PriceQuery:
    """The same question on another day."""
    return replace(query, as_of=as_of)
