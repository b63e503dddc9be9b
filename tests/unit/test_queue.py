"""Pending work: coalescing, claims, acks that never lose an event, retries and dead letters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from conftest import Clock, event, put_items
from rescore.db.schema import pending
from rescore.engine import Engine, Observer
from rescore.queue import DEAD, PendingWork
from rescore.routing import Lane


def rows(engine: Engine) -> list[sa.Row[tuple[object, ...]]]:
    with engine.db.read() as conn:
        return list(conn.execute(sa.select(pending).order_by(pending.c.entity)))


def test_one_pending_row_per_entity_and_priority_only_rises(engine: Engine) -> None:
    engine.ingest([event("e1", "b_changed", "x")])
    assert [(r.entity, r.priority) for r in rows(engine)] == [("x", 5)]
    engine.ingest([event("e2", "a_changed", "x")])
    engine.ingest([event("e3", "b_changed", "x")])
    (row,) = rows(engine)
    assert row.priority == Lane.CRITICAL.priority, "a normal event must not lower priority"
    assert (row.first_seq, row.watermark) == (1, 3)


def test_hundred_events_for_one_entity_cost_one_recompute(engine: Engine) -> None:
    put_items(engine, x=(1, 2))
    engine.ingest([event(f"e{i}", "b_changed", "x") for i in range(100)])
    report = engine.work("w")
    assert report.claimed == 1
    assert len(report.outcomes[0].causes) == 100
    assert rows(engine) == []


def test_lanes_are_claimed_separately(engine: Engine) -> None:
    put_items(engine, x=(1, 2), y=(3, 4))
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "b_changed", "y")])
    critical = engine.work("w", Lane.CRITICAL)
    assert [o.entity for o in critical.outcomes] == ["x"]
    assert critical.outcomes[0].lane is Lane.CRITICAL
    normal = engine.work("w", Lane.NORMAL)
    assert [o.entity for o in normal.outcomes] == ["y"]


def test_event_arriving_during_a_claim_is_not_lost(engine: Engine) -> None:
    put_items(engine, x=(10, 10))
    engine.ingest([event("e1", "a_changed", "x")])
    with engine.db.begin() as conn:
        (claimed,) = engine.queue.claim(conn, "w", engine.clock(), lane=None, limit=10)
    put_items(engine, x=(60, 10))
    engine.ingest([event("e2", "a_changed", "x")])  # arrives while "w" works on e1
    with engine.db.begin() as conn:
        engine.queue.ack(conn, "w", [claimed])
    (row,) = rows(engine)
    assert (row.state, row.first_seq, row.watermark) == ("waiting", 2, 2)
    report = engine.work("w2")
    assert [c.event_id for c in report.outcomes[0].causes] == ["e2"]
    assert engine.current("toy", "x")["a_score"].value == 60


def test_failure_retries_with_backoff_then_dead_letters(engine: Engine, clock: Clock) -> None:
    put_items(engine, x=(-1, 0))  # a_score fails on negative a
    engine.ingest([event("e1", "a_changed", "x")])
    first = engine.work("w")
    assert first.failures
    assert not first.failures[0].dead
    assert "a is negative" in first.failures[0].error
    assert engine.work("w").claimed == 0, "backing off: not claimable yet"
    clock.advance(10)
    assert engine.work("w").failures[0].work.attempts == 1
    clock.advance(20)  # second retry waits twice as long
    third = engine.work("w")
    assert third.failures[0].dead
    (row,) = rows(engine)
    assert (row.state, row.attempts) == (DEAD, 3)
    clock.advance(3600)
    assert engine.work("w").claimed == 0, "dead letters are never claimed"


def test_dead_letter_can_be_requeued_and_then_succeeds(engine: Engine, clock: Clock) -> None:
    put_items(engine, x=(-1, 0))
    engine.ingest([event("e1", "a_changed", "x")])
    for _ in range(3):
        engine.work("w")
        clock.advance(100)
    with engine.db.read() as conn:
        assert [w.entity for w in engine.queue.list(conn, state=DEAD)] == ["x"]
    put_items(engine, x=(7, 0))  # the source is fixed
    with engine.db.begin() as conn:
        assert engine.queue.requeue(conn, clock()) == 1
    report = engine.work("w")
    assert report.outcomes
    assert not report.failures
    assert engine.current("toy", "x")["total"].value == 7


def test_release_hands_back_claimed_work(engine: Engine) -> None:
    engine.ingest([event("e1", "a_changed", "x")])
    with engine.db.begin() as conn:
        engine.queue.claim(conn, "w", engine.clock(), lane=None, limit=10)
        assert engine.queue.release(conn, "w") == 1
    assert rows(engine)[0].state == "waiting"


def test_abandoned_claim_is_retaken_after_its_lease(engine: Engine, clock: Clock) -> None:
    put_items(engine, x=(1, 1))
    engine.ingest([event("e1", "a_changed", "x")])
    with engine.db.begin() as conn:
        engine.queue.claim(conn, "dead-worker", clock(), lane=None, limit=10)
    assert engine.work("w").claimed == 0
    clock.advance(engine.settings.lease_seconds + 1)
    assert engine.work("w").claimed == 1
    assert rows(engine) == []


def test_counts_by_lane(engine: Engine) -> None:
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "b_changed", "y")])
    with engine.db.read() as conn:
        assert engine.queue.counts(conn) == {"critical": 1, "normal": 1, "dead": 0}


def test_critical_event_during_a_normal_claim_is_announced_on_ack(engine: Engine) -> None:
    class Spy(Observer):
        def __init__(self) -> None:
            self.requeued_calls: list[dict[str, int]] = []

        def requeued(self, queued: Mapping[str, int]) -> None:
            self.requeued_calls.append(dict(queued))

    spy = Spy()
    engine.observers.append(spy)
    put_items(engine, x=(1, 1))
    engine.ingest([event("e1", "b_changed", "x")])
    original = engine.computer.claimed

    def compute_while_a_default_arrives(claimed: Sequence[PendingWork]) -> Any:
        engine.ingest([event("e2", "a_changed", "x")])  # lands while "w" holds the row
        return original(claimed)

    engine.computer.claimed = compute_while_a_default_arrives  # type: ignore[method-assign]
    engine.work("w", Lane.NORMAL)
    assert spy.requeued_calls == [{"critical": 1, "normal": 0}]
    engine.computer.claimed = original  # type: ignore[method-assign]
    report = engine.work("w", Lane.CRITICAL)
    assert [c.event_id for c in report.outcomes[0].causes] == ["e2"]
