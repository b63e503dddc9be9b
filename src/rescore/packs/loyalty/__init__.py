"""The loyalty pack (seed 003's loyalty platform): see :mod:`rescore.packs.loyalty.pack` and
docs/packs/loyalty.md."""

from __future__ import annotations

from rescore.packs.loyalty.audiences import BirthdaysAudience, InactiveAudience, automation_data
from rescore.packs.loyalty.customers import TIERS, birthday_keys, missing_fields, tier_of
from rescore.packs.loyalty.modes import (
    Action,
    Meter,
    ModeResult,
    Plan,
    birthdays_today,
    inactive_customers,
    run,
)
from rescore.packs.loyalty.pack import EVENT_ROUTES, LoyaltyPack
from rescore.packs.loyalty.scorers import ChurnRisk, LoyaltyScore
from rescore.packs.loyalty.simulator import LoyaltySimulator

__all__ = [
    "EVENT_ROUTES",
    "TIERS",
    "Action",
    "BirthdaysAudience",
    "ChurnRisk",
    "InactiveAudience",
    "LoyaltyPack",
    "LoyaltyScore",
    "LoyaltySimulator",
    "Meter",
    "ModeResult",
    "Plan",
    "automation_data",
    "birthday_keys",
    "birthdays_today",
    "inactive_customers",
    "missing_fields",
    "run",
    "tier_of",
]
