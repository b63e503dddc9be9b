"""Payment plan score (0-150): what a client's restructuring history says.

Every client starts with the full 150 points. Plans that went wrong cost points, more when
recent: a defaulted plan costs the most, a cancelled one less, a completed one only a little
(the client needed help, then honoured the deal). Completed plans also win back part of what
defaulted and cancelled plans cost. An open plan is a mild signal: the client is restructuring
right now. Deductions beyond 150 are scaled down so the score stops at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from rescore.packs.credit.points import settle
from rescore.packs.credit.records import Plan, as_of_of, plans_of
from rescore.scoring import Inputs, Scorer, ScoreResult

__all__ = ["PaymentPlanScore", "recency_factor"]

PLAN_MAX = 150.0
#: Points a closed plan costs at full recency, by status.
CLOSED_COST = {"defaulted": 90.0, "cancelled": 45.0, "completed": 10.0}
#: Points an open plan costs, by status (not recency-weighted: it is happening now).
OPEN_COST = {"active": 20.0, "pending": 10.0}
RECOVERY_PER_COMPLETED = 25.0
RECOVERY_SHARE = 0.5  # completed plans win back at most half of the defaulted/cancelled cost
#: (most days since the plan closed, share of its cost still charged).
RECENCY: tuple[tuple[int, float], ...] = ((180, 1.0), (365, 0.7), (730, 0.4))
OLD_RECENCY = 0.2
CAUSES = ("defaulted", "cancelled", "completed", "active", "pending")


def recency_factor(plan: Plan, as_of: date) -> float:
    """Share of a closed plan's cost still charged, by how long ago it closed."""
    age = (as_of - plan.closed_on()).days
    return next((f for most, f in RECENCY if age <= most), OLD_RECENCY)


def _cost(plan: Plan, as_of: date) -> float:
    if plan.status in OPEN_COST:
        return OPEN_COST[plan.status]
    return CLOSED_COST.get(plan.status, 0.0) * recency_factor(plan, as_of)


def _raw_components(plans: Sequence[Plan], as_of: date) -> dict[str, float]:
    costs = dict.fromkeys(CAUSES, 0.0)
    for plan in plans:
        if plan.status in costs:
            costs[plan.status] += _cost(plan, as_of)
    completed = sum(1 for p in plans if p.status == "completed")
    recovery = min(
        RECOVERY_PER_COMPLETED * completed,
        RECOVERY_SHARE * (costs["defaulted"] + costs["cancelled"]),
    )
    deducted = math.fsum(costs.values())
    scale = min(1.0, (PLAN_MAX + recovery) / deducted) if deducted else 1.0
    return {
        "base": PLAN_MAX,
        **{cause: -cost * scale for cause, cost in costs.items()},
        "recovery": recovery,
    }


class PaymentPlanScore(Scorer):
    """Restructuring history (PLATAM ``calculate_payment_plan_score``, 150 points)."""

    name = "payment_plan"
    version = "1.0.0"
    inputs = frozenset({"plans", "as_of"})
    max_value = PLAN_MAX
    description = "150 points minus what defaulted, cancelled and open payment plans cost."

    def score(self, inputs: Inputs) -> ScoreResult:
        as_of = as_of_of(inputs)
        plans = plans_of(inputs)
        value, components = settle(_raw_components(plans, as_of), 0.0, PLAN_MAX)
        return ScoreResult(
            value=value,
            components=components,
            reasons=_reasons(plans, components),
            features=_features(plans),
        )


def _count(plans: Sequence[Plan], status: str) -> int:
    return sum(1 for p in plans if p.status == status)


def _features(plans: Sequence[Plan]) -> dict[str, int | bool]:
    return {
        "num_planes": len(plans),
        "tiene_plan_activo": _count(plans, "active") > 0,
        "tiene_plan_pendiente": _count(plans, "pending") > 0,
        "tiene_plan_default": _count(plans, "defaulted") > 0,
        "planes_default": _count(plans, "defaulted"),
        "planes_cancelados": _count(plans, "cancelled"),
        "planes_completados": _count(plans, "completed"),
    }


_LABELS = {
    "defaulted": "defaulted plan(s)",
    "cancelled": "cancelled plan(s)",
    "completed": "completed plan(s)",
    "active": "active plan(s)",
    "pending": "pending plan(s)",
}


def _reasons(plans: Sequence[Plan], components: dict[str, float]) -> tuple[str, ...]:
    if not plans:
        return ("no payment plans: full 150 points",)
    reasons = [
        f"{_count(plans, cause)} {_LABELS[cause]} cost {-components[cause]:g} points"
        for cause in CAUSES
        if components[cause] < 0
    ]
    if components["recovery"] > 0:
        reasons.append(f"completed plans win back {components['recovery']:g} points")
    return tuple(reasons)
