"""The credit pack's probability of default: 22 features, the shipped model, exact
explanations, training on the source's outcomes, and the drift check both ways (a shifted
population or decayed ranking alarms and notifies Slack; an unshifted one stays quiet)."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rescore.api import deps
from rescore.api.mount import mount_packs
from rescore.automations.dispatcher import DeliveryDispatcher
from rescore.engine import Engine
from rescore.exceptions import ConfigurationError
from rescore.keys import Principal, Scope
from rescore.ml import TrainedClassifier, load_model, model_paths
from rescore.packs.credit import CreditPack
from rescore.packs.credit.drift import DRIFT_ENTITY, latest_report, report_paths
from rescore.packs.credit.pack import CreditSettings
from rescore.packs.credit.probability import (
    FEATURES,
    MODEL_NAME,
    TOP,
    DefaultProbability,
    shipped_models_dir,
)
from rescore.packs.credit.schema import outcomes, payments
from rescore.plugins import PackRegistry
from rescore.population import DatabaseSource, ParquetSource
from rescore.scoring import ScorerGraph, evaluate
from rescore.testing import ManualClock, scratch_engine

AS_OF = date(2026, 1, 23)
LATER = AS_OF + timedelta(days=40)
SIZE = 500
SEED_NAMES = (
    "num_planes",
    "tiene_plan_activo",
    "tiene_plan_pendiente",
    "tiene_plan_default",
    "payment_count",
    "months_as_client",
    "pct_early",
    "pct_late",
    "creditos_mora",
    "hist_neg_12m",
)


def test_the_22_features_in_their_fixed_order_match_the_shipped_model() -> None:
    assert len(FEATURES) == len(set(FEATURES)) == 22
    assert FEATURES[:10] == SEED_NAMES
    model = load_model(shipped_models_dir(), MODEL_NAME, TrainedClassifier, features=FEATURES)
    assert model is not None
    assert model.metrics["cv_auc"] > 0.7
    assert model.calibration["method"] == "platt"


def test_the_scorer_explains_every_client_exactly(tmp_path: Path) -> None:
    pack = CreditPack(today=lambda: AS_OF, settings=CreditSettings(models_dir=tmp_path))
    graph = ScorerGraph("credit", pack.register_scorers())
    scorer = graph["default_probability"]
    assert isinstance(scorer, DefaultProbability)
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        pack.source_metadata().create_all(conn)
        pack.generate_demo_data(conn, seed=3, size=80)
        keys = list(pack.entity_keys(conn))
        inputs = pack.load_inputs(conn, keys, graph.parts(graph.order))
    values = []
    for cedula in keys:
        result = evaluate(graph, inputs[cedula])["default_probability"]
        assert 0 <= result.value <= 100
        assert len(result.components) == TOP + 2
        assert {"baseline", "other_features"} <= set(result.components)
        assert set(result.components) - {"baseline", "other_features"} <= set(FEATURES)
        assert abs(sum(result.components.values()) - result.value) < 1e-3
        assert result.features["model_version"] == "1.0.0"
        assert result.reasons[0].startswith("average client: ")
        values.append(result.value)
    assert len(set(values)) > 60  # a probability per client, not a constant
    assert scorer.explainer is scorer.explainer  # loaded once, kept


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, CreditPack]]:
    """An engine on the demo data (seed 5) with a PD model trained on its outcomes."""
    where = tmp_path_factory.mktemp("pd")
    pack = CreditPack(today=lambda: AS_OF, settings=CreditSettings(models_dir=where / "models"))
    clock = ManualClock(datetime(2026, 2, 1, 5, tzinfo=UTC))
    with scratch_engine([pack], where / "rescore.db", clock=clock) as engine:
        with engine.source.begin() as conn:
            pack.generate_demo_data(conn, seed=5, size=SIZE)
        pack.train_model(DatabaseSource(engine.source), live=True)
        yield engine, pack


def test_training_on_the_sources_outcomes(trained: tuple[Engine, CreditPack]) -> None:
    _engine, pack = trained
    skops_file, meta_file = model_paths(pack.settings.models_dir, MODEL_NAME)
    meta = json.loads(meta_file.read_text())
    assert skops_file.exists()
    assert meta["features"] == list(FEATURES)
    assert meta["metrics"]["samples"] == SIZE
    assert meta["metrics"]["labelled_until"] == AS_OF.isoformat()
    assert meta["metrics"]["cv_auc"] > 0.65  # learnable from behaviour ...
    assert meta["metrics"]["cv_auc"] < 0.95  # ... but not trivial
    model = pack.pd_model()
    assert model.fingerprint == meta["fingerprint"]  # the trained model replaced the shipped one
    with pytest.raises(ConfigurationError, match="not on Parquet"):
        pack.train_model(ParquetSource(pack.settings.models_dir))


def test_a_retrained_model_is_a_release_candidate_until_promoted(tmp_path: Path) -> None:
    models = CreditSettings(models_dir=tmp_path / "models")
    shipped = CreditPack(settings=models).pd_model().fingerprint
    pack = CreditPack(today=lambda: AS_OF, settings=models)
    with scratch_engine([pack], tmp_path / "rescore.db") as engine:
        with engine.source.begin() as conn:
            pack.generate_demo_data(conn, seed=5, size=SIZE)
        engine.recompute("credit", list(engine.entity_keys("credit")))
        result = pack.train_model(DatabaseSource(engine.source))
    version = result["release_version"]
    assert version == f"1.0.0+model.{result['fingerprint'][:12]}"
    assert pack.pd_model().fingerprint == shipped, "training changed nothing live"
    restarted = CreditPack(today=lambda: AS_OF, settings=models)  # a process starting now
    with scratch_engine([restarted], tmp_path / "rescore.db") as engine:
        assert version in engine.registry.versions("credit", MODEL_NAME)
        assert restarted.pd_model(engine).fingerprint == shipped
        promoted = engine.promote("credit", MODEL_NAME, version)
        assert (promoted["previous"], promoted["rewritten"]) == ("1.0.0", SIZE)
        assert restarted.pd_model(engine).fingerprint == result["fingerprint"]
        client = next(iter(engine.entity_keys("credit")))
        stored = engine.current("credit", client)[MODEL_NAME]
        assert (stored.version, stored.features["model_fingerprint"]) == (
            version,
            result["fingerprint"][:12],
        )
        assert engine.rollback("credit", MODEL_NAME)["live"] == "1.0.0"
        assert restarted.pd_model(engine).fingerprint == shipped


def _drift_firings(engine: Engine) -> list[dict[str, typing.Any]]:
    return [f for f in engine.firings() if f["rule"] == "credit.model_drift"]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Engine, CreditPack]]:
    """A model trained on one demo population (seed 5), checked 40 days later on another
    drawn by the same process (seed 21), whose outcomes were labelled after training."""
    models = CreditSettings(models_dir=tmp_path / "models")
    trainer = CreditPack(today=lambda: AS_OF, settings=models)
    with scratch_engine([trainer], tmp_path / "train.db") as engine:
        with engine.source.begin() as conn:
            trainer.generate_demo_data(conn, seed=5, size=SIZE)
        trainer.train_model(DatabaseSource(engine.source), live=True)
    pack = CreditPack(today=lambda: LATER, settings=models)
    clock = ManualClock(datetime(2026, 3, 1, 5, tzinfo=UTC))
    with scratch_engine([pack], tmp_path / "rescore.db", clock=clock) as engine:
        with engine.source.begin() as conn:
            pack.generate_demo_data(conn, seed=21, size=SIZE)
        yield engine, pack


@pytest.mark.slow
def test_an_unshifted_population_stays_quiet(fresh: tuple[Engine, CreditPack]) -> None:
    engine, pack = fresh
    report = pack.check_drift(engine)
    assert report["alarm"] is False, report["alarms"]
    assert report["population"] == SIZE
    assert all(found["psi"] <= 0.25 for found in report["psi"].values())
    assert report["outcomes"]["count"] == SIZE
    assert report["outcomes"]["auc_drop"] < 0.05
    assert _drift_firings(engine) == []
    assert latest_report(pack.settings.models_dir) == report
    _latest, history = report_paths(pack.settings.models_dir)
    assert len(history.read_text().splitlines()) == 1


@pytest.mark.slow
def test_a_shifted_population_alarms_and_tells_slack(fresh: tuple[Engine, CreditPack]) -> None:
    engine, pack = fresh
    with engine.source.begin() as conn:  # a bad quarter: a third of paid instalments were late
        conn.execute(
            sa.update(payments)
            .where(payments.c.status == "paid", payments.c.id % 3 == 0)
            .values(status="late", paid_date=None)
        )
    report = pack.check_drift(engine)
    assert report["alarm"] is True
    assert report["psi"]["pct_late"]["psi"] > 0.25
    assert any("PSI of pct_late" in alarm for alarm in report["alarms"])
    (fired,) = _drift_firings(engine)
    assert fired["entity"] == DRIFT_ENTITY
    dispatcher = DeliveryDispatcher(engine, worker="test-deliver")
    while dispatcher.run_once().handled:
        pass
    lines = (engine.settings.channel_dir / "slack.jsonl").read_text().splitlines()
    message = json.loads(lines[-1])
    assert "PD model drift (1.0.0)" in message["title"]
    assert "PSI of pct_late" in message["body"]
    pack.check_drift(engine)  # the same check time again: one event, one firing
    assert len(_drift_firings(engine)) == 1


@pytest.mark.slow
def test_decayed_ranking_alarms_on_the_auc_drop(fresh: tuple[Engine, CreditPack]) -> None:
    engine, pack = fresh
    with engine.source.begin() as conn:  # labels that no longer follow behaviour
        conn.execute(sa.update(outcomes).values(defaulted=outcomes.c.id % 6 == 0))
    report = pack.check_drift(engine, alert=False)
    assert report["outcomes"]["auc_drop"] > 0.05
    assert any(alarm.startswith("AUC fell") for alarm in report["alarms"])
    assert _drift_firings(engine) == []  # alert=False: stored and shown only


def test_the_drift_route_serves_the_latest_report(trained: tuple[Engine, CreditPack]) -> None:
    engine, pack = trained
    app = FastAPI()
    mount_packs(app, PackRegistry([pack]))
    app.state.rescore = SimpleNamespace(engine=engine)
    with TestClient(app) as client:
        reader = typing.get_args(deps.Reader)[1].dependency
        app.dependency_overrides[reader] = lambda: Principal(
            key_id="k", tenant="default", scope=Scope.READ
        )
        latest, history = report_paths(pack.settings.models_dir)
        latest.unlink(missing_ok=True)
        history.unlink(missing_ok=True)
        first = client.get("/v1/packs/credit/drift").json()  # no check yet: one runs now
        assert first["alarm"] is False  # the training population itself
        assert first["outcomes"]["count"] == 0  # nothing labelled since training
        assert latest_report(pack.settings.models_dir) == first
        assert _drift_firings(engine) == []
        report = pack.check_drift(engine)
        assert client.get("/v1/packs/credit/drift").json() == report
        assert len(history.read_text().splitlines()) == 2
        analytics = client.get("/v1/packs/credit/analytics").json()
        assert analytics["drift"] == report
        newest, oldest = analytics["checks"]  # newest first, one line per check
        assert newest["checked_at"] == report["checked_at"]
        assert oldest["checked_at"] == first["checked_at"]
        worst = min(report["psi"], key=lambda name: (-report["psi"][name]["psi"], name))
        assert (newest["worst_feature"], newest["alarm"]) == (worst, False)
        assert newest["probability_psi"] == report["probability_psi"]["psi"]


def test_the_monthly_schedule_and_prepare_loads_the_model(tmp_path: Path) -> None:
    pack = CreditPack(settings=CreditSettings(models_dir=tmp_path))
    scorer = ScorerGraph("credit", pack.register_scorers())["default_probability"]
    assert isinstance(scorer, DefaultProbability)
    (schedule,) = pack.register_schedules()
    assert scorer._explainer is None  # asking for the schedules loads nothing
    pack.prepare()  # what every runtime that scores calls as it starts
    assert scorer._explainer is not None  # loaded before the first event needs it
    assert (schedule.name, schedule.cron, schedule.timezone) == (
        "credit.drift",
        "0 0 1 * *",
        "America/Bogota",
    )
    due = schedule.next_run(datetime(2026, 1, 15, tzinfo=UTC))
    assert due == datetime(2026, 2, 1, 5, tzinfo=UTC)  # midnight in Bogotá
