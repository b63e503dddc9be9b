"""Seed 001's price analysis and search under /v1/packs/tenders: the answers, the cache's hits and
misses in /metrics, a published tender rescored on the critical lane, bad input as a 422
naming the parameter."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rescore.api import create_app
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.demodata import tender_rows
from rescore.packs.tenders.schema import tenders
from rescore.testing import drain, scratch_engine

AS_OF = datetime(2026, 11, 30, 14, 0)
BASE = "/v1/packs/tenders"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One demo source for the module (importing 24 generated months takes seconds)."""
    where = tmp_path_factory.mktemp("tenders") / "t.db"
    with scratch_engine([TendersPack(as_of=lambda: AS_OF)], where) as engine:
        with engine.source.begin() as conn:
            engine.registry["tenders"].generate_demo_data(conn, seed=7, size=5)
        yield engine


@pytest.fixture(scope="module")
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine.settings, engine=engine, workers=False))


@pytest.fixture
def headers(engine: Engine) -> dict[str, str]:
    _, key = engine.keys.create("default", "read", datetime.now(UTC))
    return {"Authorization": f"Bearer {key}"}


def test_the_price_analysis_is_answered_then_served_from_the_cache(
    client: TestClient, headers: dict[str, str]
) -> None:
    query = {"producto": "guantes nitrilo", "organismo": "Hospital Regional"}
    first = client.get(f"{BASE}/precio", params=query, headers=headers)
    assert first.status_code == 200, first.text
    found = first.json()
    assert found["as_of"] == "2026-11-30"
    assert found["productos_similares"][0]["producto"] == "Guantes de nitrilo caja 100"
    assert found["precio_competitivo"] <= found["precio_sugerido"] <= found["precio_seguro"]
    assert len(found["insights"]) >= 3
    assert client.get(f"{BASE}/precio", params=query, headers=headers).json() == found
    metrics = client.get("/metrics").text
    assert 'rescore_tenders_price_cache_total{result="hit"} 1.0' in metrics
    assert 'rescore_tenders_price_cache_total{result="miss"} 1.0' in metrics


def test_search_and_imports(client: TestClient, headers: dict[str, str]) -> None:
    found = client.get(f"{BASE}/search", params={"q": "cemento", "limit": 2}, headers=headers)
    assert found.status_code == 200, found.text
    names = [m["producto"] for m in found.json()["productos"]]
    assert len(names) == 2
    assert all("emento" in n for n in names)
    files = client.get(f"{BASE}/imports", headers=headers).json()["archivos"]
    assert len(files) == 24
    assert files[0]["archivo"] == "COT_2026-10.zip"
    assert files[0]["filas_nuevas"] >= 3_000


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/precio", {"producto": "   "}, "producto"),
        ("/precio", {"producto": "cloro", "region": "Región de Narnia"}, "region"),
        ("/precio", {"producto": "cloro", "as_of": "2026-02-30"}, "as_of"),
        ("/precio", {"producto": "cloro", "as_of": "ayer"}, "as_of"),
        ("/search", {"q": " "}, "q"),
        ("/search", {"q": "clo\x00ro"}, "q"),
        ("/precio", {"producto": "cloro", "organismo": "a\x1fb"}, "organismo"),
        ("/search", {"q": "cloro", "limit": 0}, "limit"),
    ],
)
def test_bad_input_is_a_422_naming_the_parameter(
    client: TestClient, headers: dict[str, str], path: str, params: dict[str, object], field: str
) -> None:
    answer = client.get(BASE + path, params=params, headers=headers)
    assert answer.status_code == 422, answer.text
    assert [e["loc"] for e in answer.json()["detail"]] == [["query", field]]


def test_a_published_tender_is_rescored_with_its_price_analysis(engine: Engine) -> None:
    tender = tender_rows(random.Random(3), 1, AS_OF)[0]
    tender["codigo"] = "77-1-COT26"
    with engine.source.begin() as conn:
        conn.execute(sa.insert(tenders).values(**tender))
    event = {
        "event_id": "tenders:tender_published:77-1-COT26",
        "type": "tender_published",
        "entity": "77-1-COT26",
        "occurred_at": AS_OF.isoformat() + "Z",
        "payload": {},
    }
    engine.ingest([event])
    drain(engine)
    score = engine.current("tenders", "77-1-COT26")["price_analysis"]
    assert 0 <= score.value <= 100
    assert score.features["adjudicaciones"] > 0
    assert score.features["precio_sugerido"] is not None
    assert sum(score.components.values()) == pytest.approx(score.value)
