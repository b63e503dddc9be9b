"""The metrics of the HTTP side and the workers: lookup cache hits and misses, request durations
by route template (never the raw path), the automation counters' place, and a worker's own
``/metrics`` server."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from conftest import event, put_items
from helpers import free_port
from rescore.api import create_app
from rescore.engine import Engine
from rescore.metrics import Metrics, serve_metrics
from rescore.testing import drain

DURATION = "rescore_http_request_duration_seconds_count"


def client_for(engine: Engine) -> tuple[TestClient, Metrics]:
    app = create_app(engine.settings, engine=engine, workers=False)
    return TestClient(app), app.state.metrics


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def scored(engine: Engine, *entities: str) -> str:
    """Score ``entities`` and return a read key."""
    put_items(engine, **dict.fromkeys(entities, (10, 20)))
    engine.ingest([event(f"e-{e}", "a_changed", e) for e in entities])
    drain(engine)
    return engine.keys.create("default", "read", engine.clock())[1]


def test_each_lookup_counts_once_as_a_cache_hit_or_miss(engine: Engine) -> None:
    key = scored(engine, "x", "y")
    client, metrics = client_for(engine)
    auth = {"Authorization": f"Bearer {key}"}
    for entity in ("x", "x", "x", "y"):
        assert client.get(f"/v1/scores/toy/{entity}", headers=auth).status_code == 200
    cache = "rescore_lookup_cache_total"
    assert sample(metrics, cache, result="miss") == 2, "the first read of x and of y"
    assert sample(metrics, cache, result="hit") == 2
    engine.ingest([event("e-x2", "a_changed", "x")])  # invalidates x
    drain(engine)
    client.get("/v1/scores/toy/x", headers=auth)
    assert sample(metrics, cache, result="miss") == 3


def test_request_durations_are_labelled_by_route_template_never_the_entity(
    engine: Engine,
) -> None:
    key = scored(engine, "secret-entity-42")
    client, metrics = client_for(engine)
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/scores/toy/secret-entity-42", headers=auth).status_code == 200
    assert client.get("/v1/scores/toy/nobody", headers=auth).status_code == 404
    assert client.get("/v1/scores/toy/x").status_code == 401
    assert client.get("/no/such/path").status_code == 404
    template = "/v1/scores/{pack}/{entity}"
    assert sample(metrics, DURATION, route=template, method="GET", status="200") == 1
    assert sample(metrics, DURATION, route=template, method="GET", status="404") == 1
    assert sample(metrics, DURATION, route=template, method="GET", status="401") == 1
    assert sample(metrics, DURATION, route="unmatched", method="GET", status="404") == 1
    text = client.get("/metrics").text
    assert "secret-entity-42" not in text
    assert "/no/such/path" not in text


def test_a_worker_serves_its_engines_metrics_on_its_own_port(engine: Engine) -> None:
    metrics = Metrics()
    metrics.watch(engine)
    engine.observers.append(metrics)
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x")])
    port = free_port()
    server = serve_metrics(engine, "127.0.0.1", port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        server.close()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    pending = {s.labels["lane"]: s.value for s in families["rescore_pending"].samples}
    assert pending["critical"] == 1
    assert families["rescore_events_ingested"].samples[0].value == 1
