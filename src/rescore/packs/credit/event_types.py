"""The credit pack's event types: the lane of each and the scorers it affects (data, not code).

Apart from the pack class so the pack's HTTP contracts can list them without importing it.
"""

from __future__ import annotations

from collections.abc import Mapping

from rescore.routing import Lane, Route

__all__ = ["EVENT_ROUTES"]

EVENT_ROUTES: Mapping[str, Route] = {
    "new_payment_plan": Route(
        lane=Lane.CRITICAL,
        scorers=("payment_plan",),
        description="The client took a payment plan (restructuring).",
    ),
    "plan_defaulted": Route(
        lane=Lane.CRITICAL,
        scorers=("payment_plan", "deterioration"),
        description="The client broke a payment plan.",
    ),
    "plan_cancelled": Route(
        lane=Lane.CRITICAL,
        scorers=("payment_plan",),
        description="A payment plan was cancelled before completion.",
    ),
    "client_default": Route(
        lane=Lane.CRITICAL,
        scorers=("payment_performance", "deterioration"),
        description="The client's loans and unpaid instalments were written off.",
    ),
    "new_loan": Route(
        lane=Lane.NORMAL,
        scorers=("payment_performance",),
        description="A new loan and its instalment calendar.",
    ),
    "payment_made": Route(
        lane=Lane.NORMAL,
        scorers=("payment_performance", "deterioration"),
        description="An instalment was paid.",
    ),
    "payment_late": Route(
        lane=Lane.NORMAL,
        scorers=("payment_performance", "deterioration"),
        description="An instalment passed its due date unpaid.",
    ),
    "limit_increase": Route(
        lane=Lane.NONE,
        description="The credit limit went up; no score reads it, so it is only recorded.",
    ),
    "model_drift": Route(
        lane=Lane.NONE,
        description="The monthly drift check of the PD model alarmed (entity "
        "model:default_probability); recorded for the credit.model_drift rule.",
    ),
}
