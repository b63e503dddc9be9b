"""The seed's lead score at its edges: platform arithmetic, every bonus rule, both caps, tiers,
confidence, and the designed quality factors (off = the seed's base algorithm)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from rescore.exceptions import ScoringError
from rescore.packs.leads import (
    calculate_combination_bonuses,
    calculate_confidence_level,
    calculate_platform_scores,
    calculate_quality_factors,
    determine_quality_tier,
    score_contact,
)
from rescore.packs.leads.algorithm import apply_quality_multipliers, quality_multiplier
from rescore.packs.leads.ladas import reference_pairs

AS_OF = datetime(2026, 1, 23, 12)


def v(
    platform: str,
    *,
    valid: bool = True,
    business: bool = False,
    premium: bool = False,
    confidence: float = 1.0,
) -> dict[str, Any]:
    return {
        "platform": platform,
        "is_valid": valid,
        "is_business": business,
        "is_premium": premium,
        "confidence_score": confidence,
        "validation_method": "api",
    }


def full_contact(**changes: Any) -> dict[str, Any]:
    contact = {
        "id": 1,
        "phone_e164": "+526671234567",
        "full_name": "ANA LOPEZ",
        "address": "CALLE JUAREZ #1",
        "state_name": "Sinaloa",
        "municipality": "CULIACAN",
        "lada": "667",
        "operator": "TELCEL",
        "created_at": AS_OF - timedelta(days=800),
        "last_platform_validation": AS_OF - timedelta(hours=3),
    }
    return contact | changes


def base(validations: list[dict[str, Any]]) -> dict[str, Any]:
    return score_contact({"id": 1}, validations, quality_factors=False, as_of=AS_OF)


# platform scores ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("business", "premium", "confidence", "expected"),
    [
        (False, False, 1.0, 15),
        (True, False, 1.0, 18),
        (False, True, 1.0, 17),
        (True, True, 1.0, 20),
        (False, True, 0.7, 11),  # 17 * 0.7 = 11.899999999999999 -> int() -> 11
        (False, False, 0.5, 7),  # 7.5 truncates, never rounds
        (True, True, 0.999, 19),
        (False, False, 0.066, 0),  # a valid account worth 0 points is not "active"
        (True, True, 1.5, 20),  # cap at 20 (a confidence above 1 would need it)
    ],
)
def test_platform_score_is_truncated_and_capped(
    business: bool, premium: bool, confidence: float, expected: int
) -> None:
    scores = calculate_platform_scores(
        [v("google", business=business, premium=premium, confidence=confidence)]
    )
    assert scores == {"whatsapp": 0, "instagram": 0, "facebook": 0, "google": expected, "apple": 0}


def test_invalid_rows_are_skipped_and_the_last_valid_row_wins() -> None:
    rows = [
        v("whatsapp", confidence=1.0),
        v("whatsapp", confidence=0.4),
        v("whatsapp", valid=False),
    ]
    assert calculate_platform_scores(rows)["whatsapp"] == 6  # 15 * 0.4; the invalid row is ignored


def test_unknown_platform_is_refused() -> None:
    with pytest.raises(ScoringError, match="tiktok"):
        calculate_platform_scores([v("tiktok")])


def test_platform_weights_are_never_used() -> None:
    """WhatsApp is declared worth 25 and Apple 15, but both cap at 20 in the code."""
    scores = calculate_platform_scores(
        [v("whatsapp", business=True, premium=True), v("apple", business=True, premium=True)]
    )
    assert scores["whatsapp"] == scores["apple"] == 20


# combination bonuses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platforms", "expected"),
    [
        ((), 0),
        (("apple",), 0),
        (("google", "instagram"), 2),  # 2 platforms, no synergy
        (("whatsapp", "facebook"), 2 + 3),  # Meta ecosystem
        (("instagram", "facebook"), 2 + 3),  # Meta ecosystem
        (("whatsapp", "instagram"), 2 + 2),  # young and active
        (("google", "apple"), 2 + 2),  # tech-savvy
        (("whatsapp", "google", "apple"), 5 + 2),  # 3 platforms
        (("whatsapp", "instagram", "google", "apple"), 7 + 2 + 2),  # 4 platforms
        (("whatsapp", "instagram", "facebook", "google", "apple"), 20),  # 10+3+3+2+2 = 20
    ],
)
def test_multi_platform_and_synergy_bonuses(platforms: tuple[str, ...], expected: int) -> None:
    rows = [v(p) for p in platforms]
    assert calculate_combination_bonuses(calculate_platform_scores(rows), rows) == expected


@pytest.mark.parametrize(("business", "expected"), [(1, 0), (2, 3), (3, 5), (5, 5)])
def test_business_bonus(business: int, expected: int) -> None:
    rows = [
        v(p, business=i < business)
        for i, p in enumerate(("whatsapp", "instagram", "facebook", "google", "apple"))
    ]
    multi_and_synergies = 20 - 0  # all five platforms already reach the cap
    scores = calculate_platform_scores(rows)
    assert calculate_combination_bonuses(scores, rows) == min(20, multi_and_synergies + expected)
    single = [v("apple", valid=False, business=True) for _ in range(business)]
    assert calculate_combination_bonuses(calculate_platform_scores(single), single) == expected


@pytest.mark.parametrize(("premium", "expected"), [(0, 0), (1, 0), (2, 3), (4, 3)])
def test_premium_bonus_counts_invalid_rows_too(premium: int, expected: int) -> None:
    rows = [v("facebook", valid=False, premium=True) for _ in range(premium)]
    assert calculate_combination_bonuses(calculate_platform_scores(rows), rows) == expected


def test_bonus_without_any_valid_platform_makes_a_poor_lead() -> None:
    """The seed counts business accounts over every validation, valid or not."""
    rows = [v(p, valid=False, business=True) for p in ("whatsapp", "facebook", "instagram")]
    score = base(rows)
    assert score["platform_count"] == 0
    assert score["combination_bonus"] == 5
    assert (score["total_score"], score["quality_tier"]) == (5, "POOR")


def test_bonus_is_capped_at_20() -> None:
    rows = [
        v(p, business=True, premium=True)
        for p in ("whatsapp", "instagram", "facebook", "google", "apple")
    ]
    score = base(rows)
    assert score["score_breakdown"]["combination_rules"] == {
        "multi_platform": 10,
        "meta_whatsapp_facebook": 3,
        "meta_instagram_facebook": 3,
        "social_whatsapp_instagram": 2,
        "tech_google_apple": 2,
        "business_accounts": 5,
        "premium_accounts": 3,
    }
    assert score["combination_bonus"] == 20


def test_total_is_capped_at_100() -> None:
    rows = [
        v(p, business=True, premium=True)
        for p in ("whatsapp", "instagram", "facebook", "google", "apple")
    ]
    score = base(rows)
    assert score["score_breakdown"]["base_score"] == 100
    assert score["total_score"] == 100
    assert score["quality_tier"] == "PREMIUM"


# tiers and confidence -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "tier"),
    [
        (0, "UNKNOWN"),
        (1, "POOR"),
        (24, "POOR"),
        (25, "LOW"),
        (49, "LOW"),
        (50, "MEDIUM"),
        (74, "MEDIUM"),
        (75, "HIGH"),
        (89, "HIGH"),
        (90, "PREMIUM"),
        (100, "PREMIUM"),
        (-3, "UNKNOWN"),
    ],
)
def test_tier_boundaries(total: int, tier: str) -> None:
    assert determine_quality_tier(total) == tier


def test_confidence_level() -> None:
    assert calculate_confidence_level([], {"profile_completeness": 1.0}) == 0.0
    rows = [v("whatsapp", confidence=0.9), v("apple", valid=False, confidence=0.1)]
    # mean of *all* rows (0.5) * 0.6 + 0.5 (no factors) * 0.3 + 2 * 0.05
    assert calculate_confidence_level(rows, {}) == pytest.approx(0.3 + 0.15 + 0.1)
    many = [v("whatsapp")] * 6  # the count bonus stops at 0.2, the total at 1.0
    assert calculate_confidence_level(many, {"a": 1.0}) == 1.0
    assert calculate_confidence_level(many, {}) == pytest.approx(0.6 + 0.15 + 0.2)


def test_score_contact_keys_are_the_seed_fields() -> None:
    score = score_contact(full_contact(), [v("whatsapp")], as_of=AS_OF)
    assert {
        "total_score",
        "quality_tier",
        "confidence_level",
        "whatsapp_score",
        "instagram_score",
        "facebook_score",
        "google_score",
        "apple_score",
        "combination_bonus",
        "platform_count",
        "business_account_count",
        "premium_account_count",
        "score_breakdown",
        "contact_id",
        "phone_e164",
        "calculation_method",
        "calculation_version",
    } <= set(score)
    assert score["score_breakdown"]["calculation_timestamp"] == AS_OF.isoformat()
    assert score["score_breakdown"]["confidence_sources"] == ["api"]


# quality factors (designed) -------------------------------------------------------------


def test_quality_factors_of_a_complete_recent_consistent_contact() -> None:
    factors = calculate_quality_factors(full_contact(), AS_OF, reference_pairs())
    assert factors == {
        "geographic_consistency": 1.0,  # 667 is Sinaloa, compared in upper case
        "account_age_estimation": 1.0,  # over a year
        "profile_completeness": 1.0,
        "validation_recency": 1.0,  # 0 days
    }
    assert quality_multiplier(factors) == 1.0


def test_quality_factors_penalize_gaps() -> None:
    contact = full_contact(
        state_name="JALISCO",  # 667 is not Jalisco
        address="   ",  # blank counts as missing
        operator=None,
        created_at=AS_OF - timedelta(days=73),
        last_platform_validation=AS_OF - timedelta(days=90),
    )
    factors = calculate_quality_factors(contact, AS_OF, reference_pairs())
    assert factors == {
        "geographic_consistency": 0.3,
        "account_age_estimation": 73 / 365,
        "profile_completeness": 4 / 6,
        "validation_recency": 0.5,  # floor
    }
    expected = 1.0 - (0.1 * 0.7 + 0.1 * (1 - 73 / 365) + 0.1 * (1 - 4 / 6) + 0.05 * 0.5)
    assert quality_multiplier(factors) == pytest.approx(expected)
    assert apply_quality_multipliers({"whatsapp": 20}, factors) == {"whatsapp": int(20 * expected)}


def test_missing_data_skips_a_factor_and_future_times_count_as_now() -> None:
    contact = {"id": 1, "lada": "667", "state_name": "SINALOA", "created_at": AS_OF + timedelta(1)}
    factors = calculate_quality_factors(contact, AS_OF, reference_pairs())
    assert "geographic_consistency" not in factors  # no municipality: the check does not apply
    assert "validation_recency" not in factors
    assert factors["account_age_estimation"] == 0.0


def test_quality_factors_off_is_the_seed_base_algorithm() -> None:
    rows = [v("whatsapp", business=True, confidence=0.95), v("facebook", confidence=0.8)]
    off = score_contact(
        full_contact(state_name="JALISCO"), rows, quality_factors=False, as_of=AS_OF
    )
    assert off["score_breakdown"]["quality_multipliers"] == {}
    assert (off["whatsapp_score"], off["facebook_score"]) == (17, 12)
    assert off["combination_bonus"] == 2 + 3
    assert off["total_score"] == 34
    assert off["confidence_level"] == pytest.approx(0.875 * 0.6 + 0.5 * 0.3 + 0.1)
    on = score_contact(full_contact(state_name="JALISCO"), rows, as_of=AS_OF)
    assert on["whatsapp_score"] == int(17 * (1 - 0.07))
    assert on["total_score"] < off["total_score"]
