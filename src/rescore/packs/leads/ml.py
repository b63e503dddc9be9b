"""The seed's ``MLLeadScoringService``: features, training, prediction with a rule fallback.

Training data are the first 10,000 contacts by id (the seed's ``ORDER BY c.id LIMIT 10000``)
scored by the rule-based algorithm, which is the seed's target (``lead_scores.total_score``).
Features follow the seed's ``feature_definitions`` and ``_engineer_features``:

* ``has_<platform>``: the contact has a valid validation on it (the seed reads
  ``contacts.<platform>_validated`` flags, which this schema derives from the validations);
* ``profile_completeness``: the seed's ML version, 4 fields (name, state, municipality, LADA)
  not null, not the scorer's 6 non-blank fields;
* ``avg_confidence_score``: mean confidence of the *valid* validations, 0.5 without any;
* ``geographic_consistency``: the scorer's LADA check (1.0 or 0.3), 0.5 where it does not
  apply (the seed's "unknown");
* ``validation_recency_days``: 999 for a contact never validated.

Prediction: ``max(0, min(100, int(prediction)))`` and confidence ``max(0.5, 1 - std/50)``
over the trees; without a model, the seed's ``_fallback_rule_based_score`` at confidence 0.7.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from rescore.ml import TrainedModel, load_model, save_model, train_forest
from rescore.packs.leads.algorithm import PLATFORMS
from rescore.population import Source

if TYPE_CHECKING:
    from rescore.packs.leads.pack import LeadsPack

__all__ = [
    "FEATURES",
    "MODEL_NAME",
    "MODEL_VERSION",
    "LeadPredictor",
    "Prediction",
    "fallback_rule_based_score",
    "features_frame",
    "train",
]

MODEL_NAME = "leads"
MODEL_VERSION = "1.0.0"
TRAINING_LIMIT = 10_000
NEVER_VALIDATED_DAYS = 999
FEATURES: tuple[str, ...] = (
    *(f"has_{p}" for p in PLATFORMS),
    *(f"{p}_score" for p in PLATFORMS),
    "platform_count",
    "business_account_count",
    "premium_account_count",
    "avg_confidence_score",
    "profile_completeness",
    "geographic_consistency",
    "account_age_days",
    "validation_recency_days",
    "has_business_accounts",
    "has_premium_accounts",
    "is_multi_platform",
    "meta_ecosystem_user",
    "tech_ecosystem_user",
)
_DAY_US = 86_400_000_000


def features_frame(scored: pl.DataFrame, as_of: Any) -> pl.DataFrame:
    """The seed's features from a frame scored with ``keep_inputs=True``, plus the target."""
    at = pl.lit(as_of, pl.Datetime("us"))
    has = {p: pl.col(f"{p}_valid") for p in PLATFORMS}
    filled = [
        pl.col(n).is_not_null().cast(pl.Int64)
        for n in ("full_name", "state_name", "municipality", "lada")
    ]
    return scored.select(
        *(has[p].alias(f"has_{p}") for p in PLATFORMS),
        *(pl.col(f"{p}_score") for p in PLATFORMS),
        "platform_count",
        "business_account_count",
        "premium_account_count",
        pl.col("avg_valid_confidence").fill_null(0.5).alias("avg_confidence_score"),
        (pl.sum_horizontal(filled) / 4).alias("profile_completeness"),
        pl.col("geographic_consistency").fill_null(0.5),
        ((at - pl.col("created_at")).dt.total_microseconds() // _DAY_US).alias("account_age_days"),
        ((at - pl.col("last_platform_validation")).dt.total_microseconds() // _DAY_US)
        .fill_null(NEVER_VALIDATED_DAYS)
        .alias("validation_recency_days"),
        (pl.col("business_account_count") > 0).alias("has_business_accounts"),
        (pl.col("premium_account_count") > 0).alias("has_premium_accounts"),
        (pl.col("platform_count") >= 2).alias("is_multi_platform"),
        (has["whatsapp"] & (has["facebook"] | has["instagram"])).alias("meta_ecosystem_user"),
        (has["google"] & has["apple"]).alias("tech_ecosystem_user"),
        pl.col("total_score"),
    )


def _training_frame(pack: LeadsPack, source: Source, limit: int) -> pl.DataFrame:
    parts: list[pl.DataFrame] = []
    seen = 0
    for scored in pack.score_population(source, chunk_size=limit, keep_inputs=True):
        parts.append(scored.head(limit - seen))
        seen += parts[-1].height
        if seen >= limit:
            break
    if not parts:
        return features_frame(pl.DataFrame(), pack.as_of())
    return features_frame(pl.concat(parts), pack.as_of())


def train(
    pack: LeadsPack, source: Source, models_dir: Path, *, limit: int = TRAINING_LIMIT
) -> dict[str, Any]:
    """Train on the first ``limit`` contacts, save under ``models_dir``; return the metadata."""
    frame = _training_frame(pack, source, limit) if limit else pl.DataFrame()
    x = frame.select(FEATURES).cast(pl.Float64).to_numpy() if frame.height else np.empty((0, 0))
    y = frame["total_score"].cast(pl.Float64).to_numpy() if frame.height else np.empty(0)
    model = train_forest(x, y, FEATURES, version=MODEL_VERSION)
    path = save_model(model, models_dir, MODEL_NAME)
    return {**model.metadata(), "path": str(path)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Prediction:
    """A predicted lead score, how sure the model is, and who answered (model or rules)."""

    score: int
    confidence: float
    source: str


def fallback_rule_based_score(features: Mapping[str, Any]) -> tuple[int, float]:
    """The seed's ``_fallback_rule_based_score``: platform scores, +10 for 3+ platforms or +5
    for 2, +5 with business accounts, capped at 100, confidence 0.7."""
    base_score = sum(features.get(f"{p}_score", 0) for p in PLATFORMS)
    platform_count = features.get("platform_count", 0)
    if platform_count >= 3:
        base_score += 10
    elif platform_count >= 2:
        base_score += 5
    if features.get("has_business_accounts", False):
        base_score += 5
    return min(100, base_score), 0.7


class LeadPredictor:
    """Predicts with the saved model if there is one, else with the seed's rule fallback."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self._model: TrainedModel | None = None
        self._loaded = False

    @property
    def model(self) -> TrainedModel | None:
        if not self._loaded:
            self._model = load_model(self.models_dir, MODEL_NAME)
            self._loaded = True
        return self._model

    def predict(self, features: Mapping[str, Any]) -> Prediction:
        model = self.model
        if model is None:
            score, confidence = fallback_rule_based_score(features)
            return Prediction(score=score, confidence=confidence, source="rules")
        predicted, spread = model.predict(model.matrix([features]))
        return Prediction(
            score=max(0, min(100, int(predicted[0]))),
            confidence=max(0.5, 1.0 - float(spread[0]) / 50),
            source=f"model {model.version}",
        )
