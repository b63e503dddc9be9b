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

from collections.abc import Callable, Mapping
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
        kept = _percent(record["quality_multiplier"])
        reasons.append(f"quality factors keep {kept} of each platform")
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
        f"{n} validations, mean confidence {_two_places(record['validation_confidence'])}",
        f"mean quality factor {_two_places(record['quality_confidence'])}",
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
    """The reasons of both scorers as Polars lists, worded as :func:`_reasons` and
    :func:`_confidence_reasons` word one record: the sentences are assembled by Polars, the
    numbers formatted by the same Python functions, once per distinct value (a few thousand
    in a million contacts) instead of once per row."""
    reasons = scored.select(
        _listed(_score_sentences(scored)).alias("score"),
        _listed(_confidence_sentences(scored)).alias("confidence"),
    )
    return reasons.get_column("score").alias("reasons"), reasons.get_column("confidence").alias(
        "reasons"
    )


def _score_sentences(scored: pl.DataFrame) -> list[pl.Expr]:
    active = pl.sum_horizontal(*((pl.col(f"{p}_score") > 0).cast(pl.Int64) for p in PLATFORMS))
    names = pl.concat_str(
        *(pl.when(pl.col(f"{p}_score") > 0).then(pl.lit(p)) for p in PLATFORMS),
        separator=", ",
        ignore_nulls=True,
    )
    rules = pl.concat_str(
        *(pl.when(pl.col(n) != 0).then(pl.format(f"{n} +{{}}", pl.col(n))) for n in RULE_NAMES),
        separator=", ",
        ignore_nulls=True,
    )
    business, premium = pl.col("business_account_count"), pl.col("premium_account_count")
    bonus, multiplier = pl.col("combination_bonus"), pl.col("quality_multiplier")
    kept = _formatted(scored.get_column("quality_multiplier"), _percent)
    return [
        pl.format("{}: {} of 5 platforms score", "quality_tier", active)
        + pl.when(active > 0).then(pl.format(" ({})", names)).otherwise(pl.lit("")),
        pl.when(bonus != 0).then(pl.format("combination bonus {} of 20: {}", bonus, rules)),
        pl.when((business != 0) | (premium != 0)).then(
            pl.format("{} business and {} premium accounts", business, premium)
        ),
        pl.when(multiplier != 1.0).then(
            pl.format("quality factors keep {} of each platform", kept)
        ),
        pl.when(pl.col("total_score") < pl.col("base_score") + bonus).then(pl.lit("capped at 100")),
    ]


def _confidence_sentences(scored: pl.DataFrame) -> list[pl.Expr]:
    n = pl.col("validation_count")
    mean = _formatted(scored.get_column("validation_confidence"), _two_places)
    quality = _formatted(scored.get_column("quality_confidence"), _two_places)
    return [
        pl.when(n == 0)
        .then(pl.lit("no validations yet"))
        .otherwise(pl.format("{} validations, mean confidence {}", n, mean)),
        pl.when(n != 0).then(pl.format("mean quality factor {}", quality)),
    ]


def _listed(sentences: list[pl.Expr]) -> pl.Expr:
    """The sentences that apply to a row (the others are null), in order, as a list."""
    joined = pl.concat_str(*sentences, separator=_SEPARATOR, ignore_nulls=True)
    return joined.str.split(_SEPARATOR)


def _formatted(values: pl.Series, format_: Callable[[float], str]) -> pl.Expr:
    """``values`` formatted by ``format_``, called once per distinct value (null stays null)."""
    distinct = values.drop_nulls().unique()
    texts = pl.Series([format_(v) for v in distinct.to_list()], dtype=pl.String)
    return pl.lit(values.replace_strict(distinct, texts, default=None))


def _percent(value: float) -> str:
    return f"{value:.0%}"


def _two_places(value: float) -> str:
    return f"{value:.2f}"


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
