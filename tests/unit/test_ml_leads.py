"""The seed's regressor: trained 80/20 with its metrics, saved with skops and JSON metadata,
loaded only with trusted types, predicting with tree-spread confidence or the rule fallback."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from rescore.db.engine import Database
from rescore.exceptions import ScoringError
from rescore.ml import TrainedModel, load_model, model_paths, save_model, train_forest
from rescore.packs.leads import LeadsPack
from rescore.packs.leads.ml import FEATURES, MODEL_NAME, fallback_rule_based_score
from rescore.population import DatabaseSource

AS_OF = datetime(2026, 1, 23, 12)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LeadsPack, Path, dict[str, object]]:
    where = tmp_path_factory.mktemp("ml")
    pack = LeadsPack(as_of=lambda: AS_OF)
    url = f"sqlite:///{where}/source.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        pack.source_metadata().create_all(conn)
        pack.generate_demo_data(conn, seed=4, size=400)
    engine.dispose()
    database = Database(url)
    result = pack.train_model(DatabaseSource(database), where / "models", limit=300)
    database.dispose()
    return pack, where / "models", result


def test_training_reports_the_seed_metrics(
    trained: tuple[LeadsPack, Path, dict[str, object]],
) -> None:
    _pack, models, result = trained
    metrics = result["metrics"]
    assert isinstance(metrics, dict)
    assert (metrics["training_samples"], metrics["test_samples"]) == (240, 60)
    assert metrics["mse"] >= 0
    assert metrics["r2_score"] > 0.8  # the rule score is a function of the features
    assert set(metrics["feature_importance"]) == set(FEATURES)
    skops_file, meta_file = model_paths(models, MODEL_NAME)
    assert skops_file.exists()
    meta = json.loads(meta_file.read_text())
    assert set(meta) == {"version", "features", "metrics", "trained_at"}
    assert meta["features"] == list(FEATURES)


def test_prediction_uses_the_model_and_the_spread_of_its_trees(
    trained: tuple[LeadsPack, Path, dict[str, object]],
) -> None:
    pack, models, _ = trained
    predictor = pack.predictor(models)
    features = {f"{p}_score": 15 for p in ("whatsapp", "facebook", "instagram")}
    found = predictor.predict({**features, "platform_count": 3, "is_multi_platform": True})
    assert found.source == "model 1.0.0"
    assert 0 <= found.score <= 100
    assert 0.5 <= found.confidence <= 1.0


def test_without_a_model_the_seed_fallback_answers(tmp_path: Path) -> None:
    found = (
        LeadsPack()
        .predictor(tmp_path)
        .predict(
            {
                "whatsapp_score": 17,
                "facebook_score": 12,
                "platform_count": 2,
                "has_business_accounts": True,
            }
        )
    )
    assert (found.score, found.confidence, found.source) == (17 + 12 + 5 + 5, 0.7, "rules")
    assert fallback_rule_based_score({"apple_score": 20, "platform_count": 3}) == (30, 0.7)
    many = {f"{p}_score": 20 for p in ("whatsapp", "instagram", "facebook", "google", "apple")}
    assert fallback_rule_based_score({**many, "platform_count": 5}) == (100, 0.7)


def test_too_few_samples_are_refused() -> None:
    x = np.zeros((99, 2))
    with pytest.raises(ScoringError, match="need 100"):
        train_forest(x, np.zeros(99), ["a", "b"])


def _anything(x: object) -> object:
    return x  # a function of ours: loading it would import and run code from this module


def test_a_model_with_untrusted_types_is_refused(tmp_path: Path) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipeline = Pipeline([("f", FunctionTransformer(_anything))]).fit(np.ones((3, 1)))
    save_model(TrainedModel(pipeline=pipeline, features=["a"], version="x"), tmp_path, "evil")
    with pytest.raises(ScoringError, match="not trusted"):
        load_model(tmp_path, "evil")
    assert load_model(tmp_path, "absent") is None
