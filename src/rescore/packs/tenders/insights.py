"""What a price analysis says, computed from its sample of quote lines (pure functions).

``scoped`` are the newest quote lines of the similar products under the question's buyer and
region filters; ``national`` the newest without them (the same list when there are none).
Prices are percentiles of the scoped winners; each insight carries the numbers it rests on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from rescore.packs.tenders.sample import Quote
from rescore.packs.tenders.stats import interpolate

__all__ = ["budget_rank", "competitors", "insights", "last_awards", "prices", "sample_summary"]


def prices(scoped: Sequence[Quote]) -> dict[float, float | None]:
    """P25, P40 and P60 of the winning unit prices, rounded to pesos (None without wins)."""
    ordered = sorted(q.precio for q in scoped if q.ganador)
    return {f: (round(interpolate(ordered, f)) if ordered else None) for f in (0.25, 0.40, 0.60)}


def sample_summary(scoped: Sequence[Quote], limit: int) -> dict[str, Any]:
    """How many quotes and awards the answer rests on, and since when."""
    return {
        "cotizaciones": len(scoped),
        "adjudicaciones": sum(1 for q in scoped if q.ganador),
        "desde": scoped[-1].fecha.isoformat() if scoped else None,
        "limitada": len(scoped) >= limit,
    }


def last_awards(scoped: Sequence[Quote], count: int = 10) -> list[dict[str, Any]]:
    """The newest ``count`` awards."""
    won = [q for q in scoped if q.ganador][:count]
    return [
        {"fecha": q.fecha.isoformat(), "precio_unitario": q.precio, "proveedor": q.proveedor,
         "organismo": q.organismo}
        for q in won
    ]  # fmt: skip


def competitors(scoped: Sequence[Quote], count: int = 5) -> list[dict[str, Any]]:
    """The suppliers quoting most often (ties by RUT), with their awards."""
    quotes: Counter[str] = Counter(q.rut for q in scoped)
    wins: Counter[str] = Counter(q.rut for q in scoped if q.ganador)
    names = {q.rut: q.proveedor for q in scoped}
    top = sorted(quotes, key=lambda rut: (-quotes[rut], rut))[:count]
    return [
        {"rut": r, "nombre": names[r], "cotizaciones": quotes[r], "adjudicaciones": wins[r]}
        for r in top
    ]


def budget_rank(scoped: Sequence[Quote], unit: float | None) -> float | None:
    """The share of winning unit prices at or below ``unit`` (the buyer's budget per unit)."""
    won = [q.precio for q in scoped if q.ganador]
    if unit is None or not won:
        return None
    return round(sum(1 for p in won if p <= unit) / len(won), 4)


def insights(
    scoped: Sequence[Quote],
    national: Sequence[Quote],
    *,
    organismo: str | None,
    region: str | None,
) -> list[dict[str, Any]]:
    """Three or more sentences, each with its numbers (``datos``)."""
    made = [
        _price_level(scoped, national, organismo, region)
        if organismo or region
        else _trend(scoped),
        _region_wins(national, region),
        _award_range(scoped),
        _local_edge(national),
    ]
    return [m for m in made if m is not None]


def _mean_wins(quotes: Sequence[Quote]) -> dict[str, tuple[float, int]]:
    by: defaultdict[str, list[float]] = defaultdict(list)
    for q in quotes:
        if q.ganador:
            by[q.producto].append(q.precio)
    return {p: (fmean(v), len(v)) for p, v in by.items()}


def _price_level(
    scoped: Sequence[Quote], national: Sequence[Quote], organismo: str | None, region: str | None
) -> dict[str, Any] | None:
    """The buyer's (or region's) winning prices against the national ones, product by product
    (a mix of cheap and dear products must not pass for a price difference)."""
    inside, everywhere = _mean_wins(scoped), _mean_wins(national)
    pairs = [(m / everywhere[p][0], n) for p, (m, n) in inside.items() if p in everywhere]
    if not pairs:
        return None
    ratio = sum(r * n for r, n in pairs) / sum(n for _, n in pairs)
    diff = round((ratio - 1) * 100, 1)
    who = f"El organismo {organismo}" if organismo else f"La {region}"
    side = "menos" if diff < 0 else "más"
    return {
        "tipo": "nivel_de_precios",
        "texto": f"{who} suele pagar un {abs(diff)}% {side} que el promedio nacional",
        "datos": {"diferencia_pct": diff, "productos": len(pairs)},
    }


def _trend(scoped: Sequence[Quote]) -> dict[str, Any] | None:
    """Without a buyer or region: the newer half of the awards against the older half."""
    won = [q for q in scoped if q.ganador]
    if len(won) < 4:
        return None
    newer, older = _mean_wins(won[: len(won) // 2]), _mean_wins(won[len(won) // 2 :])
    ratios = [newer[p][0] / older[p][0] for p in newer if p in older]
    if not ratios:
        return None
    change = round((fmean(ratios) - 1) * 100, 1)
    split = won[len(won) // 2 - 1].fecha.isoformat()
    return {
        "tipo": "tendencia",
        "texto": f"Las adjudicaciones desde {split} cambiaron {change:+}% frente a las anteriores",
        "datos": {"cambio_pct": change, "desde": split, "adjudicaciones": len(won)},
    }


def _region_wins(national: Sequence[Quote], region: str | None) -> dict[str, Any] | None:
    """How often suppliers from the region (the question's, or the one winning most) win."""
    quotes: Counter[str] = Counter(q.region_proveedor for q in national)
    wins: Counter[str] = Counter(q.region_proveedor for q in national if q.ganador)
    if not quotes:
        return None
    chosen = (
        region
        if region is not None and region in quotes
        else max(sorted(quotes), key=wins.__getitem__)
    )
    rate = round(100 * wins[chosen] / quotes[chosen], 1)
    return {
        "tipo": "region_proveedores",
        "texto": f"Los proveedores de {chosen} ganan el {rate}% de las veces",
        "datos": {"region": chosen, "cotizaciones": quotes[chosen], "adjudicaciones": wins[chosen]},
    }


def _award_range(scoped: Sequence[Quote]) -> dict[str, Any] | None:
    won = [q.precio for q in scoped if q.ganador][:10]
    if not won:
        return None
    low, high = min(won), max(won)
    return {
        "tipo": "rango_adjudicaciones",
        "texto": f"Últimas {len(won)} adjudicaciones: rango ${low:,.0f} - ${high:,.0f}",
        "datos": {"minimo": low, "maximo": high, "adjudicaciones": len(won)},
    }


def _local_edge(national: Sequence[Quote]) -> dict[str, Any] | None:
    """Win rate of suppliers quoting in their own region against those from elsewhere."""
    rates = {}
    for local in (True, False):
        group = [q for q in national if (q.region_proveedor == q.region) is local]
        if not group:
            return None
        rates[local] = round(100 * sum(q.ganador for q in group) / len(group), 1)
    return {
        "tipo": "ventaja_local",
        "texto": f"Los proveedores locales ganan el {rates[True]}% de sus cotizaciones; "
        f"los de otras regiones, el {rates[False]}%",
        "datos": {"local_pct": rates[True], "foraneo_pct": rates[False]},
    }
