"""Win probability: features that never look ahead, a model validated on the future, and
recommendations found by asking the model."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

pytest.importorskip("sklearn")

from rescore.ml import Explainer, TrainedClassifier, load_model, save_model
from rescore.packs.tenders import win
from rescore.packs.tenders.win import FEATURES, WinInput, feature_frame, predict, train_frame

REGIONS = ("Metropolitana", "Valparaíso", "Biobío")


def _request(
    rng: np.random.Generator, r: int, suppliers: list[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """One request: 2-6 quotes, the winner drawn from a logit on price and locality."""
    day = date(2024, 1, 1) + timedelta(days=r // 6)
    category = str(rng.choice(["computación", "aseo"]))
    region = str(rng.choice(REGIONS))
    n = int(rng.integers(2, 7))
    bidders = rng.choice(len(suppliers), n, replace=False)
    prices = 1000.0 * rng.lognormal(0, 0.15, n)
    logit = -20 * (prices / prices.mean() - 1) + [
        0.8 * (suppliers[b][1] == region) for b in bidders
    ]
    winner = rng.choice(n, p=np.exp(logit) / np.exp(logit).sum())
    return [
        {
            "codigo_licitacion": f"C{r}",
            "item": 1,
            "rut_proveedor": suppliers[b][0],
            "fecha_cierre": day,
            "categoria": category,
            "producto_cotizado": f"{category} estándar",
            "precio_unitario": float(prices[k]),
            "region": region,
            "region_proveedor": suppliers[b][1],
            "tamano_proveedor": suppliers[b][2],
            "es_ganador": bool(k == winner),
        }
        for k, b in enumerate(bidders)
    ]


def history(requests: int = 2_000, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = list(win.SIZES)
    suppliers = [
        (f"{7_000_000 + i}-{i % 10}", str(rng.choice(REGIONS)), sizes[i % 4]) for i in range(60)
    ]
    return pl.DataFrame([row for r in range(requests) for row in _request(rng, r, suppliers)])


@pytest.fixture(scope="module")
def model() -> TrainedClassifier:
    return train_frame(history())


def test_features_only_look_backwards() -> None:
    rows = pl.DataFrame(
        {
            "codigo_licitacion": ["A", "A", "B", "B"],
            "item": [1, 1, 1, 1],
            "rut_proveedor": ["1-9", "2-7", "1-9", "2-7"],
            "fecha_cierre": [
                date(2025, 1, 6),
                date(2025, 1, 6),
                date(2025, 1, 7),
                date(2025, 1, 7),
            ],
            "categoria": ["aseo"] * 4,
            "producto_cotizado": ["cloro"] * 4,
            "precio_unitario": [100.0, 300.0, 150.0, 400.0],
            "region": ["Biobío"] * 4,
            "region_proveedor": ["Biobío", "Maule", "Biobío", "Maule"],
            "tamano_proveedor": ["micro", "grande", "micro", "grande"],
            "es_ganador": [True, False, False, True],
        }
    )
    frame = feature_frame(rows)
    # the first day has no earlier price: ratio 1; the next day's compare with its mean, 200
    assert frame["precio_ratio"].to_list() == [1.0, 1.0, 0.75, 2.0]
    assert frame["experiencia"].to_list() == [0, 0, 1, 0]  # 1-9 won A before quoting B
    assert frame["local"].to_list() == [1, 0, 1, 0]
    assert frame["tamano"].to_list() == [0, 3, 0, 3]
    assert frame["dia_semana"].to_list() == [0, 0, 1, 1]  # Monday, Tuesday
    assert frame["competidores"].to_list() == [1, 1, 1, 1]


def test_the_model_beats_the_seeds_bar_on_the_newest_fifth(model: TrainedClassifier) -> None:
    holdout = model.metrics["holdout"]
    assert holdout["accuracy"] > 0.70
    assert holdout["accuracy"] > holdout["majority_accuracy"]
    assert holdout["auc"] > 0.8
    assert model.features == list(FEATURES)


def test_a_prediction_splits_exactly_into_its_factors(model: TrainedClassifier) -> None:
    quote = WinInput(
        precio_ratio=1.1,
        experiencia=0,
        local=False,
        tamano="micro",
        fecha_cierre=date(2025, 3, 3),
        competidores=4,
    )
    found = predict(Explainer(model), quote)
    parts = sum(f["contribution"] for f in found.factors)
    assert found.probability == pytest.approx(found.baseline + parts, abs=1e-3)
    assert found.factors[0]["feature"] == "precio_ratio"  # a 10% dearer quote: price leads
    assert found.factors[0]["direction"] == "down"


def test_each_recommendation_is_the_highest_ratio_that_reaches_its_band(
    model: TrainedClassifier,
) -> None:
    quote = WinInput(
        precio_ratio=1.1,
        experiencia=0,
        local=True,
        tamano="mediana",
        fecha_cierre=date(2025, 3, 4),
        competidores=3,
    )
    explainer = Explainer(model)
    found = predict(explainer, quote)
    assert found.recommendations, "a dear quote can always be cheaper"
    for advice in found.recommendations:
        ratio, target = advice["precio_ratio"], advice["target"]
        assert advice["probability"] >= target > found.probability
        above = predict(explainer, WinInput(**{**_fields(quote), "precio_ratio": ratio + 0.01}))
        assert above.probability < target
        assert f"{ratio:.2f}" in advice["text"]
        assert f"{target:.0%}" in advice["text"]


def _fields(quote: WinInput) -> dict[str, Any]:
    return {name: getattr(quote, name) for name in WinInput.__dataclass_fields__}


def test_the_model_survives_skops(model: TrainedClassifier, tmp_path: Path) -> None:
    save_model(model, tmp_path, win.MODEL_NAME)
    loaded = load_model(tmp_path, win.MODEL_NAME, TrainedClassifier, features=FEATURES)
    assert loaded is not None
    rows = np.asarray([[0.9, 2, 1, 1, 2, 3], [1.2, 0, 0, 0, 4, 6]], dtype=np.float64)
    assert np.allclose(loaded.predict_proba(rows), model.predict_proba(rows))
    win.forget(tmp_path)
    assert win.load_explainer(tmp_path).model.fingerprint == model.fingerprint


def test_the_shipped_model_loads_and_was_tested_on_newer_quotes() -> None:
    shipped = win.load_explainer(None).model
    assert shipped.features == list(FEATURES)
    holdout = shipped.metrics["holdout"]
    assert holdout["accuracy"] > 0.70
    assert holdout["auc"] > 0.7
    assert shipped.metrics["trained_until"] < shipped.metrics["tested_from"]
