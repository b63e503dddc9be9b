"""Hostile and malformed input over HTTP: no server error, every 4xx names the caller's field.

Each case was a 500, a silent loss or a misleading error before (issue 10). The app runs in
process (ASGI) on a small credit demo, with a 64 KiB body limit so the 413 is cheap to reach.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from conftest import event
from rescore.api import create_app
from rescore.demo import prepare_pack
from rescore.engine import Engine
from rescore.packs.credit.pack import EVENT_ROUTES
from rescore.settings import Settings

pytestmark = pytest.mark.e2e

BODY_LIMIT = 64 * 1024


class Api:
    def __init__(self, client: TestClient, cedula: str) -> None:
        self.client = client
        self.cedula = cedula

    def post(self, path: str, body: Any = None, *, raw: bytes | None = None) -> Any:
        if raw is not None:
            headers = {"Content-Type": "application/json"}
            return self.client.post(path, content=raw, headers=headers)
        return self.client.post(path, json=body)

    def event(self, event_id: str, /, **change: Any) -> dict[str, Any]:
        return event(event_id, "payment_made", self.cedula) | change


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    where = tmp_path_factory.mktemp("hostile")
    settings = Settings(
        database_url=f"sqlite:///{where / 'api.db'}",
        packs=["credit", "leads"],
        snapshot_dir=where / "snap",
        snapshot_cron="",
        max_body_bytes=BODY_LIMIT,
        max_payload_bytes=4096,
    )
    engine = Engine.from_settings(settings)
    engine.migrate()
    prepare_pack(engine, "credit", Console(quiet=True), seed=7, size=20)
    cedula = next(iter(engine.entity_keys("credit")))
    _, key = engine.keys.create("default", "admin", datetime.now(UTC))
    with TestClient(create_app(settings, engine=engine, workers=False)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield Api(client, cedula)


def fields(answer: Any) -> list[list[Any]]:
    """The ``loc`` of every problem of a 422."""
    return [d["loc"] for d in answer.json()["detail"]]


# no server errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
def test_huge_integers_in_payload_and_event_data_are_422(api: Api, number: int) -> None:
    answer = api.post("/v1/events", api.event("big1", payload={"amount": number}))
    assert answer.status_code == 422, answer.text
    assert fields(answer) == [["body", "payload", "amount"]]
    assert "64 bits" in answer.text
    contract = {"cedula": api.cedula, "event_type": "payment_made", "event_data": {"n": number}}
    answer = api.post("/update-score", contract)
    assert answer.status_code == 422, answer.text
    assert fields(answer) == [["body", "event_data", "n"]]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_in_any_body_are_400_with_line_and_column(
    api: Api, literal: bytes
) -> None:
    for path, body in (
        ("/v1/events", b'{"event_id": "n1", "type": "payment_made",\n "entity": ' + literal),
        ("/predict", b'{"cedula": ' + literal + b"}"),
        ("/update-batch", b'{"cedulas": [' + literal + b"]}"),
        ("/v1/dead-letter/requeue", b'{"pack": ' + literal + b"}"),
    ):
        answer = api.post(path, raw=body)
        assert answer.status_code == 400, (path, answer.text)
        assert "line" in answer.json()["detail"], answer.text
        assert answer.json()["field"] == "body"


def test_1e400_in_a_payload_is_refused_not_stored_as_null(api: Api) -> None:
    raw = json.dumps(api.event("inf1")).replace('"payload": {}', '"payload": {"x": 1e400}')
    answer = api.post("/v1/events", raw=raw.encode())
    assert answer.status_code == 422, answer.text
    assert fields(answer) == [["body", "payload", "x"]]


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59"]
)
def test_times_near_the_ends_of_the_calendar_are_4xx(api: Api, when: str) -> None:
    answer = api.post("/v1/events", api.event("t1", occurred_at=when))
    assert answer.status_code == 422, answer.text
    assert fields(answer) == [["body", "occurred_at"]]
    lookup = api.client.get(f"/v1/scores/credit/{api.cedula}", params={"as_of": when})
    assert lookup.status_code < 500, lookup.text


def test_a_body_that_is_not_utf8_is_400_saying_where(api: Api) -> None:
    answer = api.post("/v1/events", raw=b'{"event_id": "\xff"}')
    assert answer.status_code == 400
    assert "UTF-8" in answer.json()["detail"]


def test_a_syntax_error_says_line_and_column(api: Api) -> None:
    answer = api.post("/predict", raw=b'{\n  "cedula": "1" "x"\n}')
    assert answer.status_code == 400
    assert "line 2, column" in answer.json()["detail"], answer.text
    assert "There was an error parsing the body" not in answer.text


# limits ---------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_naming_the_limit(api: Api) -> None:
    big = api.event("huge1", payload={"blob": "x" * (BODY_LIMIT + 10)})
    answer = api.post("/v1/events", big)
    assert answer.status_code == 413
    assert f"{BODY_LIMIT:,}" in answer.json()["detail"]
    assert "RESCORE_MAX_BODY_BYTES" in answer.json()["detail"]


def test_a_payload_over_its_limit_is_413(api: Api) -> None:
    big = api.event("huge2", payload={"blob": "x" * 5000})
    answer = api.post("/v1/events", big)
    assert answer.status_code == 413, answer.text
    assert "RESCORE_MAX_PAYLOAD_BYTES" in answer.json()["detail"]


# mistakes refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"occurred_at": 1769164200}, ["body", "occurred_at"]),
        ({"occurred_at": "1769164200"}, ["body", "occurred_at"]),
        ({"occurred_at": "1970-01-01T00:00:00Z"}, ["body", "occurred_at"]),
        ({"event_id": "a\u0000b"}, ["body", "event_id"]),
        ({"entity": "\u0000"}, ["body", "entity"]),
    ],
)
def test_mistakes_are_refused_naming_the_field(
    api: Api, change: dict[str, Any], loc: list[str]
) -> None:
    answer = api.post("/v1/events", api.event("m1", **change))
    assert answer.status_code == 422, answer.text
    assert fields(answer) == [loc]


def test_a_reused_event_id_is_409_a_true_duplicate_is_not(api: Api) -> None:
    first = api.event("r1", payload={"amount": 1})
    assert api.post("/v1/events", first).json()["accepted"] == 1
    assert api.post("/v1/events", first).json()["duplicates"] == 1
    other = api.event("r1", payload={"amount": 2})
    answer = api.post("/v1/events", other)
    assert answer.status_code == 409
    assert answer.json()["field"] == "event_id"
    assert "'r1'" in answer.json()["detail"]
    twins = [api.event("r2", type="client_default"), api.event("r2")]
    answer = api.post("/v1/events", twins)
    assert answer.status_code == 409
    assert "'r2'" in answer.json()["detail"]


# errors name the caller's fields ---------------------------------------------------------------


def test_update_score_names_event_type_and_lists_only_credit_types(api: Api) -> None:
    body = {"cedula": api.cedula, "event_type": "contact_updated", "event_data": {}}
    answer = api.post("/update-score", body)
    assert answer.status_code == 422
    assert fields(answer) == [["body", "event_type"]]
    message = answer.json()["detail"][0]["msg"]
    assert "payment_made" in message
    assert "known: " in message
    assert "contact_updated" not in message.split("known: ")[1], "a leads type is not credit's"


def test_pubsub_errors_name_message_data_fields(api: Api) -> None:
    def push(data: dict[str, Any], message_id: str = "p1") -> Any:
        encoded = base64.b64encode(json.dumps(data).encode()).decode()
        return api.post("/v1/pubsub/push", {"message": {"data": encoded, "messageId": message_id}})

    answer = push({"event_type": "payment_made", "cedula": "\u0000"})
    assert fields(answer) == [["body", "message", "data", "cedula"]]
    answer = push({"event_type": "teleport", "cedula": api.cedula})
    assert fields(answer) == [["body", "message", "data", "event_type"]]
    answer = push({"event_type": "payment_made", "cedula": api.cedula, "n": 2**70})
    assert fields(answer) == [["body", "message", "data", "n"]]
    answer = push({"event_type": "payment_made", "cedula": api.cedula, "timestamp": 1769164200})
    assert fields(answer) == [["body", "message", "data", "timestamp"]]


def test_predict_names_cedula(api: Api) -> None:
    answer = api.post("/predict", {"cedula": "99999999"})
    assert answer.status_code == 404
    assert answer.json()["field"] == "cedula"


def test_a_single_event_error_has_no_spurious_list_error(api: Api) -> None:
    answer = api.post("/v1/events", api.event("s1", occurred_at="soon"))
    assert answer.status_code == 422
    assert fields(answer) == [["body", "occurred_at"]]
    assert "valid list" not in answer.text


def test_a_batch_error_names_the_position(api: Api) -> None:
    answer = api.post("/v1/events", [api.event("b1"), api.event("b2", occurred_at="soon")])
    assert answer.status_code == 422
    assert fields(answer) == [["body", 1, "occurred_at"]]


# the schema says what the server accepts --------------------------------------------------------


def test_openapi_lists_event_types_packs_and_base64(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    event_types = schemas["EventIn"]["properties"]["type"]["enum"]
    assert set(EVENT_ROUTES) <= set(event_types)
    assert "contact_updated" in event_types, "every loaded pack's types on the core route"
    update = schemas["UpdateScoreIn"]["properties"]["event_type"]
    assert sorted(update["enum"]) == sorted(EVENT_ROUTES), "a pack's route: only its types"
    data = schemas["PubSubMessage"]["properties"]["data"]
    assert data["contentEncoding"] == "base64"
    scores = spec["paths"]["/v1/scores/{pack}/{entity}"]["get"]["parameters"]
    assert next(p for p in scores if p["name"] == "pack")["schema"]["enum"] == ["credit", "leads"]
    events = spec["paths"]["/v1/events"]["post"]
    body = events["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"] == "#/components/schemas/EventBatchIn"
    assert {"400", "409", "413", "422"} <= set(events["responses"])


def test_503_bodies_do_not_reveal_the_database(tmp_path: Path) -> None:
    url = "postgresql+psycopg://rescore@127.0.0.1:9/secret_db"
    settings = Settings(database_url=url, packs=["credit"], snapshot_dir=tmp_path)
    engine = Engine.from_settings(settings)
    key = "rsk_0000000000000000_x"  # checking it needs the database: the first 503
    with TestClient(create_app(settings, engine=engine, workers=False)) as client:
        answer = client.post(
            "/v1/events", json=event("d1", "payment_made", "1"), headers={"X-API-Key": key}
        )
    assert answer.status_code == 503, answer.text
    for secret in ("127.0.0.1", ":9", "secret_db", "rescore@"):
        assert secret not in answer.text
    assert "database" in answer.json()["detail"]


def test_deep_nesting_is_400_not_a_parser_crash(api: Api) -> None:
    answer = api.post("/predict", raw=b'{"cedula": ' + b"[" * 20_000 + b"]" * 20_000 + b"}")
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == "body"
