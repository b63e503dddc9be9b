"""Why a classifier gave one row its probability: exact per-feature contributions.

Both candidates of :mod:`rescore.ml.classifier` add up log-odds, so each prediction splits
exactly into a baseline plus one term per feature (no sampling, no TreeExplainer):

* **logistic regression**: ``coefficient x (value - training mean)`` of each standardised or
  one-hot column, summed per original feature; the baseline is the score of the average row.
* **gradient boosting**: the path of the row through every tree (Saabas' method): each split
  moves the tree's output from the parent node's value to the child's, and that move is
  credited to the split's feature; the baseline is the initial log-odds plus every root's
  value. A tree's output is its root value plus the moves along its path, so the parts sum
  exactly to the model's score.

The log-odds parts are then carried to the probability scale through the Platt curve,
proportionally: ``part_p = part x (p - p0) / (score - score0)``, so ``p0 + sum(part_p) = p``
exactly. The trees are compiled once into plain lists: explaining one row walks about a
thousand nodes in Python instead of calling scikit-learn per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rescore.ml.classifier import TrainedClassifier

__all__ = ["Explainer", "Explanation"]

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, slots=True)
class Explanation:
    """A probability as ``baseline + sum(contributions)`` (0-1 scale), by feature name."""

    probability: float
    baseline: float
    contributions: dict[str, float]


@dataclass(frozen=True, slots=True)
class _Tree:
    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    value: list[float]


class Explainer:
    """Predicts and explains one row at a time, from a :class:`TrainedClassifier`."""

    def __init__(self, model: TrainedClassifier) -> None:
        self.model = model
        pre, estimator = model.pipeline[0], model.pipeline[-1]
        self._pre = pre
        self._groups = _column_groups(pre, len(model.features))
        self._numeric_only = not model.categorical
        self._scale = _numeric_scaling(pre) if self._numeric_only else None
        if hasattr(estimator, "coef_"):
            self._coef: Vector | None = np.asarray(estimator.coef_[0], dtype=np.float64)
            self._means = np.asarray(model.column_means, dtype=np.float64)
            self._base = float(estimator.intercept_[0] + self._coef @ self._means)
            self._trees: list[_Tree] = []
        else:
            self._coef = None
            self._rate = float(estimator.learning_rate)
            self._trees = [_compile(t[0].tree_) for t in estimator.estimators_]
            self._base = _initial(estimator, len(self._groups)) + self._rate * sum(
                t.value[0] for t in self._trees
            )

    def transform(self, row: Sequence[Any]) -> Vector:
        """The row as the estimator sees it (standardised, one-hot)."""
        if self._scale is not None:
            mean, scale = self._scale
            return (np.asarray(row, dtype=np.float64) - mean) / scale
        x = np.asarray([row], dtype=object if not self._numeric_only else np.float64)
        return np.asarray(self._pre.transform(x)[0], dtype=np.float64)

    def explain(self, row: Sequence[Any]) -> Explanation:
        """The calibrated probability of ``row`` and its exact split by feature."""
        z = self.transform(row)
        parts = self._linear(z) if self._coef is not None else self._paths(z)
        score = self._base + float(parts.sum())
        p, p0 = (float(v) for v in self.model.calibrate([score, self._base]))
        gap = score - self._base
        a = float(self.model.calibration["a"])
        ratio = (p - p0) / gap if abs(gap) > 1e-9 else a * p * (1.0 - p)
        names = self.model.features
        return Explanation(
            probability=p,
            baseline=p0,
            contributions={names[j]: float(parts[j]) * ratio for j in range(len(names))},
        )

    def _linear(self, z: Vector) -> Vector:
        assert self._coef is not None
        terms = self._coef * (z - self._means)
        summed = np.bincount(self._groups, weights=terms, minlength=len(self.model.features))
        return np.asarray(summed, dtype=np.float64)

    def _paths(self, z: Vector) -> Vector:
        values: list[float] = z.astype(np.float32).astype(np.float64).tolist()  # as the trees
        groups: list[int] = self._groups.tolist()
        parts = [0.0] * len(self.model.features)
        rate = self._rate
        for tree in self._trees:
            node = 0
            left, right, value = tree.left, tree.right, tree.value
            while left[node] != -1:
                column = tree.feature[node]
                child = left[node] if values[column] <= tree.threshold[node] else right[node]
                parts[groups[column]] += rate * (value[child] - value[node])
                node = child
        return np.asarray(parts, dtype=np.float64)


def _compile(tree: Any) -> _Tree:
    return _Tree(
        left=tree.children_left.tolist(),
        right=tree.children_right.tolist(),
        feature=tree.feature.tolist(),
        threshold=tree.threshold.tolist(),
        value=tree.value[:, 0, 0].tolist(),
    )


def _initial(estimator: Any, columns: int) -> float:
    """The boosting's starting log-odds: its score minus what the trees add (public API)."""
    zero = np.zeros((1, columns))
    trees = sum(t[0].predict(zero)[0] for t in estimator.estimators_)
    return float(estimator.decision_function(zero)[0] - estimator.learning_rate * trees)


def _column_groups(pre: Any, n_features: int) -> npt.NDArray[np.intp]:
    """For each column the preprocessor outputs, the index of the feature it came from."""
    groups: list[int] = []
    for name, transformer, columns in pre.transformers_:
        if name == "remainder":
            continue
        if name == "cat":
            for k, j in enumerate(columns):
                groups.extend([j] * len(transformer.categories_[k]))
        else:
            groups.extend(columns)
    if sorted(set(groups)) != list(range(n_features)):
        raise ValueError("the preprocessor does not cover every feature exactly once")
    return np.asarray(groups, dtype=np.intp)


def _numeric_scaling(pre: Any) -> tuple[Vector, Vector]:
    """Mean and scale of an all-numeric preprocessor (identity for ``passthrough``)."""
    _name, transformer, columns = pre.transformers_[0]
    if not hasattr(transformer, "mean_"):  # passthrough (fitted as a FunctionTransformer)
        return np.zeros(len(columns)), np.ones(len(columns))
    return (
        np.asarray(transformer.mean_, dtype=np.float64),
        np.asarray(transformer.scale_, dtype=np.float64),
    )
