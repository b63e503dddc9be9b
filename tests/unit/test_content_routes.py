"""Seed 004's HTTP API under /v1/packs/content: lesson and course states, analytics, search
over the local knowledge base, and the webhook that detects now and processes after
answering; bad input is a 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rescore.api import create_app
from rescore.engine import Engine
from rescore.packs.content import ContentPack
from rescore.testing import scratch_engine

BASE = "/v1/packs/content"


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("RESCORE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESCORE_CONTENT_STORAGE", str(tmp_path / "videos"))
    monkeypatch.setenv("RESCORE_CONTENT_INDEX_DIR", str(tmp_path / "index"))
    with scratch_engine([ContentPack()], tmp_path / "c.db") as engine:
        yield engine


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine.settings, engine=engine, workers=False)) as client:
        yield client


def _headers(engine: Engine, scope: str) -> dict[str, str]:
    _, key = engine.keys.create("default", scope, datetime.now(UTC))
    return {"Authorization": f"Bearer {key}"}


def test_the_webhook_detects_then_processes_and_the_states_are_served(
    engine: Engine, client: TestClient
) -> None:
    reader = _headers(engine, "read")
    assert client.post(f"{BASE}/webhook", json={}, headers=reader).status_code == 403
    answer = client.post(
        f"{BASE}/webhook", json={"event": "CLUB_MODULE_CREATED"}, headers=_headers(engine, "write")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "event": "CLUB_MODULE_CREATED",
        "new": 5,
        "changed": 0,
        "unchanged": 0,
        "processing": True,
    }
    lessons = client.get(f"{BASE}/lessons", headers=reader).json()["lessons"]
    assert {lesson["state"] for lesson in lessons} == {"done"}, "processed after the answer"
    done = client.get(f"{BASE}/lessons", params={"state": "done", "course_id": "mkt200"},
                      headers=reader).json()["lessons"]  # fmt: skip
    assert [lesson["lesson_id"] for lesson in done] == ["mkt200_m1_l1", "mkt200_m1_l2"]
    one = client.get(f"{BASE}/lessons/py101_m2_l1", headers=reader).json()
    assert one["document"]["classification"]["school"] == "programación"
    courses = client.get(f"{BASE}/courses", headers=reader).json()["courses"]
    assert [(c["course_id"], c["state"], c["lessons"]) for c in courses] == [
        ("mkt200", "done", {"done": 2}),
        ("py101", "done", {"done": 3}),
    ]
    analytics = client.get(f"{BASE}/analytics", headers=reader).json()
    assert analytics["states"] == {"done": 5}
    assert analytics["schools"] == {"marketing": 2, "programación": 3}
    found = client.get(f"{BASE}/search", params={"q": "anúncios no Instagram"},
                       headers=reader).json()  # fmt: skip
    assert found["results"][0]["lesson_id"] == "mkt200_m1_l1"
    only = client.get(f"{BASE}/search", params={"q": "Instagram", "school": "programación"},
                      headers=reader).json()  # fmt: skip
    assert {hit["school"] for hit in only["results"]} == {"programación"}


def test_bad_input_is_a_4xx_naming_the_field(engine: Engine, client: TestClient) -> None:
    reader = _headers(engine, "read")
    missing = client.get(f"{BASE}/lessons/nope", headers=reader)
    assert missing.status_code == 404
    assert missing.json()["field"] == "lesson_id"
    wrong = client.get(f"{BASE}/lessons", params={"state": "lost"}, headers=reader)
    assert wrong.status_code == 422
    assert "state" in wrong.text
    assert client.get(f"{BASE}/search", params={"q": ""}, headers=reader).status_code == 422
    body = client.post(f"{BASE}/webhook", json={"event": 5}, headers=_headers(engine, "write"))
    assert body.status_code == 422
    assert client.get(f"{BASE}/search", params={"q": "x"}, headers=reader).json() == {
        "query": "x",
        "results": [],
    }


def test_hotmarts_own_webhook_is_let_in_by_its_hottok_only(
    engine: Engine, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"event": "CLUB_CONTENT_UPDATED"}
    unset = client.post(f"{BASE}/hotmart", json=body, headers={"X-Hotmart-Hottok": "x"})
    assert unset.status_code == 403
    assert "RESCORE_CONTENT_HOTTOK" in unset.json()["detail"]
    monkeypatch.setenv("RESCORE_CONTENT_HOTTOK", "s3cr3t-hottok")
    for sent in ({}, {"X-Hotmart-Hottok": "s3cr3t-hottoK"}):
        refused = client.post(f"{BASE}/hotmart", json=body, headers=sent)
        assert refused.status_code == 403
        assert refused.json()["field"] == "X-Hotmart-Hottok"
        assert "s3cr3t" not in refused.text
    reader = _headers(engine, "read")
    assert client.get(f"{BASE}/lessons", headers=reader).json()["lessons"] == [], "nothing yet"
    answer = client.post(
        f"{BASE}/hotmart", json=body, headers={"X-Hotmart-Hottok": "s3cr3t-hottok"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {**body, "new": 5, "changed": 0, "unchanged": 0, "processing": True}
    lessons = client.get(f"{BASE}/lessons", headers=reader).json()["lessons"]
    assert {lesson["state"] for lesson in lessons} == {"done"}, "processed after the answer"
