"""The HTTP side of crash recovery: readiness counts a dead worker's claims and is not hostage
to an unknown entity; ``?wait=true`` for an entity the source lacks answers at once, truthfully."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_unknown_entities import KnowingToyPack

from conftest import Clock, event, make_engine, put_items
from rescore.api import create_app
from rescore.engine import Engine
from rescore.routing import Lane


def client_for(engine: Engine) -> TestClient:
    return TestClient(create_app(engine.settings, engine=engine, workers=False))


def test_ready_is_not_said_while_a_dead_worker_holds_critical_work(
    engine: Engine, clock: Clock
) -> None:
    put_items(engine, **{f"k{i}": (1, 2) for i in range(5)})
    engine.ingest([event(f"e{i}", "a_changed", f"k{i}") for i in range(5)])
    engine.register_workers(process="dead", host="elsewhere", pid=1, names=["dead-critical"])
    with engine.db.begin() as conn:
        engine.queue.claim(conn, "dead-critical", clock(), lane=Lane.CRITICAL, limit=10)
    client = client_for(engine)
    assert client.get("/readyz").status_code == 200
    clock.advance(6)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["lag_seconds"]["critical"] == 6.0


def test_an_unknown_entity_cannot_hold_readiness(engine: Engine, clock: Clock) -> None:
    engine.ingest([event("e1", "a_changed", "nobody")])
    engine.work("w", Lane.CRITICAL)
    clock.advance(60)
    answer = client_for(engine).get("/readyz")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["lag_seconds"]["critical"] == 0.0


@pytest.fixture
def knowing(tmp_path: Path) -> Engine:
    engine = make_engine(tmp_path / "k.db", packs=[KnowingToyPack()])
    put_items(engine, x=(10, 20))
    return engine


def test_wait_for_an_unknown_entity_answers_at_once_and_truthfully(knowing: Engine) -> None:
    _, key = knowing.keys.create("default", "write", knowing.clock())
    client = client_for(knowing)
    started = time.monotonic()
    answer = client.post(
        "/v1/events?wait=true&timeout=10",
        json=[event("e1", "a_changed", "ghost"), event("e2", "a_changed", "x")],
        headers={"Authorization": f"Bearer {key}"},
    )
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert elapsed < 5.0, f"answered after {elapsed:.1f} s"  # half the timeout it would wait
    assert body["accepted"] == 2, "the event is stored: the answer says so"
    assert body["fresh"] is False
    assert [s["entity"] for s in body["scores"]] == ["x"]
    (dead,) = body["dead_lettered"]
    assert (dead["pack"], dead["entity"]) == ("toy", "ghost")
    assert "no item 'ghost' in the toy source data" in dead["reason"]
    assert body["warnings"] == [
        "no item 'ghost' in the toy source data: its events are stored, and rescoring it "
        "dead-letters it"
    ]
    again = client.post(
        "/v1/events?wait=true",
        json=event("e1", "a_changed", "ghost"),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)
    knowing.close()
