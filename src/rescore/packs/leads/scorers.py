"""The engine-facing scorers: ``lead_score`` (0-100) and ``lead_confidence`` (0-1).

Both are views of one :func:`~rescore.packs.leads.algorithm.score_contact` result, flattened
into a *record* (:func:`record_of`) with the same keys as a row of the vectorized
:func:`~rescore.packs.leads.frame.score_frame`. :func:`results_of` turns a record into the two
:class:`ScoreResult` objects, so the per-contact path and the population path build their
stored scores with the same code from the same numbers.

``lead_score`` components: the five adjusted platform scores, ``combination_bonus`` and
``cap_at_100`` (zero or negative: what the cap at 100 took off). ``lead_confidence``
components: ``validations`` (0.6 x mean confidence), ``quality`` (0.3 x mean quality factor),
``count_bonus`` (0.05 per validation, at most 0.2) and ``cap_at_1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import polars as pl

from rescore.packs.leads.algorithm import PLATFORMS, QUALITY_WEIGHTS, score_contact
from rescore.scoring import Feature, Inputs, Scorer, ScoreResult

__all__ = [
    "BaseLeadConfidence",
    "BaseLeadScore",
    "LeadConfidence",
    "LeadScore",
    "record_of",
    "result_frames",
    "results_of",
    "scorers",
]

Record = Mapping[str, Any]
RULE_NAMES = (
    "multi_platform",
    "meta_whatsapp_facebook",
    "meta_instagram_facebook",
    "social_whatsapp_instagram",
    "tech_google_apple",
    "business_accounts",
    "premium_accounts",
)
#: lead_score's features, in order
FEATURES = (
    "quality_tier",
    "platform_count",
    "business_account_count",
    "premium_account_count",
    "validation_count",
    "base_score",
    "quality_multiplier",
    *QUALITY_WEIGHTS,
    *RULE_NAMES,
)


def record_of(score: Mapping[str, Any]) -> dict[str, Any]:
    """A ``score_contact`` result as a flat record (the columns of ``score_frame``)."""
    breakdown = score["score_breakdown"]
    factors = breakdown["quality_multipliers"]
    return {
        "contact_id": score["contact_id"],
        **{f"{p}_score": score[f"{p}_score"] for p in PLATFORMS},
        "base_score": breakdown["base_score"],
        "combination_bonus": score["combination_bonus"],
        "total_score": score["total_score"],
        "quality_tier": score["quality_tier"],
        "confidence_level": score["confidence_level"],
        "platform_count": score["platform_count"],
        "business_account_count": score["business_account_count"],
        "premium_account_count": score["premium_account_count"],
        "validation_count": len(breakdown["confidence_sources"]),
        "validation_confidence": breakdown["validation_confidence"],
        "quality_confidence": breakdown["quality_confidence"],
        "quality_multiplier": breakdown["quality_multiplier"],
        **{name: factors.get(name) for name in QUALITY_WEIGHTS},
        **breakdown["combination_rules"],
    }


def _lead_score(record: Record) -> ScoreResult:
    platforms = {p: float(record[f"{p}_score"]) for p in PLATFORMS}
    base, bonus, total = record["base_score"], record["combination_bonus"], record["total_score"]
    components = {
        **platforms,
        "combination_bonus": float(bonus),
        "cap_at_100": float(total - base - bonus),
    }
    features: dict[str, Feature] = {name: record[name] for name in FEATURES}
    return ScoreResult(
        value=float(total), components=components, reasons=_reasons(record), features=features
    )


def _reasons(record: Record) -> tuple[str, ...]:
    active = [p for p in PLATFORMS if record[f"{p}_score"] > 0]
    reasons = [
        f"{record['quality_tier']}: {len(active)} of 5 platforms score"
        + (f" ({', '.join(active)})" if active else "")
    ]
    if record["combination_bonus"]:
        rules = [f"{n} +{record[n]}" for n in RULE_NAMES if record[n]]
        reasons.append(f"combination bonus {record['combination_bonus']} of 20: {', '.join(rules)}")
    if record["business_account_count"] or record["premium_account_count"]:
        reasons.append(
            f"{record['business_account_count']} business and "
            f"{record['premium_account_count']} premium accounts"
        )
    if record["quality_multiplier"] != 1.0:
        reasons.append(f"quality factors keep {record['quality_multiplier']:.0%} of each platform")
    if record["total_score"] < record["base_score"] + record["combination_bonus"]:
        reasons.append("capped at 100")
    return tuple(reasons)


def _lead_confidence(record: Record) -> ScoreResult:
    n = record["validation_count"]
    value = float(record["confidence_level"])
    if not n:
        components = {"validations": 0.0, "quality": 0.0, "count_bonus": 0.0, "cap_at_1": 0.0}
        return ScoreResult(value=value, components=components, reasons=_confidence_reasons(record))
    parts = {
        "validations": record["validation_confidence"] * 0.6,
        "quality": record["quality_confidence"] * 0.3,
        "count_bonus": min(0.2, n * 0.05),
    }
    components = {**parts, "cap_at_1": value - sum(parts.values())}
    return ScoreResult(value=value, components=components, reasons=_confidence_reasons(record))


def _confidence_reasons(record: Record) -> tuple[str, ...]:
    n = record["validation_count"]
    if not n:
        return ("no validations yet",)
    return (
        f"{n} validations, mean confidence {record['validation_confidence']:.2f}",
        f"mean quality factor {record['quality_confidence']:.2f}",
    )


def result_frames(scored: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Both scorers' results for every row of a ``score_frame`` (with its ``entity`` column)
    as Polars columns (the pack's ``result_frames`` hook): the same numbers, field order and
    texts as :func:`results_of` gives one record, the reasons written by the same functions."""
    score_reasons, confidence_reasons = _frame_reasons(scored)
    confidence, n = pl.col("confidence_level").cast(pl.Float64), pl.col("validation_count")
    parts = {
        "validations": pl.col("validation_confidence") * 0.6,
        "quality": pl.col("quality_confidence") * 0.3,
        "count_bonus": pl.min_horizontal(pl.lit(0.2), n * 0.05),
    }
    parts["cap_at_1"] = confidence - (
        parts["validations"] + parts["quality"] + parts["count_bonus"]
    )
    none = n == 0  # no validations: every component is zero
    lead_score = scored.select(
        "entity",
        pl.col("total_score").cast(pl.Float64).alias("value"),
        pl.struct(
            *(pl.col(f"{p}_score").cast(pl.Float64).alias(p) for p in PLATFORMS),
            pl.col("combination_bonus").cast(pl.Float64),
            (pl.col("total_score") - pl.col("base_score") - pl.col("combination_bonus"))
            .cast(pl.Float64)
            .alias("cap_at_100"),
        ).alias("components"),
        score_reasons,
        pl.struct(*FEATURES).alias("features"),
    )
    lead_confidence = scored.select(
        "entity",
        confidence.alias("value"),
        pl.struct(*(pl.when(none).then(0.0).otherwise(e).alias(k) for k, e in parts.items())).alias(
            "components"
        ),
        confidence_reasons,
    )
    return {"lead_score": lead_score, "lead_confidence": lead_confidence}


def _frame_reasons(scored: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """The reasons of both scorers, row by row (their wording is Python's formatting)."""
    wanted = scored.select(
        "quality_tier",
        *(f"{p}_score" for p in PLATFORMS),
        "combination_bonus",
        *RULE_NAMES,
        "business_account_count",
        "premium_account_count",
        "quality_multiplier",
        "total_score",
        "base_score",
        "validation_count",
        "validation_confidence",
        "quality_confidence",
    )
    scores, confidences = [], []
    for record in wanted.iter_rows(named=True):
        scores.append(_SEPARATOR.join(_reasons(record)))
        confidences.append(_SEPARATOR.join(_confidence_reasons(record)))
    return _split(scores), _split(confidences)


def _split(joined: list[str]) -> pl.Series:
    """Reasons joined into one string per row, split by Polars: a Series of Python lists is
    built element by element, ten times slower (every row has at least one reason)."""
    return pl.Series("reasons", joined, dtype=pl.String).str.split(_SEPARATOR)


_SEPARATOR = "\x1f"  # ASCII unit separator: in no reason


def results_of(record: Record) -> dict[str, ScoreResult]:
    """Both scorers' results from one record, by scorer name."""
    return {"lead_score": _lead_score(record), "lead_confidence": _lead_confidence(record)}


class _FromRecord(Scorer):
    inputs = frozenset({"contact", "validations", "ladas", "as_of"})
    quality_factors: ClassVar[bool] = True

    def record(self, inputs: Inputs) -> dict[str, Any]:
        as_of: datetime = inputs["as_of"]
        score = score_contact(
            inputs["contact"],
            inputs["validations"],
            quality_factors=self.quality_factors,
            as_of=as_of,
            ladas=inputs["ladas"],
        )
        return record_of(score)


class LeadScore(_FromRecord):
    """The seed's total score (0-100): platforms, combination bonus, cap at 100."""

    name = "lead_score"
    version = "1.0.0"
    max_value = 100.0
    description = "Seed 002 lead score: five platform scores plus combination bonus, 0-100."

    def score(self, inputs: Inputs) -> ScoreResult:
        return _lead_score(self.record(inputs))


class LeadConfidence(_FromRecord):
    """The seed's confidence level (0-1) in the lead score."""

    name = "lead_confidence"
    version = "1.0.0"
    max_value = 1.0
    description = "Seed 002 confidence level: validation confidence, quality factors, count."

    def score(self, inputs: Inputs) -> ScoreResult:
        return _lead_confidence(self.record(inputs))


class BaseLeadScore(LeadScore):
    """``lead_score`` with the quality factors off: the seed's base algorithm exactly."""

    version = "1.0.0+base"
    quality_factors = False


class BaseLeadConfidence(LeadConfidence):
    """``lead_confidence`` with the quality factors off (quality confidence 0.5)."""

    version = "1.0.0+base"
    quality_factors = False


def scorers(*, quality_factors: bool) -> list[Scorer]:
    """The pack's two scorers, with or without the quality factors."""
    if quality_factors:
        return [LeadScore(), LeadConfidence()]
    return [BaseLeadScore(), BaseLeadConfidence()]
