"""Win probability (seed 001, 4.4): the chance that a supplier's quote wins a Compra Ágil
request, with the factors behind it and what would raise it.

The seed's six features, computed from ``historico_licitaciones`` as they were known **before**
each quote (the history is sorted by closing date and every aggregate looks only backwards, so
nothing from the future leaks into a row):

=================  =========================================================================
``precio_ratio``    unit price / the average unit price of the same product in the buyer's
                    region before that day (what that region pays); the product's national
                    average when the region has none, the category's when the product is
                    new, 1 when the category is new too
``experiencia``     the supplier's awards in the category before that day
``local``           1 when the supplier's home region is the buyer's region
``tamano``          supplier size, 0 micro, 1 pequeña, 2 mediana, 3 grande
``dia_semana``      weekday of the closing date, 0 Monday ... 6 Sunday
``competidores``    the other suppliers quoting the same line (at prediction time: the
                    category's average, unless the caller knows better)
=================  =========================================================================

The model is :func:`rescore.ml.train_classifier_by_time` (trained on the older 80%, tested on
the newest 20%, Platt-calibrated) saved with skops; a model trained on the demo history ships
in ``model/`` and ``rescore tenders train`` replaces it with one trained on the source.
:func:`predict` explains each probability exactly (:class:`rescore.ml.Explainer`) and searches
the model for the price ratio that reaches each higher probability band.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl

from rescore.exceptions import ScoringError

if TYPE_CHECKING:
    from rescore.ml import Explainer, TrainedClassifier

__all__ = [
    "FEATURES",
    "MODEL_NAME",
    "SIZES",
    "Prediction",
    "WinInput",
    "feature_frame",
    "load_explainer",
    "predict",
    "shipped_models_dir",
    "train_frame",
]

MODEL_NAME = "win_probability"
MODEL_VERSION = "1.0.0"
FEATURES: tuple[str, ...] = (
    "precio_ratio",
    "experiencia",
    "local",
    "tamano",
    "dia_semana",
    "competidores",
)
SIZES = {"micro": 0, "pequena": 1, "mediana": 2, "grande": 3}
#: Samples trained and tested on by default (the newest rows): enough for six features.
DEFAULT_LIMIT = 60_000
#: Probability bands the recommendations aim for, above the current probability.
TARGETS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
#: Price ratios searched (the model is asked at every step).
RATIO_GRID = np.round(np.arange(0.50, 1.501, 0.01), 2)
LABELS = {
    "precio_ratio": "price ratio to the average",
    "experiencia": "awards in the category",
    "local": "local supplier",
    "tamano": "supplier size",
    "dia_semana": "weekday of closing",
    "competidores": "competitors",
}


def shipped_models_dir() -> Path:
    """The model trained on the demo history, inside the installed package."""
    return Path(str(resources.files("rescore.packs.tenders").joinpath("model")))


# features --------------------------------------------------------------------------------


def _before_day(frame: pl.DataFrame, keys: list[str], value: pl.Expr, name: str) -> pl.DataFrame:
    """``frame`` with ``name_sum`` and ``name_n``: the sum of ``value`` and the row count over
    the rows of the same ``keys`` closing on **earlier days** (a request's own quotes, and
    those of the same day, are not known when a supplier quotes)."""
    daily = (
        frame.group_by(*keys, "fecha_cierre")
        .agg(value.sum().alias("_s"), pl.len().alias("_n"))
        .sort("fecha_cierre")
        .with_columns(
            (pl.col("_s").cum_sum().over(keys) - pl.col("_s")).alias(f"{name}_sum"),
            (pl.col("_n").cum_sum().over(keys) - pl.col("_n")).alias(f"{name}_n"),
        )
        .drop("_s", "_n")
    )
    return frame.join(daily, on=[*keys, "fecha_cierre"], how="left", nulls_equal=True)


def _mean_of(name: str) -> pl.Expr:
    return pl.when(pl.col(f"{name}_n") > 0).then(pl.col(f"{name}_sum") / pl.col(f"{name}_n"))


def feature_frame(history: pl.DataFrame) -> pl.DataFrame:
    """The six features (and ``fecha_cierre``, ``es_ganador``) of every history row, each
    computed only from earlier days. ``history`` has ``historico_licitaciones``'s columns."""
    ordered = history.sort("fecha_cierre", "codigo_licitacion", "item", "rut_proveedor")
    price, won = pl.col("precio_unitario"), pl.col("es_ganador").cast(pl.Int64)
    product = ["categoria", "producto_cotizado"]
    frame = _before_day(ordered, [*product, "region"], price, "_region")
    frame = _before_day(frame, product, price, "_producto")
    frame = _before_day(frame, ["categoria"], price, "_categoria")
    frame = _before_day(frame, ["rut_proveedor", "categoria"], won, "_victorias")
    reference = pl.coalesce(
        _mean_of("_region"), _mean_of("_producto"), _mean_of("_categoria"), price
    )
    return frame.select(
        (price / reference).fill_nan(1.0).alias("precio_ratio"),
        pl.col("_victorias_sum").alias("experiencia"),
        (pl.col("region") == pl.col("region_proveedor")).cast(pl.Int64).alias("local"),
        pl.col("tamano_proveedor").replace_strict(SIZES, default=0).alias("tamano"),
        (pl.col("fecha_cierre").dt.weekday() - 1).alias("dia_semana"),
        (pl.len().over("codigo_licitacion", "item") - 1).alias("competidores"),
        "fecha_cierre",
        "es_ganador",
    )


def train_frame(
    history: pl.DataFrame, *, test_share: float = 0.2, limit: int | None = DEFAULT_LIMIT
) -> TrainedClassifier:
    """The win model trained on ``history`` by time (older rows train, newest test); features
    come from the whole history, the newest ``limit`` rows are the samples."""
    from rescore.ml import train_classifier_by_time

    frame = feature_frame(history)
    if limit is not None:
        frame = frame.tail(limit)
    x = frame.select(FEATURES).to_numpy().astype(np.float64)
    y = frame["es_ganador"].cast(pl.Int8).to_numpy()
    order = frame["fecha_cierre"].to_numpy()
    return train_classifier_by_time(
        x, y, FEATURES, order=order, test_share=test_share, version=MODEL_VERSION
    )


# prediction ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class WinInput:
    """One prospective quote, its features already known (see :mod:`.intel` for reading them
    from the source)."""

    precio_ratio: float
    experiencia: int
    local: bool
    tamano: str
    fecha_cierre: date | datetime
    competidores: float

    def row(self, ratio: float | None = None) -> list[float]:
        """The feature row, optionally at another price ratio."""
        return [
            float(self.precio_ratio if ratio is None else ratio),
            float(self.experiencia),
            1.0 if self.local else 0.0,
            float(SIZES[self.tamano]),
            float(self.fecha_cierre.weekday()),
            float(self.competidores),
        ]


@dataclass(frozen=True, kw_only=True, slots=True)
class Prediction:
    """The calibrated probability, its exact split by feature, and recommendations."""

    probability: float
    baseline: float
    factors: list[dict[str, Any]]
    recommendations: list[dict[str, Any]]
    model_version: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 4),
            "baseline": round(self.baseline, 4),
            "factors": self.factors,
            "recommendations": self.recommendations,
            "model_version": self.model_version,
        }


def _factors(contributions: Mapping[str, float], row: list[float]) -> list[dict[str, Any]]:
    ranked = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))
    values = dict(zip(FEATURES, row, strict=True))
    return [
        {
            "feature": name,
            "label": LABELS[name],
            "value": round(values[name], 4),
            "contribution": round(part, 4),
            "direction": "up" if part >= 0 else "down",
        }
        for name, part in ranked
    ]


def ratio_curve(explainer: Explainer, quote: WinInput) -> npt.NDArray[np.float64]:
    """The model's probability at every price ratio of :data:`RATIO_GRID` (the rest fixed)."""
    rows = np.asarray([quote.row(float(r)) for r in RATIO_GRID], dtype=np.float64)
    return np.asarray(explainer.model.predict_proba(rows), dtype=np.float64)


def recommendations(explainer: Explainer, quote: WinInput, now: float) -> list[dict[str, Any]]:
    """For each band of :data:`TARGETS` above ``now``: the highest price ratio (so the least
    discount) at which the model reaches it, searched over :data:`RATIO_GRID`."""
    curve = ratio_curve(explainer, quote)
    found = []
    for target in (t for t in TARGETS if t > now):
        reaching = RATIO_GRID[curve >= target]
        if len(reaching) == 0:
            continue
        ratio = float(reaching.max())
        found.append(
            {
                "target": target,
                "precio_ratio": ratio,
                "probability": round(float(curve[ratio == RATIO_GRID][0]), 4),
                "text": (
                    f"lower your price ratio to {ratio:.2f} or below to reach "
                    f"{target:.0%} (now {quote.precio_ratio:.2f})"
                ),
            }
        )
    return found[:3]


def predict(explainer: Explainer, quote: WinInput) -> Prediction:
    """The win probability of ``quote``, why, and how to raise it."""
    row = quote.row()
    explained = explainer.explain(row)
    return Prediction(
        probability=explained.probability,
        baseline=explained.baseline,
        factors=_factors(explained.contributions, row),
        recommendations=recommendations(explainer, quote, explained.probability),
        model_version=explainer.model.version,
    )


# the model in use ------------------------------------------------------------------------

_LOCK = threading.Lock()
_LOADED: dict[Path, Explainer] = {}


def load_explainer(models_dir: Path | None) -> Explainer:
    """The model trained into ``models_dir`` when there is one, else the shipped one; loaded
    once per process and folder."""
    from rescore.ml import Explainer, TrainedClassifier, load_model

    for folder in (models_dir, shipped_models_dir()):
        if folder is None:
            continue
        with _LOCK:
            if folder in _LOADED:
                return _LOADED[folder]
        model = load_model(folder, MODEL_NAME, TrainedClassifier, features=FEATURES)
        if model is not None:
            with _LOCK:
                return _LOADED.setdefault(folder, Explainer(model))
    raise ScoringError("no win-probability model: run `rescore tenders train`")


def forget(models_dir: Path) -> None:
    """Drop the cached model of ``models_dir`` (after training a new one there)."""
    with _LOCK:
        _LOADED.pop(models_dir, None)
