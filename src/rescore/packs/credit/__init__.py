"""The credit pack (PLATAM): see :mod:`rescore.packs.credit.pack` and docs/packs/credit.md."""

from __future__ import annotations

from rescore.packs.credit.blend import (
    Credibility,
    HybridScore,
    PlatamScore,
    bureau_normalized,
    credibility,
)
from rescore.packs.credit.deterioration import DeteriorationVelocity
from rescore.packs.credit.pack import EVENT_ROUTES, CreditPack
from rescore.packs.credit.performance import PaymentPerformance
from rescore.packs.credit.plans import PaymentPlanScore
from rescore.packs.credit.records import Client, Loan, Outcome, Payment, Plan, outcome
from rescore.packs.credit.simulator import CreditSimulator, default_client

__all__ = [
    "EVENT_ROUTES",
    "Client",
    "Credibility",
    "CreditPack",
    "CreditSimulator",
    "DeteriorationVelocity",
    "HybridScore",
    "Loan",
    "Outcome",
    "Payment",
    "PaymentPerformance",
    "PaymentPlanScore",
    "Plan",
    "PlatamScore",
    "bureau_normalized",
    "credibility",
    "default_client",
    "outcome",
]
