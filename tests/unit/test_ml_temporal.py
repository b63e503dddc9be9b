"""Training by time: the holdout is the future, never seen while training or choosing."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

pytest.importorskip("sklearn")

from rescore.exceptions import ScoringError
from rescore.ml import accuracy, time_split, train_classifier_by_time


def test_the_split_puts_the_newest_rows_in_the_holdout_and_never_cuts_a_day() -> None:
    days = np.asarray([date(2025, 1, 1) + timedelta(days=d // 3) for d in range(30)])
    shuffled = np.random.default_rng(1).permutation(len(days))
    older, newer = time_split(days[shuffled], 0.2)
    assert len(older) + len(newer) == 30
    assert max(days[shuffled][older]) < min(days[shuffled][newer])
    assert len(newer) == 6  # 20% of 30 rows, three per day: two whole days


def test_a_share_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(ScoringError, match="test_share"):
        time_split([1, 2, 3], 1.0)


def test_accuracy_counts_rows_on_the_right_side_of_the_threshold() -> None:
    assert accuracy([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.6]) == 0.5


def _drifting(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One informative feature and one noise feature; rows in time order."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] + rng.normal(scale=0.8, size=n) > 0.5).astype(np.int8)
    return x, y, np.arange(n)


def test_training_by_time_reports_a_holdout_of_the_newest_rows() -> None:
    x, y, order = _drifting(1_200, seed=4)
    model = train_classifier_by_time(x, y, ["signal", "noise"], order=order, test_share=0.25)
    holdout = model.metrics["holdout"]
    assert model.metrics["split"] == "time"
    assert holdout["samples"] == 300
    assert holdout["auc"] > 0.8
    assert holdout["accuracy"] > holdout["majority_accuracy"]
    assert model.metrics["trained_until"] == "899"
    assert model.metrics["tested_from"] == "900"
    assert model.calibration["method"] == "platt"


def test_a_holdout_with_one_outcome_is_refused() -> None:
    x, y, order = _drifting(400, seed=5)
    y[-100:] = 0
    with pytest.raises(ScoringError, match="one outcome"):
        train_classifier_by_time(x, y, ["signal", "noise"], order=order, test_share=0.2)
