"""Reconciliation finds scores that drifted from a recompute, repairs them through the normal
write path, and says which event type's route is incomplete."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from conftest import Clock, event, make_engine, put_items, toy_items
from rescore.db.schema import history
from rescore.engine import Engine
from rescore.reconcile import reconcile
from rescore.reports import Observer
from rescore.testing import drain


def drifted_engine(tmp_path: Path, clock: Clock) -> Engine:
    """x, y, z scored; then x's source changes both a and b, but the event announcing it
    (a_changed) routes to a_score only, so b_score (and total) silently drift."""
    engine = make_engine(tmp_path / "r.db", clock=clock)
    put_items(engine, x=(10, 20), y=(1, 2), z=(5, 5))
    engine.recompute("toy", ["x", "y", "z"])
    with engine.source.begin() as conn:
        conn.execute(toy_items.update().where(toy_items.c.key == "x").values(a=11, b=70))
    engine.ingest([event("e1", "a_changed", "x")])
    drain(engine)
    assert engine.current("toy", "x")["b_score"].value == 20, "the drift this test is about"
    return engine


def test_drift_is_reported_by_scorer_and_by_the_event_that_last_touched_it(
    tmp_path: Path, clock: Clock
) -> None:
    engine = drifted_engine(tmp_path, clock)
    report = reconcile(engine, "toy", repair=False)
    assert report.checked == 3
    assert report.drifted_entities == 1
    assert dict(report.by_scorer) == {"b_score": 1, "total": 1}
    assert dict(report.by_event_type) == {"a_changed": 1}
    assert {(d.entity, d.scorer, d.stored, d.fresh) for d in report.examples} == {
        ("x", "b_score", 20.0, 70.0),
        ("x", "total", 31.0, 81.0),
    }
    assert report.repaired == 0
    assert engine.current("toy", "x")["b_score"].value == 20, "--no-repair changes nothing"


def test_repair_goes_through_the_write_path_and_history_says_why(
    tmp_path: Path, clock: Clock
) -> None:
    engine = drifted_engine(tmp_path, clock)
    heard: list[int] = []

    class Metric(Observer):
        def reconciled(self, report: object) -> None:
            heard.append(getattr(report, "repaired"))  # noqa: B009

    engine.observers.append(Metric())
    report = reconcile(engine, "toy")
    assert report.repaired == 1
    assert heard == [1], "observers (metrics) hear how many were repaired"
    assert engine.current("toy", "x")["b_score"].value == 70
    with engine.db.read() as conn:
        triggers = conn.execute(
            sa.select(history.c.scorer, history.c.trigger).where(
                history.c.entity == "x", history.c.trigger == "reconciliation"
            )
        ).all()
    assert sorted(triggers) == [("b_score", "reconciliation"), ("total", "reconciliation")]
    assert reconcile(engine, "toy").drifted_entities == 0, "repaired means equal to a recompute"


def test_an_unscored_entity_is_drift_and_gets_scored(tmp_path: Path, clock: Clock) -> None:
    engine = make_engine(tmp_path / "u.db", clock=clock)
    put_items(engine, x=(10, 20))
    report = reconcile(engine, "toy")
    assert report.drifted_entities == 1
    assert {d.stored for d in report.examples} == {None}
    assert engine.current("toy", "x")["total"].value == 30


def test_a_freshly_scored_population_has_no_drift(tmp_path: Path) -> None:
    """No false positives, for the per-entity form (credit) and the vectorized one (leads)."""
    from rich.console import Console

    from rescore.bootstrap import open_engine
    from rescore.demo import prepare_pack
    from rescore.settings import Settings

    engine = open_engine(Settings(database_url=f"sqlite:///{tmp_path}/p.db"), create=True)
    try:
        engine.migrate()
        for pack in ("credit", "leads"):
            prepare_pack(engine, pack, Console(quiet=True), seed=5, size=150)
            report = reconcile(engine, pack)
            assert report.checked == 150, pack
            assert report.drifted_entities == 0, (pack, report.examples[:3])
            assert not report.failures
    finally:
        engine.close()
