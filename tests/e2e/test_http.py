"""The HTTP API over real HTTP: ``rescore serve`` in a subprocess, a real SQLite file."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from conftest import event
from helpers import run, serving
from rescore.packs.credit.simulator import default_client

pytestmark = pytest.mark.e2e


class Api:
    """A running server, its database and one key per scope (tenant ``default``) plus a key
    of another tenant."""

    def __init__(self, url: str, db: str, keys: dict[str, str]) -> None:
        self.url = url
        self.db = db
        self.keys = keys

    def call(
        self, method: str, path: str, key: str | None = "admin", **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def cedulas(self, count: int, skip: int = 0) -> list[str]:
        engine = sa.create_engine(self.db)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT cedula FROM clients ORDER BY cedula LIMIT :n OFFSET :o"),
                {"n": count, "o": skip},
            )
            found = [r[0] for r in rows]
        engine.dispose()
        return found


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    where = tmp_path_factory.mktemp("http")
    db = f"sqlite:///{where / 'api.db'}"
    env = {"RESCORE_DATABASE_URL": db, "RESCORE_PACKS": "credit"}
    run("init", "--demo-data", cwd=where, env=env)
    keys = {
        scope: run("keys", "create", "--scope", scope, cwd=where, env=env).stdout.strip()
        for scope in ("read", "write", "admin")
    }
    keys["other"] = run(
        "--tenant", "other", "keys", "create", "--scope", "admin", cwd=where, env=env
    ).stdout.strip()
    with serving(where, env) as url:
        yield Api(url, db, keys)


def test_health_needs_no_key_and_ready_reports_its_checks(api: Api) -> None:
    assert api.call("GET", "/healthz", key=None).json() == {"status": "ok"}
    ready = api.call("GET", "/readyz", key=None)
    assert ready.status_code == 200
    assert ready.json()["database"] is True
    assert ready.json()["workers"] is True


def test_auth_failures(api: Api) -> None:
    cedula = api.cedulas(1)[0]
    missing = api.call("GET", f"/v1/scores/credit/{cedula}", key=None)
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["detail"]
    forged = httpx.get(
        f"{api.url}/v1/scores/credit/{cedula}",
        headers={"X-API-Key": "rsk_0000000000000000_forged"},
    )
    assert forged.status_code == 401
    read_only = api.call("POST", "/v1/events", key="read", json=event("a1", "payment_made", cedula))
    assert read_only.status_code == 403
    assert "needs write" in read_only.json()["detail"]
    assert api.call("GET", "/v1/pending", key="write").status_code == 403


def test_critical_event_read_after_write(api: Api) -> None:
    engine = sa.create_engine(api.db, connect_args={"timeout": 30})
    with engine.begin() as conn:  # the business system writes its source first
        cedula = next(c for c in api.cedulas(20, skip=10) if _has_unpaid(conn, c))
        before = api.call("GET", f"/v1/scores/credit/{cedula}", key="read").json()
        assert default_client(conn, cedula, datetime.now(UTC).date()) > 0
    engine.dispose()
    answer = api.call(
        "POST", "/v1/events?wait=true", key="write", json=event("d1", "client_default", cedula)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    assert body["fresh"] is True
    (view,) = body["scores"]
    assert view["scores"]["hybrid"]["value"] < before["scores"]["hybrid"]["value"]
    after = api.call("GET", f"/v1/scores/credit/{cedula}", key="read").json()
    assert after["stale"] is False
    assert after["scores"]["hybrid"]["value"] == view["scores"]["hybrid"]["value"]
    assert after["watermark"] > before["watermark"]
    explained = api.call("GET", f"/v1/scores/credit/{cedula}/explain", key="read").json()
    causes = [e["type"] for c in explained["changes"] for e in c["events"]]
    assert "client_default" in causes
    then = api.call(
        "GET", f"/v1/scores/credit/{cedula}", key="read", params={"as_of": before["updated_at"]}
    ).json()
    assert then["scores"]["hybrid"]["value"] == before["scores"]["hybrid"]["value"]


def _has_unpaid(conn: sa.Connection, cedula: str) -> bool:
    query = sa.text("SELECT count(*) FROM payments WHERE cedula = :c AND paid_date IS NULL")
    return bool(conn.execute(query, {"c": cedula}).scalar())


def test_freshness_fields(api: Api) -> None:
    cedula = api.cedulas(1, skip=20)[0]
    view = api.call("GET", f"/v1/scores/credit/{cedula}", key="read").json()
    assert set(view) >= {"updated_at", "age_seconds", "versions", "watermark", "stale", "source"}
    assert view["versions"]["hybrid"] == "1.0.0"
    assert view["age_seconds"] >= 0


def test_duplicate_events_are_counted_not_applied(api: Api) -> None:
    cedula = api.cedulas(1, skip=30)[0]
    batch = [event("dup1", "payment_made", cedula), event("dup2", "limit_increase", cedula)]
    first = api.call("POST", "/v1/events", key="write", json=batch).json()
    again = api.call("POST", "/v1/events", key="write", json=batch).json()
    assert (first["accepted"], first["duplicates"]) == (2, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert first["queued"] == {"critical": 0, "normal": 1}


def test_pubsub_push_envelope(api: Api) -> None:
    cedula = api.cedulas(1, skip=40)[0]
    data = {
        "event_type": "new_payment_plan",
        "cedula": cedula,
        "plan_id": "P12345",
        "timestamp": "2026-01-23T10:30:00Z",
        "metadata": {"plan_status": "active"},
    }
    envelope = {
        "message": {
            "data": base64.b64encode(json.dumps(data).encode()).decode(),
            "messageId": "pubsub-1",
            "publishTime": "2026-01-23T10:30:01Z",
        },
        "subscription": "projects/platam-analytics/subscriptions/scoring",
    }
    first = api.call("POST", "/v1/pubsub/push?wait=true", key="write", json=envelope)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 1
    assert first.json()["queued"]["critical"] == 1
    assert first.json()["fresh"] is True
    again = api.call("POST", "/v1/pubsub/push", key="write", json=envelope).json()
    assert again["duplicates"] == 1, "Pub/Sub redelivery is acknowledged, not applied twice"
    bad = dict(envelope, message=dict(envelope["message"], data="%%%"))
    answer = api.call("POST", "/v1/pubsub/push", key="write", json=bad)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "message", "data"]


def test_seed_update_score_contract(api: Api) -> None:
    cedula = api.cedulas(1, skip=50)[0]
    answer = api.call(
        "POST",
        "/update-score",
        key="write",
        json={
            "cedula": cedula,
            "event_type": "new_payment_plan",
            "event_data": {"plan_id": "P12345", "plan_status": "active"},
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success"
    assert body["cedula"] == cedula
    assert body["fresh"] is True
    assert body["platam_score"] is not None
    assert body["hybrid_score"] is not None
    assert 0 < body["ml_probability_default"] < 1  # the PD model reran after hybrid
    assert body["ml_probability_default"] == round(body["scores"]["default_probability"] / 100, 6)
    assert body["processing_time_ms"] > 0
    unknown = api.call(
        "POST",
        "/update-score",
        key="write",
        json={"cedula": "99999999", "event_type": "payment_made", "event_data": {}},
    )
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "cedula"


def test_seed_update_batch_contract(api: Api) -> None:
    cedulas = api.cedulas(3, skip=60)
    body = api.call(
        "POST", "/update-batch", key="write", json={"cedulas": [*cedulas, "99999999"]}
    ).json()
    assert (body["total_processed"], body["successful"], body["failed"]) == (4, 3, 1)
    assert body["results"][-1]["status"] == "error"
    too_many = api.call(
        "POST", "/update-batch", key="write", json={"cedulas": [str(10**7 + i) for i in range(501)]}
    )
    assert too_many.status_code == 422
    assert "cedulas" in json.dumps(too_many.json())


def test_seed_predict_contract(api: Api) -> None:
    cedula = api.cedulas(1, skip=70)[0]
    body = api.call("POST", "/predict", key="read", json={"cedula": cedula}).json()
    assert body["cedula"] == cedula
    assert body["hybrid_score"] is not None
    assert set(body["breakdown"]) >= {"platam", "hybrid", "payment_plan", "default_probability"}
    assert 0 < body["ml_probability_default"] < 1
    explained = body["breakdown"]["default_probability"]  # baseline + strongest features + rest
    assert {"baseline", "other_features"} <= set(explained)
    assert abs(sum(explained.values()) / 100 - body["ml_probability_default"]) < 1e-4
    assert body["stale"] is False
    bad = api.call("POST", "/predict", key="read", json={"cedula": 1006157869})
    assert bad.status_code == 422, "a number is not a cédula string (strict types)"


def test_tenant_isolation(api: Api) -> None:
    cedula = api.cedulas(1, skip=80)[0]
    assert api.call("GET", f"/v1/scores/credit/{cedula}", key="other").status_code == 404
    written = api.call(
        "POST", "/v1/events?wait=true", key="other", json=event("iso1", "new_payment_plan", cedula)
    )
    assert written.status_code == 200
    mine = api.call("GET", f"/v1/scores/credit/{cedula}/history", key="admin").json()["items"]
    assert not any("iso1" in item["event_ids"] for item in mine)
    theirs = api.call("GET", f"/v1/scores/credit/{cedula}", key="other").json()
    assert theirs["tenant"] == "other"
    pending_default = api.call("GET", "/v1/pending", key="admin").json()
    assert all(
        item["entity"] != cedula or item["pack"] != "credit" for item in pending_default["items"]
    )


def test_history_is_paged(api: Api) -> None:
    cedula = api.cedulas(1, skip=90)[0]  # the initial scoring wrote one change per scorer
    page = api.call("GET", f"/v1/scores/credit/{cedula}/history?limit=2", key="read").json()
    assert len(page["items"]) == 2
    rest = api.call("GET", f"/v1/scores/credit/{cedula}/history?limit=2&offset=2", key="read")
    assert rest.json()["items"][0]["id"] < page["items"][-1]["id"]


def test_queue_endpoints(api: Api) -> None:
    pending = api.call("GET", "/v1/pending", key="admin")
    assert pending.status_code == 200
    assert set(pending.json()["counts"]) == {"critical", "normal", "dead"}
    assert api.call("GET", "/v1/dead-letter", key="admin").json()["items"] == []
    requeued = api.call("POST", "/v1/dead-letter/requeue", key="admin", json={"pack": "credit"})
    assert requeued.json() == {"requeued": 0}


def test_bad_input_names_the_field_and_oversized_batch_is_413(api: Api) -> None:
    cedula = api.cedulas(1)[0]
    bad = api.call(
        "POST",
        "/v1/events",
        key="write",
        json=event("b1", "payment_made", cedula) | {"occurred_at": "soon"},
    )
    assert bad.status_code == 422
    assert "occurred_at" in json.dumps(bad.json())
    unknown = api.call("POST", "/v1/events", key="write", json=event("b2", "teleport", cedula))
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "type"]
    assert "client_default" in unknown.json()["detail"][0]["msg"]
    huge = [event(f"h{i}", "payment_made", cedula) for i in range(10_001)]
    assert api.call("POST", "/v1/events", key="write", json=huge).status_code == 413
    assert api.call("GET", "/v1/scores/nopack/1", key="read").status_code == 404


def test_openapi_documents_every_status(api: Api) -> None:
    spec = api.call("GET", "/openapi.json", key=None).json()
    events = spec["paths"]["/v1/events"]["post"]["responses"]
    assert {"200", "401", "403", "413", "422", "503"} <= set(events)
    assert "/update-score" in spec["paths"]
    assert "/predict" in spec["paths"]


def test_metrics_are_scraped_without_a_key_after_a_critical_event(api: Api) -> None:
    cedula = api.cedulas(1, skip=40)[0]
    posted = api.call(
        "POST", "/v1/events?wait=true", key="write", json=event("m1", "client_default", cedula)
    )
    assert posted.status_code == 200, posted.text
    scraped = api.call("GET", "/metrics", key=None)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    critical = (("lane", "critical"),)
    ingested = (("lane", "critical"), ("pack", "credit"), ("type", "client_default"))
    assert samples[("rescore_events_ingested_total", ingested)] >= 1
    assert samples[("rescore_recomputes_total", (("lane", "critical"), ("pack", "credit")))] >= 1
    assert samples[("rescore_event_to_score_seconds_count", critical)] >= 1
    assert samples[("rescore_database_up", ())] == 1
    assert ("rescore_pending", (("lane", "dead"),)) in samples
    assert ("rescore_lane_lag_seconds", critical) in samples
    assert cedula not in scraped.text, "no entity in a label"
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=scraped.content, capture_output=True, check=False
        )
        assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
