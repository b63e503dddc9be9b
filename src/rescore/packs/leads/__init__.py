"""The leads pack (SMS platform, seed 002): see :mod:`rescore.packs.leads.pack` and
docs/packs/leads.md. ``score_contact`` is the seed's algorithm for one contact."""

from __future__ import annotations

from rescore.packs.leads.algorithm import (
    PLATFORMS,
    calculate_combination_bonuses,
    calculate_confidence_level,
    calculate_platform_scores,
    calculate_quality_factors,
    determine_quality_tier,
    score_contact,
)
from rescore.packs.leads.analytics import LeadAnalytics, analytics
from rescore.packs.leads.frame import score_frame
from rescore.packs.leads.pack import EVENT_ROUTES, LeadsPack, LeadsSettings
from rescore.packs.leads.scorers import (
    LeadConfidence,
    LeadScore,
    record_of,
    result_frames,
    results_of,
)
from rescore.packs.leads.simulator import LeadsSimulator

__all__ = [
    "EVENT_ROUTES",
    "PLATFORMS",
    "LeadAnalytics",
    "LeadConfidence",
    "LeadScore",
    "LeadsPack",
    "LeadsSettings",
    "LeadsSimulator",
    "analytics",
    "calculate_combination_bonuses",
    "calculate_confidence_level",
    "calculate_platform_scores",
    "calculate_quality_factors",
    "determine_quality_tier",
    "record_of",
    "result_frames",
    "results_of",
    "score_contact",
    "score_frame",
]
