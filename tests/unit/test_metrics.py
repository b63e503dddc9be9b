"""The Prometheus metrics count what a real engine did (ingest, rescoring, failures, dead
letters, reconciliation), read queue depth and lag at scrape time, and survive an outage."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import Clock, event, put_items, toy_items
from rescore.bootstrap import open_engine
from rescore.engine import Engine
from rescore.metrics import Metrics, metrics_of
from rescore.reconcile import reconcile
from rescore.settings import Settings
from rescore.testing import drain


def watched(engine: Engine) -> Metrics:
    metrics = Metrics()
    metrics.watch(engine)
    engine.observers.append(metrics)
    return metrics


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_ingest_counts_events_by_pack_type_and_lane_duplicates_and_queued_work(
    engine: Engine,
) -> None:
    metrics = watched(engine)
    put_items(engine, x=(10, 20), y=(1, 2))
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "b_changed", "y")])
    engine.ingest([event("e1", "a_changed", "x"), event("e3", "noted", "x")])
    ingested = "rescore_events_ingested_total"
    assert value(metrics, ingested, pack="toy", type="a_changed", lane="critical") == 1
    assert value(metrics, ingested, pack="toy", type="b_changed", lane="normal") == 1
    assert value(metrics, ingested, pack="toy", type="noted", lane="none") == 1
    assert value(metrics, "rescore_events_duplicate_total") == 1
    assert value(metrics, "rescore_entities_queued_total", lane="critical") == 1
    assert value(metrics, "rescore_entities_queued_total", lane="normal") == 1
    assert value(metrics, "rescore_pending", lane="critical") == 1, "read at scrape time"
    assert value(metrics, "rescore_pending", lane="normal") == 1
    assert value(metrics, "rescore_database_up") == 1


def test_rescoring_counts_recomputes_and_the_event_to_score_latency_by_lane(
    engine: Engine, clock: Clock
) -> None:
    metrics = watched(engine)
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x")])
    clock.advance(2.0)  # the event waited two seconds before a worker rescored it
    drain(engine)
    assert value(metrics, "rescore_recomputes_total", pack="toy", lane="critical") == 1
    latency = "rescore_event_to_score_seconds"
    assert value(metrics, f"{latency}_count", lane="critical") == 1
    assert value(metrics, f"{latency}_sum", lane="critical") == pytest.approx(2.0, abs=0.5)
    assert value(metrics, f"{latency}_bucket", lane="critical", le="1.0") == 0
    assert value(metrics, f"{latency}_bucket", lane="critical", le="2.5") == 1
    assert value(metrics, "rescore_pending", lane="critical") == 0
    engine.recompute("toy", ["x"])
    assert value(metrics, "rescore_recomputes_total", pack="toy", lane="direct") == 1


def test_failures_and_dead_letters_are_counted_by_pack(engine: Engine, clock: Clock) -> None:
    metrics = watched(engine)
    put_items(engine, x=(-1, 20))  # AScore refuses a negative a
    engine.ingest([event("e1", "a_changed", "x")])
    for _ in range(3):  # max_attempts=3, retry_backoff=10 s
        drain(engine)
        clock.advance(60)
    assert value(metrics, "rescore_recompute_failures_total", pack="toy") == 3
    assert value(metrics, "rescore_dead_letters_total", pack="toy") == 1
    assert value(metrics, "rescore_pending", lane="dead") == 1
    assert engine.requeue_dead(pack="toy") == 1
    assert value(metrics, "rescore_requeued_total", lane="critical") == 1


def test_reconciliation_counts_drift_by_scorer_and_repairs_by_pack(
    engine: Engine,
) -> None:
    metrics = watched(engine)
    put_items(engine, x=(10, 20), y=(1, 2))
    engine.recompute("toy", ["x", "y"])
    with engine.source.begin() as conn:  # b changes with no event that routes to b_score
        conn.execute(toy_items.update().where(toy_items.c.key == "x").values(b=70))
    reconcile(engine, "toy")
    drift = "rescore_reconcile_drift_total"
    assert value(metrics, drift, pack="toy", scorer="b_score") == 1
    assert value(metrics, drift, pack="toy", scorer="total") == 1
    assert value(metrics, drift, pack="toy", scorer="a_score") is None
    assert value(metrics, "rescore_reconcile_repairs_total", pack="toy") == 1


def test_the_exposition_parses_and_labels_carry_no_entity(engine: Engine) -> None:
    metrics = watched(engine)
    put_items(engine, secret_entity_key=(10, 20))
    engine.ingest([event("e1", "a_changed", "secret_entity_key")])
    drain(engine)
    text = metrics.exposition().decode()
    assert "secret_entity_key" not in text
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"rescore_events_ingested", "rescore_event_to_score_seconds"} <= names
    assert {"rescore_pending", "rescore_lane_lag_seconds", "rescore_database_up"} <= names


def test_promtool_accepts_the_exposition(engine: Engine, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install -y prometheus)")
    metrics = watched(engine)
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "b_changed", "x")])
    drain(engine)
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=metrics.exposition(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def test_a_database_outage_never_breaks_a_scrape(tmp_path: Path) -> None:
    """The queue gauges go, ``rescore_database_up`` says 0, the counters still come out."""
    url = f"sqlite:///{tmp_path / 'gone' / 'nowhere.db'}"  # a folder that does not exist
    engine = Engine.from_settings(Settings(database_url=url), create=True)
    try:
        metrics = watched(engine)
        text = metrics.exposition().decode()
    finally:
        engine.close()
    assert value(metrics, "rescore_database_up") == 0
    assert "rescore_pending" not in text
    assert "rescore_events_duplicate_total 0.0" in text


def test_open_engine_attaches_metrics_in_a_registry_of_each_engine(tmp_path: Path) -> None:
    engines = [
        open_engine(Settings(database_url=f"sqlite:///{tmp_path / n}.db"), create=True)
        for n in ("one", "two")
    ]
    try:
        for each in engines:
            each.migrate()
        first, second = (metrics_of(e) for e in engines)
        assert first is not None
        assert second is not None
        assert first.registry is not second.registry
        at = datetime.now(UTC).isoformat()
        engines[0].ingest(
            [{"event_id": "e1", "type": "payment_made", "entity": "1", "occurred_at": at}]
        )
        counted = "rescore_events_ingested_total"
        labels = {"pack": "credit", "type": "payment_made", "lane": "normal"}
        assert first.registry.get_sample_value(counted, labels) == 1
        assert second.registry.get_sample_value(counted, labels) is None
        assert second.registry.get_sample_value("rescore_database_up") == 1
    finally:
        for each in engines:
            each.close()
