"""How good a probability is, and how far a population has moved: numpy and scipy only.

* :func:`auc` (ranking), :func:`ks` (the Kolmogorov-Smirnov separation of the bad and good
  score distributions, the number credit teams quote), :func:`brier` (calibration and
  sharpness in one number) and :func:`calibration_table` (deciles of predicted probability:
  mean predicted against observed rate).
* :func:`psi` (population stability index) against a :class:`Reference` of bin edges and
  proportions kept at training time. Bands: below 0.1 stable, 0.1-0.25 watch, above 0.25
  shifted.

evidently would do the same in a gigabyte and refuses pandas 3 (ENVIRONMENT.md, trap 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PSI_SHIFTED",
    "PSI_WATCH",
    "Reference",
    "auc",
    "band",
    "brier",
    "calibration_table",
    "ks",
    "psi",
    "summary",
]

Vector = npt.NDArray[np.float64]
PSI_WATCH, PSI_SHIFTED = 0.1, 0.25
BINS = 10
_EPS = 1e-4  # an empty bin counts as this share, so PSI stays finite


def auc(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half)."""
    from scipy.stats import rankdata  # type: ignore[import-untyped]

    truth = np.asarray(y, dtype=bool)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if not positives or not negatives:
        raise ValueError("AUC needs both outcomes among the labels")
    ranks = rankdata(np.asarray(p, dtype=np.float64))
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def ks(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Largest gap between the cumulative score distributions of the two outcomes."""
    from scipy.stats import ks_2samp

    truth = np.asarray(y, dtype=bool)
    scores = np.asarray(p, dtype=np.float64)
    return float(ks_2samp(scores[truth], scores[~truth]).statistic)


def brier(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Mean squared gap between probability and outcome (0 is perfect, 0.25 a coin)."""
    gap = np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return float(np.mean(gap * gap))


def calibration_table(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = BINS) -> list[dict[str, Any]]:
    """Deciles of predicted probability: rows, mean predicted, observed rate."""
    truth = np.asarray(y, dtype=np.float64)
    scores = np.asarray(p, dtype=np.float64)
    order = np.argsort(scores, kind="stable")
    table = []
    for index, part in enumerate(np.array_split(order, bins), start=1):
        if len(part):
            table.append(
                {
                    "decile": index,
                    "rows": len(part),
                    "predicted": round(float(scores[part].mean()), 4),
                    "observed": round(float(truth[part].mean()), 4),
                }
            )
    return table


def summary(y: npt.ArrayLike, p: npt.ArrayLike) -> dict[str, Any]:
    """AUC, KS, Brier and the calibration table of probabilities ``p`` for outcomes ``y``."""
    return {
        "auc": round(auc(y, p), 4),
        "ks": round(ks(y, p), 4),
        "brier": round(brier(y, p), 4),
        "calibration": calibration_table(y, p),
    }


@dataclass(frozen=True, kw_only=True, slots=True)
class Reference:
    """A variable's distribution at training time: inner bin edges and each bin's share."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]

    @classmethod
    def of(cls, values: npt.ArrayLike, bins: int = BINS) -> Reference:
        """Quantile bins of ``values`` (fewer when values repeat, e.g. a yes/no feature)."""
        data = np.asarray(values, dtype=np.float64)
        cuts = np.quantile(data, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf")
        inner = np.unique(cuts[cuts < data.max()])  # bins are (edge before, edge]
        counts = np.bincount(_bin(inner, data), minlength=len(inner) + 1)
        return cls(
            edges=tuple(float(e) for e in inner),
            shares=tuple(float(c) / len(data) for c in counts),
        )

    def as_dict(self) -> dict[str, list[float]]:
        return {"edges": list(self.edges), "shares": list(self.shares)}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> Reference:
        return cls(edges=tuple(data["edges"]), shares=tuple(data["shares"]))


def _bin(edges: Vector, data: Vector) -> npt.NDArray[np.intp]:
    return np.searchsorted(edges, data, side="left")


def psi(reference: Reference, values: npt.ArrayLike) -> float:
    """Population stability index of ``values`` against ``reference``'s bins."""
    data = np.asarray(values, dtype=np.float64)
    if not len(data):
        raise ValueError("PSI needs at least one value")
    counts = np.bincount(_bin(np.asarray(reference.edges), data), minlength=len(reference.shares))
    actual = np.maximum(counts / len(data), _EPS)
    expected = np.maximum(np.asarray(reference.shares), _EPS)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def band(value: float) -> str:
    """``stable`` below 0.1, ``watch`` up to 0.25, ``shifted`` above."""
    if value > PSI_SHIFTED:
        return "shifted"
    return "watch" if value >= PSI_WATCH else "stable"
