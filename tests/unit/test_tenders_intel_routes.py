"""Win probability and alert profiles over HTTP (/v1/packs/tenders), on the demo data: answers
that add up, profiles that alert at once, and 4xx naming the field as sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rescore.api import create_app
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.schema import history, subscribers, tenders
from rescore.packs.tenders.settings import TendersSettings
from rescore.testing import scratch_engine

pytest.importorskip("sklearn")

AS_OF = datetime(2026, 11, 30, 12, 0)
BASE = "/v1/packs/tenders"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    where = tmp_path_factory.mktemp("tenders")
    pack = TendersPack(as_of=lambda: AS_OF, settings=TendersSettings(models_dir=where / "m"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESCORE_EMBEDDER", "hashing")  # the light fallback, as every test
        with scratch_engine([pack], where / "t.db") as engine:
            with engine.source.begin() as conn:
                pack.generate_demo_data(conn, seed=7, size=10)
            yield engine


@pytest.fixture(scope="module")
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine.settings, engine=engine, workers=False))


def _headers(engine: Engine, scope: str) -> dict[str, str]:
    _, key = engine.keys.create("default", scope, datetime.now(UTC))
    return {"Authorization": f"Bearer {key}"}


def _one(engine: Engine, query: sa.Select[tuple[str]]) -> str:
    with engine.source.read() as conn:
        return str(conn.execute(query.limit(1)).scalar_one())


def test_a_quote_gets_its_probability_factors_and_recommendations(
    engine: Engine, client: TestClient
) -> None:
    code = _one(engine, sa.select(tenders.c.codigo).order_by(tenders.c.codigo))
    rut = _one(engine, sa.select(history.c.rut_proveedor).order_by(history.c.rut_proveedor))
    body = {"codigo_licitacion": code, "rut_proveedor": rut, "precio_unitario": 1000}
    first = client.post(f"{BASE}/probabilidad", json=body, headers=_headers(engine, "read"))
    assert first.status_code == 200, first.text
    average = 1000 / first.json()["features"]["precio_ratio"]  # what the history pays
    body["precio_unitario"] = round(average * 1.05, 2)  # a little dearer than usual
    answer = client.post(f"{BASE}/probabilidad", json=body, headers=_headers(engine, "read"))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert 0.0 < found["probability"] < 1.0, found
    parts = sum(f["contribution"] for f in found["factors"])
    assert found["probability"] == pytest.approx(found["baseline"] + parts, abs=2e-3)
    assert [f["feature"] for f in found["factors"]].count("precio_ratio") == 1
    assert set(found["features"]) == {
        "precio_ratio", "experiencia", "local", "tamano", "dia_semana", "competidores"
    }  # fmt: skip
    for advice in found["recommendations"]:
        assert advice["precio_ratio"] < found["features"]["precio_ratio"]


GOOD: dict[str, object] = {
    "codigo_licitacion": "9-9-COT99",
    "rut_proveedor": "77037867-2",
    "precio_unitario": 5,
}


def test_a_price_far_above_any_average_is_a_probability_near_zero(
    engine: Engine, client: TestClient
) -> None:
    code = _one(engine, sa.select(tenders.c.codigo).order_by(tenders.c.codigo))
    body = GOOD | {
        "codigo_licitacion": code,
        "precio_unitario": 10**11,  # the curve far out: no overflow warning, no error
        "region_proveedor": "Región del Maule",
        "tamano_proveedor": "micro",
    }
    answer = client.post(f"{BASE}/probabilidad", json=body, headers=_headers(engine, "read"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["probability"] < 0.01


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({}, 404, "codigo_licitacion"),  # no such tender
        ({"precio_unitario": "5"}, 422, "precio_unitario"),  # strict: a string is no number
        ({"rut_proveedor": "no"}, 422, "rut_proveedor"),
        ({"precio_unitario": 0}, 422, "precio_unitario"),
    ],
)
def test_a_bad_quote_is_a_4xx_naming_the_field(
    engine: Engine, client: TestClient, change: dict[str, object], status: int, field: str
) -> None:
    body = GOOD | change
    answer = client.post(f"{BASE}/probabilidad", json=body, headers=_headers(engine, "read"))
    assert answer.status_code == status, answer.text
    assert field in str(answer.json()), answer.json()


def test_a_supplier_without_history_must_say_where_it_is(
    engine: Engine, client: TestClient
) -> None:
    code = _one(engine, sa.select(tenders.c.codigo).order_by(tenders.c.codigo))
    body = {"codigo_licitacion": code, "rut_proveedor": "11111111-1", "precio_unitario": 10}
    answer = client.post(f"{BASE}/probabilidad", json=body, headers=_headers(engine, "read"))
    assert answer.status_code == 422
    assert "region_proveedor" in str(answer.json()), answer.json()
    body |= {"region_proveedor": "Región del Maule", "tamano_proveedor": "micro"}
    answer = client.post(f"{BASE}/probabilidad", json=body, headers=_headers(engine, "read"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["features"]["experiencia"] == 0.0


def test_a_profile_is_created_listed_matched_and_deleted(
    engine: Engine, client: TestClient
) -> None:
    who = _one(engine, sa.select(subscribers.c.id).order_by(subscribers.c.id))
    write, read = _headers(engine, "write"), _headers(engine, "read")
    body = {"suscriptor_id": who, "tipo": "keyword", "texto": "motosierra, desbrozadora"}
    made = client.post(f"{BASE}/perfiles", json=body, headers=write)
    assert made.status_code == 200, made.text
    profile = made.json()["id"]
    with engine.source.read() as conn:  # every open tender is matched against it again
        open_now = (tenders.c.estado == "publicada", tenders.c.fecha_cierre > AS_OF)
        still_open = sa.select(sa.func.count()).where(*open_now)
        assert made.json()["licitaciones_abiertas"] == conn.execute(still_open).scalar_one() > 0
    listed = client.get(f"{BASE}/perfiles", params={"suscriptor_id": who}, headers=read).json()
    assert profile in [p["id"] for p in listed["perfiles"]]
    probe = {"texto": "Compra de motosierras para la cuadrilla de áreas verdes"}
    found = client.get(f"{BASE}/coincidencias", params=probe, headers=read).json()
    assert [(m["suscriptor_id"], m["palabras"]) for m in found["suscriptores"]] == [
        (who, ["motosierra"])
    ]
    assert client.delete(f"{BASE}/perfiles/{profile}", headers=write).status_code == 200
    again = client.delete(f"{BASE}/perfiles/{profile}", headers=write)
    assert again.status_code == 404
    assert again.json()["field"] == "perfil_id"
    found = client.get(f"{BASE}/coincidencias", params=probe, headers=read).json()
    assert found["suscriptores"] == []


def test_a_profile_with_control_characters_is_refused(engine: Engine, client: TestClient) -> None:
    who = _one(engine, sa.select(subscribers.c.id).order_by(subscribers.c.id))
    body = {"suscriptor_id": who, "texto": "sillas\x00"}
    answer = client.post(f"{BASE}/perfiles", json=body, headers=_headers(engine, "write"))
    assert answer.status_code == 422
    assert "texto" in str(answer.json())


def test_a_profile_for_no_subscriber_is_refused(engine: Engine, client: TestClient) -> None:
    body = {"suscriptor_id": "00000000-0000-4000-8000-000000000000", "texto": "sillas"}
    answer = client.post(f"{BASE}/perfiles", json=body, headers=_headers(engine, "write"))
    assert answer.status_code == 404
    assert answer.json()["field"] == "suscriptor_id"
