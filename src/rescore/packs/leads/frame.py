"""The seed's lead score over a whole population at once, in Polars.

:func:`score_frame` takes a chunk of ``contacts`` rows and those contacts' ``platform_validations``
rows and returns one row per contact with exactly the numbers of
:func:`rescore.packs.leads.algorithm.score_contact` (a Hypothesis test compares them bit for
bit): the same ``int()`` truncations (a float cast to an integer truncates), the same caps, and
the same left-to-right float sums (the confidence sums are unrolled per position, adding 0.0
for a missing position, which changes nothing).

Example::

    scored = score_frame(contacts, validations, as_of=datetime(2026, 1, 23))
    scored.select("contact_id", "total_score", "quality_tier", "confidence_level")
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import polars as pl

from rescore.packs.leads.algorithm import (
    BASE_POINTS,
    BONUS_MAX,
    BUSINESS_POINTS,
    INCONSISTENT_LADA,
    PLATFORM_MAX,
    PLATFORMS,
    PREMIUM_POINTS,
    PROFILE_FIELDS,
    QUALITY_WEIGHTS,
    TIERS,
    TOTAL_MAX,
    naive_utc,
)
from rescore.packs.leads.ladas import reference_pairs

__all__ = [
    "CONTACT_SCHEMA",
    "INPUT_COLUMNS",
    "RECORD_COLUMNS",
    "RULES",
    "VALIDATION_SCHEMA",
    "score_frame",
]

CONTACT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "phone_e164": pl.String(),
    "full_name": pl.String(),
    "address": pl.String(),
    "state_name": pl.String(),
    "municipality": pl.String(),
    "lada": pl.String(),
    "operator": pl.String(),
    "created_at": pl.Datetime("us"),
    "last_platform_validation": pl.Datetime("us"),
}
VALIDATION_SCHEMA: dict[str, pl.DataType] = {
    "contact_id": pl.Int64(),
    "platform": pl.String(),
    "is_valid": pl.Boolean(),
    "is_business": pl.Boolean(),
    "is_premium": pl.Boolean(),
    "confidence_score": pl.Float64(),
}
RULES = (
    "multi_platform",
    "meta_whatsapp_facebook",
    "meta_instagram_facebook",
    "social_whatsapp_instagram",
    "tech_google_apple",
    "business_accounts",
    "premium_accounts",
)
FACTORS = tuple(QUALITY_WEIGHTS)
#: The columns of a scored row, the same keys as :func:`rescore.packs.leads.scorers.record_of`.
RECORD_COLUMNS: tuple[str, ...] = (
    "contact_id",
    *(f"{p}_score" for p in PLATFORMS),
    "base_score",
    "combination_bonus",
    "total_score",
    "quality_tier",
    "confidence_level",
    "platform_count",
    "business_account_count",
    "premium_account_count",
    "validation_count",
    "validation_confidence",
    "quality_confidence",
    "quality_multiplier",
    *FACTORS,
    *RULES,
)
#: Per-contact inputs kept with ``keep_inputs``: a valid row per platform, mean valid confidence.
INPUT_COLUMNS: tuple[str, ...] = (*(f"{p}_valid" for p in PLATFORMS), "avg_valid_confidence")
_DAY_US = 86_400_000_000


def score_frame(
    contacts: pl.DataFrame,
    validations: pl.DataFrame,
    *,
    as_of: datetime,
    quality_factors: bool = True,
    ladas: Collection[tuple[str, str]] | None = None,
    keep_inputs: bool = False,
) -> pl.DataFrame:
    """Score every contact of ``contacts`` from its rows in ``validations`` (in row order).

    Returns the :data:`RECORD_COLUMNS` plus ``phone_e164``, one row per contact, in the
    order of ``contacts``; with ``keep_inputs`` also the contact's columns and
    :data:`INPUT_COLUMNS` (what the ML features are built from).
    """
    contacts = contacts.select(
        pl.col(name).cast(dtype) for name, dtype in CONTACT_SCHEMA.items()
    ).with_row_index("_order")
    per_contact = _aggregate(validations, keep_inputs=keep_inputs)
    frame = contacts.join(per_contact, left_on="id", right_on="contact_id", how="left")
    frame = frame.with_columns(
        pl.col("validation_count", "business_account_count", "premium_account_count").fill_null(0),
        pl.col("confidence_sum").fill_null(0.0),
        *(pl.col(f"{p}_valid").fill_null(False) for p in PLATFORMS if keep_inputs),
        *(pl.col(f"raw_{p}").fill_null(0) for p in PLATFORMS),
    )
    if quality_factors:
        frame = _with_factors(frame, naive_utc(as_of), ladas)
    else:
        frame = frame.with_columns(
            *(pl.lit(None, pl.Float64).alias(f) for f in FACTORS),
            pl.lit(1.0).alias("quality_multiplier"),
        )
    frame = _with_scores(frame, quality_factors)
    extra = [c for c in (*CONTACT_SCHEMA, *INPUT_COLUMNS) if c not in ("id", "phone_e164")]
    return frame.sort("_order").select(
        pl.col("id").alias("contact_id"),
        "phone_e164",
        *RECORD_COLUMNS[1:],
        *(extra if keep_inputs else ()),
    )


def _aggregate(validations: pl.DataFrame, *, keep_inputs: bool) -> pl.DataFrame:
    """Per contact: the last valid raw score of each platform, counts, confidences by position
    (with ``keep_inputs``, also the :data:`INPUT_COLUMNS`: six more filtered aggregations, half
    the time of the others together).

    Validations sorted by contact (as every loader gives them) are flagged so: grouping a
    sorted key takes contiguous slices instead of hashing, a quarter of this step's time."""
    v = validations.select(pl.col(n).cast(t) for n, t in VALIDATION_SCHEMA.items())
    if v["contact_id"].is_sorted():
        v = v.with_columns(pl.col("contact_id").set_sorted())
    base = (
        pl.lit(BASE_POINTS)
        + pl.when(pl.col("is_business")).then(BUSINESS_POINTS).otherwise(0)
        + pl.when(pl.col("is_premium")).then(PREMIUM_POINTS).otherwise(0)
    )
    raw = pl.min_horizontal(
        pl.lit(PLATFORM_MAX), (base * pl.col("confidence_score")).cast(pl.Int64)
    )
    v = v.with_columns(raw.alias("raw"))
    valid = pl.col("is_valid")
    grouped = v.group_by("contact_id", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("validation_count"),
        pl.col("is_business").sum().cast(pl.Int64).alias("business_account_count"),
        pl.col("is_premium").sum().cast(pl.Int64).alias("premium_account_count"),
        pl.col("confidence_score").alias("confidences"),
        *(
            pl.col("raw").filter(valid & (pl.col("platform") == p)).last().alias(f"raw_{p}")
            for p in PLATFORMS
        ),
        *(_inputs(valid) if keep_inputs else ()),
    )
    longest = int(grouped.select(pl.col("validation_count").max()).item() or 0)
    total = pl.lit(0.0)
    for i in range(longest):  # left to right, as Python's sum() and the seed
        total = total + pl.col("confidences").list.get(i, null_on_oob=True).fill_null(0.0)
    return grouped.with_columns(total.alias("confidence_sum")).drop("confidences")


def _inputs(valid: pl.Expr) -> list[pl.Expr]:
    return [
        *(valid.filter(pl.col("platform") == p).any().alias(f"{p}_valid") for p in PLATFORMS),
        pl.col("confidence_score").filter(valid).mean().alias("avg_valid_confidence"),
    ]


def _with_factors(
    frame: pl.DataFrame, as_of: datetime, ladas: Collection[tuple[str, str]] | None
) -> pl.DataFrame:
    pairs = reference_pairs() if ladas is None else ladas
    reference = (
        pl.DataFrame(
            {"lada": [a for a, _ in pairs], "_state": [b for _, b in pairs]},
            schema={"lada": pl.String, "_state": pl.String},
        )
        .unique()
        .with_columns(pl.lit(True).alias("_consistent"))
    )
    frame = frame.with_columns(pl.col("state_name").str.to_uppercase().alias("_state")).join(
        reference, on=["lada", "_state"], how="left"
    )
    truthy = [
        pl.col(n).is_not_null() & (pl.col(n).str.len_chars() > 0)
        for n in ("state_name", "municipality", "lada")
    ]
    geo = (
        pl.when(truthy[0] & truthy[1] & truthy[2])
        .then(
            pl.when(pl.col("_consistent").fill_null(False)).then(1.0).otherwise(INCONSISTENT_LADA)
        )
        .otherwise(None)
    )
    filled = [
        (pl.col(n).is_not_null() & (pl.col(n).str.strip_chars() != "")).cast(pl.Int64)
        for n in PROFILE_FIELDS
    ]
    age = _days("created_at", as_of)
    recency = _days("last_platform_validation", as_of)
    return frame.with_columns(
        geo.alias("geographic_consistency"),
        pl.when(age.is_not_null())
        .then(pl.min_horizontal(pl.lit(1.0), _divide(age, 365)))
        .alias("account_age_estimation"),
        _divide(pl.sum_horizontal(filled), len(PROFILE_FIELDS)).alias("profile_completeness"),
        pl.when(recency.is_not_null())
        .then(pl.max_horizontal(pl.lit(0.5), 1.0 - _divide(recency, 30)))
        .alias("validation_recency"),
    ).with_columns(_multiplier().alias("quality_multiplier"))


def _divide(numerator: pl.Expr, denominator: int) -> pl.Expr:
    """``numerator / denominator`` as Python computes it. Polars turns a division by a
    constant into a multiplication by its reciprocal, which can differ in the last bit
    (5 / 6 gives 0.8333333333333333); dividing by a full column is a true division."""
    return numerator / (pl.int_range(pl.len()) * 0 + denominator)


def _days(column: str, as_of: datetime) -> pl.Expr:
    """``max(0, (as_of - column).days)``, null where the column is null."""
    micros = (pl.lit(as_of, pl.Datetime("us")) - pl.col(column)).dt.total_microseconds()
    return (micros // _DAY_US).clip(lower_bound=0)


def _multiplier() -> pl.Expr:
    penalty = pl.lit(0.0)
    for name, weight in QUALITY_WEIGHTS.items():
        shortfall = weight * (1.0 - pl.col(name).clip(0.0, 1.0))
        penalty = penalty + pl.when(pl.col(name).is_not_null()).then(shortfall).otherwise(0.0)
    return 1.0 - penalty


def _with_scores(frame: pl.DataFrame, quality_factors: bool) -> pl.DataFrame:
    if quality_factors:
        adjusted = [
            pl.min_horizontal(
                pl.lit(PLATFORM_MAX),
                (pl.col(f"raw_{p}") * pl.col("quality_multiplier")).cast(pl.Int64),
            ).alias(f"{p}_score")
            for p in PLATFORMS
        ]
    else:
        adjusted = [pl.col(f"raw_{p}").alias(f"{p}_score") for p in PLATFORMS]
    frame = frame.with_columns(adjusted)
    active = {p: pl.col(f"{p}_score") > 0 for p in PLATFORMS}
    count = pl.sum_horizontal([a.cast(pl.Int64) for a in active.values()])
    frame = frame.with_columns(
        count.alias("platform_count"),
        pl.sum_horizontal([pl.col(f"{p}_score") for p in PLATFORMS]).alias("base_score"),
    ).with_columns(_rules(active))
    bonus = pl.min_horizontal(pl.lit(BONUS_MAX), pl.sum_horizontal([pl.col(r) for r in RULES]))
    frame = frame.with_columns(bonus.alias("combination_bonus")).with_columns(
        pl.min_horizontal(
            pl.lit(TOTAL_MAX), pl.col("base_score") + pl.col("combination_bonus")
        ).alias("total_score")
    )
    validation, quality, confidence = _confidence(quality_factors)
    return frame.with_columns(_tier().alias("quality_tier"), validation, quality).with_columns(
        confidence
    )


def _rules(active: dict[str, pl.Expr]) -> list[pl.Expr]:
    n = pl.col("platform_count")
    business = pl.col("business_account_count")

    def both(a: str, b: str, points: int) -> pl.Expr:
        return pl.when(active[a] & active[b]).then(points).otherwise(0)

    multi = (
        pl.when(n >= 5)
        .then(10)
        .when(n >= 4)
        .then(7)
        .when(n >= 3)
        .then(5)
        .when(n >= 2)
        .then(2)
        .otherwise(0)
    )
    rules = [
        multi,
        both("whatsapp", "facebook", 3),
        both("instagram", "facebook", 3),
        both("whatsapp", "instagram", 2),
        both("google", "apple", 2),
        pl.when(business >= 3).then(5).when(business >= 2).then(3).otherwise(0),
        pl.when(pl.col("premium_account_count") >= 2).then(3).otherwise(0),
    ]
    return [rule.cast(pl.Int64).alias(name) for rule, name in zip(rules, RULES, strict=True)]


def _tier() -> pl.Expr:
    total = pl.col("total_score")
    expr: pl.Expr = pl.lit("UNKNOWN")
    for low, tier in reversed(TIERS):
        expr = pl.when(total >= low).then(pl.lit(tier)).otherwise(expr)
    return expr


def _confidence(quality_factors: bool) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    n = pl.col("validation_count")
    if quality_factors:
        total = pl.lit(0.0)
        for name in FACTORS:
            total = total + pl.col(name).fill_null(0.0)
        present = pl.sum_horizontal([pl.col(f).is_not_null().cast(pl.Int64) for f in FACTORS])
        quality = pl.when(present > 0).then(total / present).otherwise(0.5)
    else:
        quality = pl.lit(0.5)
    validation = pl.when(n > 0).then(pl.col("confidence_sum") / n).otherwise(None)
    combined = (
        (pl.col("validation_confidence") * 0.6)
        + (pl.col("quality_confidence") * 0.3)
        + pl.min_horizontal(pl.lit(0.2), n * 0.05)
    )
    return (
        validation.alias("validation_confidence"),
        quality.alias("quality_confidence"),
        pl.when(n > 0)
        .then(pl.min_horizontal(pl.lit(1.0), combined))
        .otherwise(0.0)
        .alias("confidence_level"),
    )
