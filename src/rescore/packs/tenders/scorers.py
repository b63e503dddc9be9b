"""The tenders pack's scorer: ``price_analysis``, how much room a tender's budget leaves.

Value 0-100 = ``budget_room`` (0-80: the share of similar winning unit prices of the last two
years at or below the buyer's budget per unit; a budget above every past award leaves the most
room) + ``evidence`` (0-20: how many awards the analysis rests on, full at
:data:`FULL_EVIDENCE`). The suggested (P40), competitive (P25) and safe (P60) prices, the
insights' kinds and the competitors are in the features, so a tender's stored score carries
its whole price analysis and its history shows how it moved as awards came in.

The scorer reads only its inputs (the loader ran the analysis), so it is pure.
"""

from __future__ import annotations

import math
from typing import Any

from rescore.scoring import Feature, Inputs, Scorer, ScoreResult

__all__ = ["BUDGET_MAX", "EVIDENCE_MAX", "FULL_EVIDENCE", "PriceAnalysis", "scorers"]

BUDGET_MAX, EVIDENCE_MAX = 80.0, 20.0
FULL_EVIDENCE = 50


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


class PriceAnalysis(Scorer):
    """A tender's price analysis as a score: budget room (80) + evidence (20)."""

    name = "price_analysis"
    version = "1"
    inputs = frozenset({"tender", "prices"})
    max_value = 100.0

    def score(self, inputs: Inputs) -> ScoreResult:
        prices: dict[str, Any] = inputs["prices"]
        rank: float | None = prices.get("presupuesto_rango")
        awards = int(prices["muestra"]["adjudicaciones"])
        components = {
            "budget_room": round(BUDGET_MAX * (rank or 0.0), 2),
            "evidence": round(EVIDENCE_MAX * min(1.0, awards / FULL_EVIDENCE), 2),
        }
        value = round(math.fsum(components.values()), 2)
        return ScoreResult(
            value=value,
            components=components,
            reasons=_reasons(prices, rank, awards),
            features=_features(prices, rank, awards),
        )


def _reasons(prices: dict[str, Any], rank: float | None, awards: int) -> tuple[str, ...]:
    budget = (
        "no budget per unit to compare"
        if rank is None
        else f"budget per unit at or above {rank:.0%} of similar awards"
    )
    return (
        budget,
        f"suggested unit price {_money(prices['precio_sugerido'])} "
        f"(competitive {_money(prices['precio_competitivo'])}, "
        f"safe {_money(prices['precio_seguro'])})",
        f"{awards} similar awards in two years",
    )


def _features(prices: dict[str, Any], rank: float | None, awards: int) -> dict[str, Feature]:
    return {
        "precio_sugerido": prices["precio_sugerido"],
        "precio_competitivo": prices["precio_competitivo"],
        "precio_seguro": prices["precio_seguro"],
        "presupuesto_rango": rank,
        "adjudicaciones": awards,
        "cotizaciones": int(prices["muestra"]["cotizaciones"]),
        "productos_similares": len(prices["productos_similares"]),
        "insights": " | ".join(i["texto"] for i in prices["insights"]),
        "competidores": ", ".join(c["nombre"] for c in prices["competidores_frecuentes"]),
    }


def scorers() -> list[Scorer]:
    return [PriceAnalysis()]
