"""The loyalty pack's scorers: ``loyalty`` (recency, frequency, monetary; a tier) and
``churn_risk`` (inactivity, slowdown, idle points). docs/packs/loyalty.md has the formulas.

Both read the same inputs (the customer row, the visits and points transactions of the last
365 days, and as-of) and never the wall clock, so a recompute is reproducible. Components are
rounded to 2 decimals first and the value is their sum, so the breakdown adds up exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rescore.packs.loyalty.customers import tier_of
from rescore.scoring import Inputs, Scorer, ScoreResult

__all__ = [
    "ChurnRisk",
    "LoyaltyScore",
    "Summary",
    "scorers",
    "summarize",
]

#: Loyalty component maxima (they add up to 100).
RECENCY_MAX, FREQUENCY_MAX, MONETARY_MAX = 40.0, 30.0, 30.0
#: A visit this many days ago is worth no recency points.
RECENCY_DAYS = 180.0
#: Visits in the window that earn every frequency point (two a month).
FREQUENCY_FULL = 24
#: Spend in the window that earns every monetary point (log scale below it).
SPEND_FULL = 2_000.0
#: Churn-risk component maxima (they add up to 100).
INACTIVITY_MAX, SLOWDOWN_MAX, IDLE_POINTS_MAX = 60.0, 25.0, 15.0
INACTIVE_DAYS = 90.0
IDLE_POINTS_DAYS = 180.0
QUARTER_DAYS = 90.0


class Summary(dict[str, float]):
    """The numbers both scorers derive from a customer's inputs (also their features)."""


def _days(later: datetime, earlier: datetime | None, none: float) -> float:
    """Days from ``earlier`` to ``later`` (never negative), or ``none`` without ``earlier``."""
    if earlier is None:
        return none
    return round(max(0.0, (later - earlier).total_seconds() / 86_400), 4)


def summarize(inputs: Inputs) -> Summary:
    """Days since the last visit (or registration, for someone who never came back), visits
    and spend in the window, visits in the last and the previous quarter, days since the
    last points transaction."""
    as_of: datetime = inputs["as_of"]
    customer: Mapping[str, Any] = inputs["customer"]
    seen: Sequence[tuple[datetime, float]] = inputs["visits"]
    loaded: Sequence[tuple[datetime, int, float]] = inputs["points"]
    last = customer.get("last_visit_at") or customer["registered_at"]
    ages = [(as_of - at).total_seconds() / 86_400 for at, _ in seen]
    last_points = max((at for at, _, _ in loaded), default=None)
    return Summary(
        days_since_visit=_days(as_of, last, none=0.0),
        visits=float(len(seen)),
        spend=round(math.fsum(a for _, a in seen) + math.fsum(a for _, _, a in loaded), 2),
        visits_last_quarter=float(sum(1 for age in ages if age < QUARTER_DAYS)),
        visits_previous_quarter=float(
            sum(1 for age in ages if QUARTER_DAYS <= age < 2 * QUARTER_DAYS)
        ),
        days_since_points=_days(as_of, last_points, none=-1.0),
    )


def _rounded(raw: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    components = {name: round(value, 2) + 0.0 for name, value in raw.items()}
    return round(math.fsum(components.values()), 2), components


class LoyaltyScore(Scorer):
    """How loyal a customer is, 0-100: recency (40) + frequency (30) + monetary value (30).
    The tier (bronze, silver, gold, platinum) is in the features and the reasons."""

    name = "loyalty"
    version = "1"
    inputs = frozenset({"customer", "visits", "points", "as_of"})
    max_value = 100.0

    def score(self, inputs: Inputs) -> ScoreResult:
        facts = summarize(inputs)
        spend = max(0.0, facts["spend"])
        value, components = _rounded(
            {
                "recency": RECENCY_MAX * max(0.0, 1 - facts["days_since_visit"] / RECENCY_DAYS),
                "frequency": FREQUENCY_MAX * min(1.0, facts["visits"] / FREQUENCY_FULL),
                "monetary": MONETARY_MAX * min(1.0, math.log1p(spend) / math.log1p(SPEND_FULL)),
            }
        )
        tier = tier_of(value)
        balance = int(inputs["customer"].get("points_balance") or 0)
        return ScoreResult(
            value=value,
            components=components,
            reasons=(
                f"tier {tier}",
                f"last visit {facts['days_since_visit']:.0f} days ago",
                f"{facts['visits']:.0f} visits and {spend:,.2f} spent in 365 days",
            ),
            features={**facts, "tier": tier, "points_balance": balance},
        )


class ChurnRisk(Scorer):
    """How likely a customer is to stop coming, 0-100: inactivity (60) + slowdown of visits
    quarter on quarter (25) + points left idle (15)."""

    name = "churn_risk"
    version = "1"
    inputs = frozenset({"customer", "visits", "points", "as_of"})
    max_value = 100.0

    def score(self, inputs: Inputs) -> ScoreResult:
        facts = summarize(inputs)
        idle = facts["days_since_points"]
        value, components = _rounded(
            {
                "inactivity": INACTIVITY_MAX * min(1.0, facts["days_since_visit"] / INACTIVE_DAYS),
                "slowdown": SLOWDOWN_MAX * _slowdown(facts),
                "idle_points": IDLE_POINTS_MAX
                * (1.0 if idle < 0 else min(1.0, idle / IDLE_POINTS_DAYS)),
            }
        )
        band = "high" if value >= 60 else "medium" if value >= 30 else "low"
        return ScoreResult(
            value=value,
            components=components,
            reasons=(f"churn risk {band}",),
            features={**facts, "band": band},
        )


def _slowdown(facts: Summary) -> float:
    """1 when visits stopped, 0 when they held or grew; no visits in either quarter is 1."""
    recent, before = facts["visits_last_quarter"], facts["visits_previous_quarter"]
    if before == 0:
        return 1.0 if recent == 0 else 0.0
    return max(0.0, 1 - recent / before)


def scorers() -> list[Scorer]:
    return [LoyaltyScore(), ChurnRisk()]
