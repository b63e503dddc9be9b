"""Seed 003's HTTP API under /v1/packs/loyalty: registration and points loads write the source
and ingest their events, all or nothing; both automation modes and the audiences answer; bad
input is a 4xx naming the field as sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rescore.api import create_app
from rescore.engine import Engine
from rescore.exceptions import StorageUnavailable
from rescore.packs.loyalty import LoyaltyPack
from rescore.packs.loyalty.schema import businesses, customers, points
from rescore.testing import drain, scratch_engine

AS_OF = datetime(2026, 11, 30, 14, 0)
BASE = "/v1/packs/loyalty"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with scratch_engine([LoyaltyPack(as_of=lambda: AS_OF)], tmp_path / "l.db") as engine:
        with engine.source.begin() as conn:
            engine.registry["loyalty"].generate_demo_data(conn, seed=7, size=400)
        yield engine


@pytest.fixture
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine.settings, engine=engine, workers=False))


def _headers(engine: Engine, scope: str) -> dict[str, str]:
    _, key = engine.keys.create("default", scope, datetime.now(UTC))
    return {"Authorization": f"Bearer {key}"}


def _first(engine: Engine, table: sa.Table) -> Any:
    with engine.source.read() as conn:
        return conn.execute(sa.select(table).order_by(table.c.id).limit(1)).mappings().one()


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.source.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_registering_writes_the_customer_and_ingests_its_event(
    engine: Engine, client: TestClient
) -> None:
    business = _first(engine, businesses)
    body = {"business_id": business["id"], "phone": "+573001234567"}
    answer = client.post(f"{BASE}/customers", json=body, headers=_headers(engine, "write"))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    required = [f for f in business["required_fields"] if f != "phone"]
    assert found["missing_fields"] == required
    assert found["event_id"] == f"loyalty:customer_registered:{found['customer_id']}"
    drain(engine)
    scores = engine.current("loyalty", found["customer_id"])
    assert set(scores) == {"loyalty", "churn_risk"}
    history = engine.explain("loyalty", found["customer_id"])
    assert history is not None


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"birth_date": "2020-02-30"}, 422, "birth_date"),
        ({"birth_date": "1850-01-01"}, 422, "birth_date"),
        ({"phone": "call me"}, 422, "phone"),
        ({"business_id": "00000000-0000-4000-8000-000000000000"}, 404, "business_id"),
        ({"business_id": "not-a-uuid"}, 422, "business_id"),
        ({"name": "a\x00b"}, 422, "name"),
        ({"colour": "blue"}, 422, "colour"),
    ],
)
def test_a_bad_registration_names_the_field_and_writes_nothing(
    engine: Engine, client: TestClient, change: dict[str, Any], status: int, field: str
) -> None:
    body = {"business_id": _first(engine, businesses)["id"], "name": "Ana", **change}
    before = _count(engine, customers)
    answer = client.post(f"{BASE}/customers", json=body, headers=_headers(engine, "write"))
    assert answer.status_code == status, answer.text
    assert field in str(answer.json()), answer.json()
    assert _count(engine, customers) == before


def test_ids_in_upper_case_name_the_same_rows(engine: Engine, client: TestClient) -> None:
    headers = _headers(engine, "write")
    business = _first(engine, businesses)["id"].upper()
    body = {"business_id": business, "id": "AAAAAAAA-0000-4000-8000-000000000001"}
    answer = client.post(f"{BASE}/customers", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer_id"] == "aaaaaaaa-0000-4000-8000-000000000001"
    load = {"customer_id": "AAAAAAAA-0000-4000-8000-000000000001", "points": 3}
    assert client.post(f"{BASE}/points/load", json=load, headers=headers).json()["balance"] == 3


def test_registering_an_id_twice_is_a_conflict(engine: Engine, client: TestClient) -> None:
    body = {"business_id": _first(engine, businesses)["id"], "id": _first(engine, customers)["id"]}
    answer = client.post(f"{BASE}/customers", json=body, headers=_headers(engine, "write"))
    assert answer.status_code == 409
    assert answer.json()["field"] == "id"


def test_a_failed_ingest_takes_the_source_write_back(
    engine: Engine, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = _headers(engine, "write")
    customer = _first(engine, customers)

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise StorageUnavailable("the database is down")

    monkeypatch.setattr(engine, "ingest", down)
    before = (_count(engine, customers), _count(engine, points))
    body = {"business_id": _first(engine, businesses)["id"], "phone": "+573001234567"}
    assert client.post(f"{BASE}/customers", json=body, headers=headers).status_code == 503
    load = {"customer_id": customer["id"], "points": 40, "amount": 10}
    assert client.post(f"{BASE}/points/load", json=load, headers=headers).status_code == 503
    assert (_count(engine, customers), _count(engine, points)) == before
    assert _first(engine, customers)["points_balance"] == customer["points_balance"]


def test_loading_points_answers_with_the_balance_and_the_fresh_score(
    engine: Engine, client: TestClient
) -> None:
    customer = _first(engine, customers)
    headers = _headers(engine, "write")
    body = {"customer_id": customer["id"], "points": 25, "amount": 52.5}
    answer = client.post(f"{BASE}/points/load", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["balance"] == customer["points_balance"] + 25
    assert found["fresh"] is True
    stored = engine.current("loyalty", customer["id"])
    assert found["loyalty"] == stored["loyalty"].value
    assert found["tier"] == stored["loyalty"].features["tier"]
    assert found["churn_risk"] == stored["churn_risk"].value


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"points": 0}, 422, "points"),
        ({"points": -10_000}, 422, "points"),
        ({"points": 10**9}, 422, "points"),
        ({"points": True}, 422, "points"),
        ({"amount": -1}, 422, "amount"),
        ({"customer_id": "00000000-0000-4000-8000-000000000000"}, 404, "customer_id"),
    ],
)
def test_a_bad_points_load_names_the_field_and_writes_nothing(
    engine: Engine, client: TestClient, change: dict[str, Any], status: int, field: str
) -> None:
    body = {"customer_id": _first(engine, customers)["id"], "points": 5, **change}
    before = _count(engine, points)
    answer = client.post(f"{BASE}/points/load", json=body, headers=_headers(engine, "write"))
    assert answer.status_code == status, answer.text
    assert field in str(answer.json()), answer.json()
    assert _count(engine, points) == before


def test_both_automation_modes_answer_the_same_actions_metered(
    engine: Engine, client: TestClient
) -> None:
    headers = _headers(engine, "read")
    business = _first(engine, businesses)["id"]
    found = {
        mode: client.get(
            f"{BASE}/automations",
            params={"mode": mode, "business_id": business, "limit": 1000},
            headers=headers,
        ).json()
        for mode in ("event-driven", "legacy")
    }
    fast, slow = found["event-driven"], found["legacy"]
    assert fast["actions"] == slow["actions"]
    assert fast["counts"] == slow["counts"]
    assert fast["counts"]["inactive"] > 0
    assert fast["rows_read"] < slow["rows_read"]
    assert {"queries", "milliseconds", "now"} <= set(fast)
    unknown = client.get(
        f"{BASE}/automations",
        params={"business_id": "00000000-0000-4000-8000-000000000000"},
        headers=headers,
    )
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "business_id"
    bad = client.get(f"{BASE}/automations", params={"mode": "fast"}, headers=headers)
    assert bad.status_code == 422
    assert "mode" in str(bad.json())


def test_automation_events_list_the_audience_and_register_a_test_customer(
    engine: Engine, client: TestClient
) -> None:
    headers = _headers(engine, "write")
    everywhere = client.get(
        f"{BASE}/automation-events", params={"event": "inactive"}, headers=headers
    )
    assert everywhere.status_code == 200, everywhere.text
    inactive = everywhere.json()
    assert inactive["audience"] == "inactive"
    assert inactive["count"] > 0
    assert all(m["days_since_visit"] > 30 for m in inactive["members"])
    assert inactive["recorded"]["fired"] == inactive["count"]  # through the automation engine
    again = client.get(f"{BASE}/automation-events", params={"event": "inactive"}, headers=headers)
    assert again.json()["recorded"] == {  # the same local day's tick: nobody is told twice
        "fired": 0, "throttled": 0, "duplicate": inactive["count"], "skipped": 0
    }  # fmt: skip
    fired = engine.firings(rule="loyalty.inactive", limit=10_000)
    assert len(fired) == inactive["count"]
    assert {f["occurrence"][:3] for f in fired} == {"at:"}
    birthdays = client.get(
        f"{BASE}/automation-events", params={"event": "birthdays"}, headers=headers
    ).json()
    assert birthdays["audience"] == "birthdays"
    assert all(m["birth_date"][5:] == "11-30" for m in birthdays["members"])
    before = _count(engine, customers)
    made = client.get(
        f"{BASE}/automation-events", params={"event": "test-customer"}, headers=headers
    ).json()
    assert _count(engine, customers) == before + 1
    assert made["event_id"] == f"loyalty:customer_registered:{made['customer_id']}"
    reader = client.get(
        f"{BASE}/automation-events", params={"event": "birthdays"}, headers=_headers(engine, "read")
    )
    assert reader.status_code == 403
