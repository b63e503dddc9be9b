"""Ingest refuses what is almost certainly a mistake, names the field, and never loses an event
to a reused id: each case here was accepted (or crashed) before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import Clock, event, make_engine
from rescore.db.schema import events
from rescore.engine import Engine
from rescore.exceptions import EventConflict, InvalidEvent, TooLarge, UnknownEventType
from rescore.routing import Lane, Route, Router


def stored(engine: Engine) -> int:
    with engine.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


def test_a_reused_id_with_another_body_in_one_batch_is_a_conflict(engine: Engine) -> None:
    batch = [event("e1", "a_changed", "x"), event("e1", "a_changed", "y")]
    with pytest.raises(EventConflict, match="'e1'") as caught:
        engine.ingest(batch)
    assert caught.value.http_status == 409
    assert caught.value.field == "event_id"
    assert stored(engine) == 0


def test_a_reused_id_against_a_stored_event_is_a_conflict(engine: Engine) -> None:
    engine.ingest([event("e1", "a_changed", "x", amount=1)])
    with pytest.raises(EventConflict, match="'e1'"):
        engine.ingest([event("e2", "a_changed", "x"), event("e1", "a_changed", "x", amount=2)])
    assert stored(engine) == 1, "the batch is all or nothing: e2 was not stored either"


def test_a_true_redelivery_stays_idempotent_even_with_a_new_time(engine: Engine) -> None:
    engine.ingest([event("e1", "a_changed", "x", amount=1)])
    again = event("e1", "a_changed", "x", amount=1) | {"occurred_at": "2026-01-23T10:31:00Z"}
    result = engine.ingest([again, again])
    assert (result.accepted, result.duplicates) == (0, 2)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"occurred_at": 1769164200}, "occurred_at", "not a number"),
        ({"occurred_at": "1769164200"}, "occurred_at", "not a number"),
        ({"occurred_at": 1.5}, "occurred_at", "not a number"),
        ({"occurred_at": "9999-12-31T23:00:00-05:00"}, "occurred_at", "out of range"),
        ({"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at", "out of range"),
        ({"occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at", "outside the accepted window"),
        ({"occurred_at": "2027-01-23T10:30:00Z"}, "occurred_at", "outside the accepted window"),
        ({"event_id": "a\x00b"}, "event_id", "control characters"),
        ({"entity": "x\x00"}, "entity", "control characters"),
        ({"payload": {"amount": 2**64}}, "payload.amount", "64 bits"),
        ({"payload": {"rows": [1, -(2**63) - 1]}}, "payload.rows.1", "64 bits"),
        ({"payload": {"amount": float("inf")}}, "payload.amount", "finite"),
        ({"payload": {"amount": float("nan")}}, "payload.amount", "finite"),
    ],
)
def test_mistakes_are_refused_naming_the_field(
    engine: Engine, change: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidEvent, match=words) as caught:
        engine.ingest([event("e1", "a_changed", "x") | change])
    (problem,) = caught.value.problems
    assert (problem.index, problem.field) == (1, field)
    assert stored(engine) == 0


def test_deep_nesting_is_refused(engine: Engine) -> None:
    payload: dict[str, Any] = {}
    for _ in range(40):
        payload = {"a": payload}
    with pytest.raises(InvalidEvent, match="nested deeper"):
        engine.ingest([event("e1", "a_changed", "x") | {"payload": payload}])


def test_a_payload_over_the_limit_is_413_naming_the_limit(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "t.db", clock=Clock(), max_payload_bytes=1024)
    with pytest.raises(TooLarge, match="1,024") as caught:
        engine.ingest([event("e1", "a_changed", "x", blob="z" * 2000)])
    assert caught.value.http_status == 413
    assert "RESCORE_MAX_PAYLOAD_BYTES" in caught.value.message
    engine.close()


def test_the_time_window_is_configurable(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "t.db", clock=Clock(), max_event_age_days=40000)
    result = engine.ingest([event("e1", "a_changed", "x") | {"occurred_at": "1970-01-01T00:00Z"}])
    assert result.accepted == 1
    engine.close()


def test_an_unknown_type_in_a_pack_lists_only_that_packs_types() -> None:
    router = Router(
        {
            "credit": {"payment_made": Route(lane=Lane.NONE)},
            "leads": {"contact_updated": Route(lane=Lane.NONE)},
        }
    )
    with pytest.raises(UnknownEventType) as caught:
        router.resolve("contact_updated", "credit")
    assert "payment_made" in caught.value.message
    assert "contact_updated'" in caught.value.message  # named as the unknown one ...
    assert "known: payment_made" in caught.value.message  # ... and not listed as known
    with pytest.raises(UnknownEventType, match="no pack 'nopack'") as unknown:
        router.resolve("payment_made", "nopack")
    assert unknown.value.field == "pack"


def test_every_problem_of_a_batch_is_listed_with_its_position(engine: Engine) -> None:
    batch = [event("e1", "a_changed", "x"), event("e2", "teleport", "x") | {"entity": ""}]
    with pytest.raises(InvalidEvent) as caught:
        engine.ingest(batch)
    assert [(p.index, p.field) for p in caught.value.problems] == [(2, "entity")]
    with pytest.raises(InvalidEvent) as typed:
        engine.ingest([event("e1", "a_changed", "x"), event("e2", "teleport", "x")])
    assert [(p.index, p.field) for p in typed.value.problems] == [(2, "type")]
