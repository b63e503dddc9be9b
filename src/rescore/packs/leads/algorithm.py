"""The seed's lead score for one contact, read literally: ``score_contact``.

This module is seed 002's ``AdvancedLeadScoringService`` without the database: the private
methods keep their names (``_calculate_platform_scores``, ``_calculate_combination_bonuses``,
``_determine_quality_tier``, ``_calculate_confidence_level``) and their arithmetic, quirks
included (docs/packs/leads.md lists them). What the seed leaves undefined is designed here:

* ``_calculate_quality_factors`` follows the seed's code, measured against an explicit ``as_of``
  time instead of ``datetime.utcnow()`` (a recompute is reproducible), with ages floored at 0
  days (a timestamp in the future counts as "now").
* ``_apply_quality_multipliers`` (only called in the seed) turns the factors into one multiplier
  ``1 - sum(weight * (1 - factor))`` using the seed's ``quality_factors`` weights, and applies it
  to each platform score with the seed's own ``int()`` truncation. A perfect contact keeps the
  seed's base score; missing data, an inconsistent LADA, a new or stale contact lose up to 35%.

``quality_factors=False`` skips both (the factors dict is empty), which is exactly the seed's
base algorithm: adjusted scores are the platform scores and the confidence uses 0.5 for quality.

Example::

    from rescore.packs.leads import score_contact

    score = score_contact(
        {"id": 1, "phone_e164": "+526671234567", "lada": "667", "state_name": "SINALOA"},
        [{"platform": "whatsapp", "is_valid": True, "is_business": True, "is_premium": False,
          "confidence_score": 0.95, "validation_method": "api"}],
        quality_factors=False,
    )
    score["whatsapp_score"], score["total_score"], score["quality_tier"]   # (17, 17, 'POOR')
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rescore.exceptions import ScoringError
from rescore.packs.leads.ladas import reference_pairs

__all__ = [
    "CALCULATION_VERSION",
    "PLATFORMS",
    "PLATFORM_WEIGHTS",
    "PROFILE_FIELDS",
    "QUALITY_WEIGHTS",
    "TIERS",
    "apply_quality_multipliers",
    "calculate_combination_bonuses",
    "calculate_confidence_level",
    "calculate_platform_scores",
    "calculate_quality_factors",
    "determine_quality_tier",
    "quality_multiplier",
    "score_contact",
]

PLATFORMS: tuple[str, ...] = ("whatsapp", "instagram", "facebook", "google", "apple")
#: The seed's weights: declared, shown on the dashboard as each platform's maximum, and never
#: used by its arithmetic (every platform is capped at 20). Kept for documentation only.
PLATFORM_WEIGHTS: Mapping[str, int] = {
    "whatsapp": 25,
    "instagram": 20,
    "facebook": 20,
    "google": 20,
    "apple": 15,
}
BASE_POINTS = 15
BUSINESS_POINTS = 3
PREMIUM_POINTS = 2
PLATFORM_MAX = 20
BONUS_MAX = 20
TOTAL_MAX = 100
#: (lowest total, tier), checked from the top; 0 is UNKNOWN.
TIERS: tuple[tuple[int, str], ...] = (
    (90, "PREMIUM"),
    (75, "HIGH"),
    (50, "MEDIUM"),
    (25, "LOW"),
    (1, "POOR"),
)
PROFILE_FIELDS = ("full_name", "address", "state_name", "municipality", "lada", "operator")
#: Factor -> weight of its shortfall in the multiplier; from the seed's ``quality_factors``
#: (geographic_consistency 0.1, profile_completeness 0.1, account_age_bonus 0.1,
#: temporal_patterns 0.05). The order is the order the seed computes the factors in.
QUALITY_WEIGHTS: Mapping[str, float] = {
    "geographic_consistency": 0.1,
    "account_age_estimation": 0.1,
    "profile_completeness": 0.1,
    "validation_recency": 0.05,
}
INCONSISTENT_LADA = 0.3  # the seed's "penalty for inconsistency"
CALCULATION_METHOD = "advanced_v1"
CALCULATION_VERSION = 1

Validation = Mapping[str, Any]
Contact = Mapping[str, Any]


def calculate_platform_scores(validations: Sequence[Validation]) -> dict[str, int]:
    """The seed's ``_calculate_platform_scores``: 15 base, +3 business, +2 premium, times the
    confidence, ``int()``-truncated, capped at 20; the last valid row of a platform wins."""
    scores = dict.fromkeys(PLATFORMS, 0)
    for validation in validations:
        if not validation["is_valid"]:
            continue
        base_score = BASE_POINTS
        if validation["is_business"]:
            base_score += BUSINESS_POINTS
        if validation["is_premium"]:
            base_score += PREMIUM_POINTS
        confidence_adjusted = base_score * validation["confidence_score"]
        scores[_platform(validation)] = min(PLATFORM_MAX, int(confidence_adjusted))
    return scores


def _platform(validation: Validation) -> str:
    platform = validation["platform"]
    if platform not in PLATFORMS:
        raise ScoringError(f"unknown platform {platform!r}; known: {', '.join(PLATFORMS)}")
    return str(platform)


def calculate_combination_bonuses(
    platform_scores: Mapping[str, int], validations: Sequence[Validation]
) -> int:
    """The seed's ``_calculate_combination_bonuses``, every rule, capped at 20.

    Business and premium accounts are counted over *all* validations, valid or not, as the
    seed's code does.
    """
    return min(BONUS_MAX, sum(combination_parts(platform_scores, validations).values()))


def combination_parts(
    platform_scores: Mapping[str, int], validations: Sequence[Validation]
) -> dict[str, int]:
    """Each rule's points before the cap (for the breakdown)."""
    active = {p for p, score in platform_scores.items() if score > 0}
    count = len(active)
    business = sum(1 for v in validations if v["is_business"])
    premium = sum(1 for v in validations if v["is_premium"])
    return {
        "multi_platform": 10
        if count >= 5
        else 7
        if count >= 4
        else 5
        if count >= 3
        else 2
        if count >= 2
        else 0,
        "meta_whatsapp_facebook": 3 if {"whatsapp", "facebook"} <= active else 0,
        "meta_instagram_facebook": 3 if {"instagram", "facebook"} <= active else 0,
        "social_whatsapp_instagram": 2 if {"whatsapp", "instagram"} <= active else 0,
        "tech_google_apple": 2 if {"google", "apple"} <= active else 0,
        "business_accounts": 5 if business >= 3 else 3 if business >= 2 else 0,
        "premium_accounts": 3 if premium >= 2 else 0,
    }


def determine_quality_tier(total_score: int) -> str:
    """The seed's ``_determine_quality_tier``: PREMIUM >= 90 ... POOR > 0, else UNKNOWN."""
    return next((tier for low, tier in TIERS if total_score >= low), "UNKNOWN")


def calculate_confidence_level(
    validations: Sequence[Validation], quality_factors: Mapping[str, float]
) -> float:
    """The seed's ``_calculate_confidence_level``: 0.6 x the mean confidence of *all*
    validations (valid or not) + 0.3 x the mean quality factor (0.5 when there are none) +
    0.05 per validation up to 0.2, capped at 1. Sums run left to right, as Python 3.11's
    ``sum()`` does, so the vectorized form can repeat them bit for bit."""
    if not validations:
        return 0.0
    validation_confidence, quality_confidence = confidence_parts(validations, quality_factors)
    assert validation_confidence is not None
    validation_count_bonus = min(0.2, len(validations) * 0.05)
    total_confidence = (
        (validation_confidence * 0.6) + (quality_confidence * 0.3) + validation_count_bonus
    )
    return min(1.0, total_confidence)


def confidence_parts(
    validations: Sequence[Validation], quality_factors: Mapping[str, float]
) -> tuple[float | None, float]:
    """The two means the confidence blends (None for the first when there are no validations)."""
    validation_confidence = (
        _sequential_sum(v["confidence_score"] for v in validations) / len(validations)
        if validations
        else None
    )
    quality_confidence = (
        _sequential_sum(quality_factors.values()) / len(quality_factors) if quality_factors else 0.5
    )
    return validation_confidence, quality_confidence


def _sequential_sum(values: Any) -> float:
    total = 0.0
    for value in values:
        total += value
    return total


def calculate_quality_factors(
    contact: Contact, as_of: datetime, ladas: Collection[tuple[str, str]]
) -> dict[str, float]:
    """The seed's ``_calculate_quality_factors`` against ``as_of`` (designed, see module doc).

    ``ladas`` holds the consistent ``(lada, STATE)`` pairs of the ``ladas_reference`` table.
    """
    factors: dict[str, float] = {}
    if contact.get("state_name") and contact.get("municipality") and contact.get("lada"):
        pair = (contact["lada"], contact["state_name"].upper())
        factors["geographic_consistency"] = 1.0 if pair in ladas else INCONSISTENT_LADA
    created_at = contact.get("created_at")
    if created_at:
        factors["account_age_estimation"] = min(1.0, _days_between(created_at, as_of) / 365)
    factors["profile_completeness"] = _profile_completeness(contact)
    validated = contact.get("last_platform_validation")
    if validated:
        factors["validation_recency"] = max(0.5, 1.0 - (_days_between(validated, as_of) / 30))
    return factors


def _profile_completeness(contact: Contact) -> float:
    fields = [contact.get(name) for name in PROFILE_FIELDS]
    filled = sum(1 for field in fields if field is not None and field.strip())
    return filled / len(fields)


def _days_between(earlier: datetime, as_of: datetime) -> int:
    """Whole days from ``earlier`` to ``as_of`` (``timedelta.days``), at least 0."""
    return max(0, (naive_utc(as_of) - naive_utc(earlier)).days)


def naive_utc(value: datetime) -> datetime:
    """The seed's times are naive UTC; an aware time is converted to it."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def quality_multiplier(factors: Mapping[str, float]) -> float:
    """One multiplier from the factors present: ``1 - sum(weight * (1 - factor))``, each factor
    clamped to [0, 1], summed in the seed's order. 1.0 when there are no factors."""
    penalty = 0.0
    for name, weight in QUALITY_WEIGHTS.items():
        if name in factors:
            penalty += weight * (1.0 - min(1.0, max(0.0, factors[name])))
    return 1.0 - penalty


def apply_quality_multipliers(
    platform_scores: Mapping[str, int], quality_multipliers: Mapping[str, float]
) -> dict[str, int]:
    """The seed's ``_apply_quality_multipliers`` (designed): each platform score times the
    multiplier, truncated with ``int()`` like the seed's platform scores. No factors, no change."""
    if not quality_multipliers:
        return dict(platform_scores)
    multiplier = quality_multiplier(quality_multipliers)
    return {p: min(PLATFORM_MAX, int(s * multiplier)) for p, s in platform_scores.items()}


def score_contact(
    contact: Contact,
    validations: Sequence[Validation],
    *,
    quality_factors: bool = True,
    as_of: datetime | None = None,
    ladas: Collection[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The seed's ``calculate_comprehensive_score`` for one contact, as the seed's
    ``lead_score_data`` dict (same keys), without saving it.

    ``contact`` holds the ``contacts`` columns; ``validations`` the contact's
    ``platform_validations`` rows in row order. ``as_of`` replaces ``datetime.utcnow()``
    (default: now); ``ladas`` the ``ladas_reference`` pairs (default: the built-in table).
    """
    as_of = naive_utc(as_of or datetime.now(UTC))
    platform_scores = calculate_platform_scores(validations)
    factors = (
        calculate_quality_factors(contact, as_of, reference_pairs() if ladas is None else ladas)
        if quality_factors
        else {}
    )
    adjusted = apply_quality_multipliers(platform_scores, factors)
    combination_bonus = calculate_combination_bonuses(adjusted, validations)
    base_score = sum(adjusted.values())
    validation_confidence, quality_confidence = confidence_parts(validations, factors)
    total_score = min(TOTAL_MAX, base_score + combination_bonus)
    return {
        "contact_id": contact.get("id"),
        "phone_e164": contact.get("phone_e164"),
        **{f"{p}_score": adjusted.get(p, 0) for p in PLATFORMS},
        "total_score": total_score,
        "quality_tier": determine_quality_tier(total_score),
        "confidence_level": calculate_confidence_level(validations, factors),
        "combination_bonus": combination_bonus,
        "platform_count": sum(1 for score in adjusted.values() if score > 0),
        "business_account_count": sum(1 for v in validations if v["is_business"]),
        "premium_account_count": sum(1 for v in validations if v["is_premium"]),
        "score_breakdown": {
            "platform_scores": adjusted,
            "quality_multipliers": factors,
            "quality_multiplier": quality_multiplier(factors),
            "combination_bonus": combination_bonus,
            "combination_rules": combination_parts(adjusted, validations),
            "base_score": base_score,
            "final_score": total_score,
            "calculation_timestamp": as_of.isoformat(),
            "factors_analyzed": len(factors),
            "validation_confidence": validation_confidence,
            "quality_confidence": quality_confidence,
            "confidence_sources": [v.get("validation_method") for v in validations],
        },
        "calculation_method": CALCULATION_METHOD if quality_factors else "advanced_v1_base",
        "calculation_version": CALCULATION_VERSION,
    }
