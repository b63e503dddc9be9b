"""Ingest: validation names the field, a bad batch stores nothing, duplicates apply once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from conftest import event
from rescore.db.schema import events, pending
from rescore.engine import Engine
from rescore.events import read_events_file
from rescore.exceptions import InvalidEvent, UnknownEventType


def count(engine: Engine, table: sa.Table) -> int:
    with engine.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_duplicate_event_is_acknowledged_and_not_applied_twice(engine: Engine) -> None:
    first = engine.ingest([event("e1", "a_changed", "x")])
    again = engine.ingest([event("e1", "a_changed", "x"), event("e2", "b_changed", "x")])
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates) == (1, 1)
    assert count(engine, events) == 2


def test_duplicate_within_one_batch_counts_once(engine: Engine) -> None:
    result = engine.ingest([event("e1", "a_changed", "x"), event("e1", "a_changed", "x")])
    assert (result.accepted, result.duplicates) == (1, 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": ""}, "event_id"),
        ({"entity": "   "}, "entity"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"payload": [1, 2]}, "payload"),
        ({"event_id": 42}, "event_id"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_malformed_event_is_refused_naming_the_field(
    engine: Engine, change: dict[str, object], field: str
) -> None:
    bad = event("e2", "a_changed", "x") | change
    with pytest.raises(InvalidEvent) as caught:
        engine.ingest([event("e1", "a_changed", "x"), bad])
    assert f"event 2: {field}" in str(caught.value)
    assert count(engine, events) == 0, "a bad batch must store nothing"
    assert count(engine, pending) == 0


def test_missing_field_is_named(engine: Engine) -> None:
    raw = event("e1", "a_changed", "x")
    del raw["occurred_at"]
    with pytest.raises(InvalidEvent, match="occurred_at: Field required"):
        engine.ingest([raw])


def test_unknown_type_lists_the_known_ones_and_stores_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidEvent) as caught:
        engine.ingest([event("e1", "a_changed", "x"), event("e2", "teleported", "x")])
    message = str(caught.value)
    assert "teleported" in message
    assert "a_changed, b_changed, noted" in message
    assert count(engine, events) == 0


def test_router_refuses_unknown_type_directly(engine: Engine) -> None:
    with pytest.raises(UnknownEventType, match="known: a_changed, b_changed, noted"):
        engine.registry.router.resolve("nope")


def test_none_lane_is_stored_but_never_queued(engine: Engine) -> None:
    result = engine.ingest([event("e1", "noted", "x")])
    assert result.accepted == 1
    assert result.queued == {"critical": 0, "normal": 0}
    assert count(engine, events) == 1
    assert count(engine, pending) == 0


def test_naive_time_is_taken_as_utc(engine: Engine) -> None:
    result = engine.ingest([event("e1", "a_changed", "x") | {"occurred_at": "2026-01-23T10:30:00"}])
    assert result.events[0].occurred_at.utcoffset() is not None
    assert result.events[0].occurred_at.hour == 10


def test_jsonl_and_csv_files_parse_to_the_same_events() -> None:
    jsonl = (
        '{"event_id": "e1", "type": "a_changed", "entity": "x", '
        '"occurred_at": "2026-01-23T10:30:00Z", "payload": {"n": 1}}\n\n'
    )
    csv_text = (
        "event_id,type,entity,occurred_at,payload\n"
        'e1,a_changed,x,2026-01-23T10:30:00Z,"{""n"": 1}"\n'
    )
    assert read_events_file(jsonl, "jsonl") == read_events_file(csv_text, "csv")


def test_bad_json_line_is_reported_with_its_number() -> None:
    with pytest.raises(InvalidEvent, match="line 2 is not JSON"):
        read_events_file('{"event_id": "e1"}\n{oops\n', "jsonl")
