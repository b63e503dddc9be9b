"""A scaled random-forest regressor, trained and evaluated as seed 002 does.

The seed's recipe: at least 100 samples, an 80/20 split with ``random_state=42``, a
``StandardScaler`` then ``RandomForestRegressor(n_estimators=100, max_depth=10,
min_samples_split=5, min_samples_leaf=2, random_state=42)``; report MSE, R² and the feature
importances. Scaler and forest travel together as one scikit-learn ``Pipeline``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from rescore.exceptions import ScoringError

__all__ = ["MIN_SAMPLES", "TrainedModel", "train_forest"]

MIN_SAMPLES = 100
FOREST = {
    "n_estimators": 100,
    "max_depth": 10,
    "min_samples_split": 5,
    "min_samples_leaf": 2,
    "random_state": 42,
}
Matrix = npt.NDArray[np.float64]


@dataclass(kw_only=True, slots=True)
class TrainedModel:
    """A fitted pipeline and what is known about it (saved as its JSON metadata)."""

    pipeline: Any
    features: list[str]
    version: str
    metrics: dict[str, Any] = field(default_factory=dict)
    trained_at: str = ""

    def metadata(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "features": self.features,
            "metrics": self.metrics,
            "trained_at": self.trained_at,
        }

    @classmethod
    def from_saved(cls, pipeline: Any, data: dict[str, Any]) -> TrainedModel:
        return cls(
            pipeline=pipeline,
            features=list(data["features"]),
            version=str(data["version"]),
            metrics=dict(data.get("metrics", {})),
            trained_at=str(data.get("trained_at", "")),
        )

    def matrix(self, rows: Sequence[Mapping[str, Any]]) -> Matrix:
        """Feature rows as a matrix in the model's feature order (missing values are 0, as the
        seed's ``contact_features.get(name, 0)``)."""
        return np.asarray(
            [[float(row.get(n) or 0) for n in self.features] for row in rows], dtype=np.float64
        )

    def predict(self, x: Matrix) -> tuple[Matrix, Matrix]:
        """The forest's predictions and the standard deviation across its trees."""
        scaled = self.pipeline[:-1].transform(x)
        forest = self.pipeline[-1]
        trees = np.stack([tree.predict(scaled) for tree in forest.estimators_])
        return np.asarray(forest.predict(scaled)), trees.std(axis=0)


def train_forest(
    x: Matrix, y: npt.NDArray[np.float64], features: Sequence[str], *, version: str = "1.0.0"
) -> TrainedModel:
    """Fit and evaluate the seed's regressor; refuse fewer than 100 samples."""
    from sklearn.ensemble import RandomForestRegressor  # type: ignore[import-untyped]
    from sklearn.metrics import mean_squared_error, r2_score  # type: ignore[import-untyped]
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
    from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

    if len(y) < MIN_SAMPLES:
        raise ScoringError(f"insufficient training data: {len(y)} samples, need {MIN_SAMPLES}")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    pipeline = Pipeline([("scaler", StandardScaler()), ("forest", RandomForestRegressor(**FOREST))])
    pipeline.fit(x_train, y_train)
    predicted = pipeline.predict(x_test)
    importances = pipeline[-1].feature_importances_
    metrics = {
        "training_samples": len(y_train),
        "test_samples": len(y_test),
        "mse": float(mean_squared_error(y_test, predicted)),
        "r2_score": float(r2_score(y_test, predicted)),
        "feature_importance": {
            name: round(float(v), 6) for name, v in zip(features, importances, strict=True)
        },
    }
    return TrainedModel(
        pipeline=pipeline,
        features=list(features),
        version=version,
        metrics=metrics,
        trained_at=datetime.now(UTC).isoformat(),
    )
