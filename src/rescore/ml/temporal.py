"""A classifier validated the way it will be used: trained on the past, tested on the future.

:func:`rescore.ml.train_classifier` shuffles rows into folds, which is right when rows are
independent (one client each) and wrong when they are ordered in time: a bid of March would
teach the model about the market of April, and the reported accuracy would be a forecast of
the past. :func:`train_classifier_by_time` keeps time's arrow:

1. rows are sorted by ``order`` (a date, a timestamp, any sortable value); the newest
   ``test_share`` of them are the **holdout**, never seen while training or choosing;
2. the candidates of :mod:`rescore.ml.classifier` (logistic regression, gradient boosting)
   are compared by **forward-chaining** folds on the older rows (scikit-learn's
   ``TimeSeriesSplit``: each fold trains on everything before it), the simpler one kept unless
   the other wins by more than :data:`~rescore.ml.classifier.PREFER_SIMPLER` AUC;
3. the Platt curve is fitted on those out-of-fold scores (rows scored by a model that had
   only seen earlier rows), the chosen candidate is refitted on all the older rows;
4. the holdout is scored once: AUC, KS, Brier, the calibration table, accuracy at 0.5 and the
   accuracy of always answering the majority outcome (an accuracy means little without it).

The result is a :class:`~rescore.ml.TrainedClassifier` like any other: saved with skops by
:func:`rescore.ml.save_model`, explained by :class:`rescore.ml.Explainer`.

Example::

    model = train_classifier_by_time(x, y, ["precio_ratio", "local"], order=closing_dates)
    model.metrics["holdout"]["auc"], model.metrics["holdout"]["accuracy"]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from rescore.exceptions import ScoringError
from rescore.ml.classifier import (
    CANDIDATES,
    TrainedClassifier,
    _check,
    _choose,
    _cross_validate,
    _libraries,
    _pipeline,
    _platt,
    _reference,
    _Validated,
    fingerprint,
)
from rescore.ml.metrics import summary

__all__ = ["TimeSplit", "accuracy", "time_split", "train_classifier_by_time"]

Matrix = npt.NDArray[Any]
Labels = npt.NDArray[np.int8]
TimeSplit = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]


def time_split(order: npt.ArrayLike, test_share: float) -> TimeSplit:
    """Row indexes (oldest first) of the older part and of about the newest ``test_share``.

    The cut falls between two distinct values of ``order``: rows of the same day are never
    split between training and test."""
    if not 0.0 < test_share < 1.0:
        raise ScoringError(f"test_share must be between 0 and 1, not {test_share}")
    values = np.asarray(order)
    ranked = np.argsort(values, kind="stable")
    if len(ranked) == 0:
        return ranked, ranked
    at = values[ranked[min(int(len(ranked) * (1.0 - test_share)), len(ranked) - 1)]]
    older = ranked[values[ranked] < at]
    return older, ranked[len(older) :]


def accuracy(y: npt.ArrayLike, p: npt.ArrayLike, threshold: float = 0.5) -> float:
    """Share of rows whose outcome is on the side of ``threshold`` their probability is."""
    labels = np.asarray(y, dtype=np.int8)
    return float(np.mean((np.asarray(p) >= threshold) == (labels == 1)))


def _forward_folds(n: int, folds: int) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    from sklearn.model_selection import TimeSeriesSplit  # type: ignore[import-untyped]

    return [(a, b) for a, b in TimeSeriesSplit(n_splits=folds).split(np.arange(n))]


def _scored_rows(
    splits: Sequence[tuple[Any, npt.NDArray[np.intp]]], n: int
) -> npt.NDArray[np.bool_]:
    """Which rows got an out-of-fold score (forward chaining never scores the first chunk)."""
    mask = np.zeros(n, dtype=bool)
    for _train, test in splits:
        mask[test] = True
    return mask


def _holdout(y: Labels, p: npt.NDArray[np.float64]) -> dict[str, Any]:
    majority = max(float(y.mean()), 1.0 - float(y.mean())) if len(y) else 0.0
    return summary(y, p) | {
        "samples": len(y),
        "positives": int(y.sum()),
        "accuracy": round(accuracy(y, p), 4),
        "majority_accuracy": round(majority, 4),
    }


def train_classifier_by_time(
    x: Matrix,
    y: npt.ArrayLike,
    features: Sequence[str],
    *,
    order: npt.ArrayLike,
    test_share: float = 0.2,
    categorical: Sequence[str] = (),
    folds: int = 3,
    version: str = "1.0.0",
) -> TrainedClassifier:
    """Train on the older rows (model chosen by forward-chaining folds, Platt-calibrated on
    their out-of-fold scores) and test once on the newest ``test_share`` of rows."""
    data, labels = np.asarray(x), np.asarray(y, dtype=np.int8)
    _check(data, labels, features, folds)
    older, newer = time_split(order, test_share)
    if len(newer) == 0 or len(set(labels[newer].tolist())) < 2:
        raise ScoringError("the newest rows hold one outcome only: no holdout to test on")
    x_old, y_old = data[older], labels[older]
    cat_idx = [list(features).index(name) for name in categorical]
    splits = _forward_folds(len(y_old), folds)
    found = {name: _cross_validate(name, x_old, y_old, cat_idx, splits) for name in CANDIDATES}
    chosen = _choose(found)
    scored = _scored_rows(splits, len(y_old))
    model = TrainedClassifier(
        pipeline=_pipeline(chosen.name, data.shape[1], cat_idx).fit(x_old, y_old),
        features=list(features),
        version=version,
        categorical=list(categorical),
        calibration=_platt(chosen.out_of_fold[scored], y_old[scored]),
    )
    model.metrics = _metrics(
        chosen, found, model, (chosen.out_of_fold[scored], y_old[scored]), folds
    ) | {
        "holdout": _holdout(labels[newer], model.predict_proba(data[newer])),
        "trained_until": str(np.asarray(order)[older[-1]]) if len(older) else "",
        "tested_from": str(np.asarray(order)[newer[0]]),
    }
    _describe(model, x_old, y_old, cat_idx)
    return model


def _metrics(
    chosen: _Validated,
    found: dict[str, _Validated],
    model: TrainedClassifier,
    scored: tuple[npt.NDArray[np.float64], Labels],
    folds: int,
) -> dict[str, Any]:
    raw, labels = scored
    return {
        "model": chosen.name,
        "split": "time",
        "folds": folds,
        "samples": len(chosen.out_of_fold),
        "cv_auc": round(chosen.cv_auc, 4),
        "cv_auc_std": round(float(np.std(chosen.fold_aucs)), 4),
        "candidates": {name: round(v.cv_auc, 4) for name, v in found.items()},
        "out_of_fold": summary(labels, model.calibrate(raw)),
    }


def _describe(model: TrainedClassifier, x: Matrix, y: Labels, cat_idx: Sequence[int]) -> None:
    model.metrics["positives"] = int(y.sum())
    model.reference = _reference(model, x, cat_idx)
    model.column_means = [float(v) for v in model.pipeline[0].transform(x).mean(axis=0)]
    model.fingerprint = fingerprint(x, y, model.features)
    model.libraries = _libraries()
    model.trained_at = datetime.now(UTC).isoformat()
