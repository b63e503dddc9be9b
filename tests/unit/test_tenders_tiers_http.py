"""Tiers over HTTP on the demo data: a quota charged to ?suscriptor_id= until a 429 with
Retry-After, a 403 naming the tier that has the feature, X-Suscriptor-Id needing API access,
alert profile limits, the plan and table views, and blocks counted in /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rescore.api import create_app
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.business_metrics import count_command
from rescore.packs.tenders.schema import subscribers
from rescore.packs.tenders.tiers_routes import table_view
from rescore.testing import scratch_engine

AS_OF = datetime(2026, 11, 30, 14, 0)
BASE = "/v1/packs/tenders"
PRICE = {"producto": "guantes nitrilo"}
QUOTE = {"codigo_licitacion": "9-9-COT99", "rut_proveedor": "77037867-2", "precio_unitario": 5}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    where = tmp_path_factory.mktemp("tiers") / "t.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESCORE_EMBEDDER", "hashing")
        with scratch_engine([TendersPack(as_of=lambda: AS_OF)], where) as engine:
            with engine.source.begin() as conn:
                engine.registry["tenders"].generate_demo_data(conn, seed=7, size=5)
            yield engine


@pytest.fixture(scope="module")
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine.settings, engine=engine, workers=False))


@pytest.fixture(scope="module")
def read(engine: Engine) -> dict[str, str]:
    _, key = engine.keys.create("default", "read", datetime.now(UTC))
    return {"Authorization": f"Bearer {key}"}


def of_tier(engine: Engine, tier: str, n: int = 0) -> str:
    """The ``n``-th demo subscriber of ``tier``."""
    s = subscribers.c
    query = sa.select(s.id).where(s.tier == tier).order_by(s.id).offset(n).limit(1)
    with engine.source.read() as conn:
        return str(conn.execute(query).scalar_one())


def test_a_free_subscriber_gets_two_price_analyses_then_429_with_retry_after(
    client: TestClient, engine: Engine, read: dict[str, str]
) -> None:
    who = of_tier(engine, "free")
    params = PRICE | {"suscriptor_id": who}
    for _ in range(2):
        answer = client.get(f"{BASE}/precio", params=params, headers=read)
        assert answer.status_code == 200, answer.text
    refused = client.get(f"{BASE}/precio", params=params, headers=read)
    assert refused.status_code == 429, refused.text
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 24 * 3600
    body = refused.json()
    assert body["field"] == "suscriptor_id"
    assert "price_analysis" in body["detail"]
    assert "emprendedor" in body["detail"]
    plan = client.get(f"{BASE}/suscriptores/{who}/plan", headers=read).json()
    quota = next(q for q in plan["cuotas"] if q["feature"] == "price_analysis")
    assert (plan["tier"], quota["usados"], quota["limite"]) == ("free", 2, 2)
    assert client.get(f"{BASE}/precio", params=PRICE, headers=read).status_code == 200  # admin
    metrics = client.get("/metrics").text
    assert 'rescore_tenders_blocked_features_total{feature="price_analysis",tier="free"} 1.0' in (
        metrics
    )
    assert 'rescore_tenders_feature_uses_total{feature="price_analysis",tier="free"} 2.0' in (
        metrics
    )


def test_a_tier_without_the_feature_is_403_naming_the_cheapest_that_has_it(
    client: TestClient, engine: Engine, read: dict[str, str]
) -> None:
    who = of_tier(engine, "emprendedor")
    refused = client.post(
        f"{BASE}/probabilidad", params={"suscriptor_id": who}, json=QUOTE, headers=read
    )
    assert refused.status_code == 403, refused.text
    assert "win_probability is not in tier emprendedor" in refused.json()["detail"]
    assert "tier pyme" in refused.json()["detail"]
    assert "Retry-After" not in refused.headers


def test_a_failed_request_gives_its_unit_back(
    client: TestClient, engine: Engine, read: dict[str, str]
) -> None:
    who = of_tier(engine, "pyme")
    missing = client.post(
        f"{BASE}/probabilidad", params={"suscriptor_id": who}, json=QUOTE, headers=read
    )
    assert missing.status_code == 404, missing.text  # no such tender
    plan = client.get(f"{BASE}/suscriptores/{who}/plan", headers=read).json()
    quota = next(q for q in plan["cuotas"] if q["feature"] == "win_probability")
    assert (quota["usados"], quota["limite"]) == (0, "unlimited")


def test_the_api_header_needs_profesional(
    client: TestClient, engine: Engine, read: dict[str, str]
) -> None:
    pyme = client.get(
        f"{BASE}/search",
        params={"q": "guantes"},
        headers=read | {"X-Suscriptor-Id": of_tier(engine, "pyme")},
    )
    assert pyme.status_code == 403, pyme.text
    assert "api_access" in pyme.json()["detail"]
    assert "profesional" in pyme.json()["detail"]
    pro = of_tier(engine, "profesional")
    answer = client.get(
        f"{BASE}/search", params={"q": "guantes"}, headers=read | {"X-Suscriptor-Id": pro}
    )
    assert answer.status_code == 200, answer.text
    plan = client.get(f"{BASE}/suscriptores/{pro}/plan", headers=read).json()
    used = {q["feature"]: q["usados"] for q in plan["cuotas"]}
    assert (used["api_access"], used["search"]) == (1, 1)  # the call, and what it asked for
    clash = client.get(
        f"{BASE}/search",
        params={"q": "guantes", "suscriptor_id": of_tier(engine, "pyme")},
        headers=read | {"X-Suscriptor-Id": pro},
    )
    assert clash.status_code == 422
    assert clash.json()["detail"][0]["loc"] == ["query", "suscriptor_id"]


def test_alert_profiles_stop_at_the_tiers_limit(client: TestClient, engine: Engine) -> None:
    _, key = engine.keys.create("default", "write", datetime.now(UTC))
    write = {"Authorization": f"Bearer {key}"}
    who = of_tier(engine, "emprendedor", 1)
    made = []
    for n in range(3):
        body = {"suscriptor_id": who, "tipo": "keyword", "texto": f"guantes {n}"}
        answer = client.post(f"{BASE}/perfiles", json=body, headers=write)
        if answer.status_code == 403:
            break
        assert answer.status_code == 200, answer.text
        made.append(answer.json()["id"])
    body = {"suscriptor_id": who, "tipo": "keyword", "texto": "mascarillas"}
    refused = client.post(f"{BASE}/perfiles", json=body, headers=write)
    assert refused.status_code == 403, refused.text
    assert "keyword_alerts: tier emprendedor allows 3 active" in refused.json()["detail"]
    semantic = client.post(f"{BASE}/perfiles", json=body | {"tipo": "semantic"}, headers=write)
    assert semantic.status_code == 403
    assert "semantic_alerts is not in tier emprendedor" in semantic.json()["detail"]
    assert client.delete(f"{BASE}/perfiles/{made[0]}", headers=write).status_code == 200
    assert client.post(f"{BASE}/perfiles", json=body, headers=write).status_code == 200


def test_the_table_and_the_subscriptions_gauges(
    client: TestClient, engine: Engine, read: dict[str, str]
) -> None:
    table = client.get(f"{BASE}/planes", headers=read).json()
    assert table == table_view()
    assert table["tiers"][2] == {"tier": "pyme", "nombre": "PYME", "precio_mensual": 9990}
    metrics = client.get("/metrics").text
    with engine.source.read() as conn:
        counts = dict(
            conn.execute(
                sa.select(subscribers.c.tier, sa.func.count()).group_by(subscribers.c.tier)
            ).all()
        )
    for tier, count in counts.items():
        assert f'rescore_tenders_subscriptions{{tier="{tier}"}} {float(count)}' in metrics
    mrr = counts.get("emprendedor", 0) * 4990 + counts.get("pyme", 0) * 9990
    mrr += counts.get("profesional", 0) * 19990
    assert f"rescore_tenders_mrr_clp {float(mrr)}" in metrics


def test_the_bots_commands_are_counted_by_tier_command_and_status(
    client: TestClient, engine: Engine, read: dict[str, str]
) -> None:
    client.get(f"{BASE}/planes", headers=read)  # any tenders request registers the metrics
    for status in ("ok", "ok", "blocked"):
        count_command(engine, "pyme", "precio", status)
    metrics = client.get("/metrics").text
    assert 'rescore_tenders_commands_total{command="precio",status="ok",tier="pyme"} 2.0' in (
        metrics
    )
    assert (
        'rescore_tenders_commands_total{command="precio",status="blocked",tier="pyme"} 1.0'
        in metrics
    )
