"""Recompute: dependency order, selective rescoring, the watermark, explain and time travel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import AScore, BScore, Clock, Total, ToyPack, event, make_engine, put_items
from rescore.db.schema import history
from rescore.engine import Engine, IngestResult, Observer, Outcome
from rescore.exceptions import EntityNotFound, PluginError, ScoringError
from rescore.scoring import Inputs, Scorer, ScoreResult, ScorerGraph, check_result, evaluate
from rescore.store import Computed


def history_rows(engine: Engine) -> int:
    with engine.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(history)).scalar_one())


def test_dependency_order_runs_dependencies_first() -> None:
    graph = ScorerGraph("toy", [Total(), BScore(), AScore()])
    assert graph.order.index("total") > max(
        graph.order.index("a_score"), graph.order.index("b_score")
    )
    assert graph.affected(["a_score"]) == tuple(n for n in graph.order if n in {"a_score", "total"})


def test_dependent_reads_stored_results_of_unaffected_dependencies() -> None:
    graph = ScorerGraph("toy", [Total(), BScore(), AScore()])
    stored = {"b_score": ScoreResult(value=40.0, components={"b": 40.0})}
    results = evaluate(graph, {"item": {"a": 5, "b": 99}}, ["a_score", "total"], stored)
    assert set(results) == {"a_score", "total"}, "b_score is known, so it must not run"
    assert results["total"].value == 45.0


def test_missing_dependency_is_computed() -> None:
    graph = ScorerGraph("toy", [Total(), BScore(), AScore()])
    results = evaluate(graph, {"item": {"a": 5, "b": 6}}, ["total"])
    assert results["total"].value == 11.0
    assert set(results) == {"a_score", "b_score", "total"}


def test_graph_refuses_cycles_unknown_dependencies_and_duplicates() -> None:
    class Loop(Total):
        name = "a_score"
        depends_on = ("total",)

    with pytest.raises(PluginError, match="cycle"):
        ScorerGraph("toy", [Total(), BScore(), Loop()])
    with pytest.raises(PluginError, match="unknown 'a_score'"):
        ScorerGraph("toy", [Total(), BScore()])
    with pytest.raises(PluginError, match="registered twice"):
        ScorerGraph("toy", [AScore(), AScore()])


def test_contract_check_refuses_bad_results() -> None:
    scorer = AScore()
    with pytest.raises(ScoringError, match="outside"):
        check_result(scorer, ScoreResult(value=101.0))
    with pytest.raises(ScoringError, match="add up"):
        check_result(scorer, ScoreResult(value=10.0, components={"a": 3.0}))
    with pytest.raises(ScoringError, match="non-finite"):
        check_result(scorer, ScoreResult(value=float("nan")))


def test_only_affected_scorers_and_dependents_rerun(engine: Engine) -> None:
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x")])
    engine.work("w")
    put_items(engine, x=(10, 35))
    engine.ingest([event("e2", "b_changed", "x")])
    (outcome,) = engine.work("w").outcomes
    assert [c.scorer for c in outcome.changes] == ["b_score", "total"]
    assert engine.current("toy", "x")["total"].value == 45


def test_unchanged_score_writes_no_history(engine: Engine) -> None:
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x")])
    engine.work("w")
    before = history_rows(engine)
    engine.ingest([event("e2", "a_changed", "x")])  # the source did not change
    (outcome,) = engine.work("w").outcomes
    assert outcome.changes == ()
    assert history_rows(engine) == before
    assert engine.current("toy", "x")["a_score"].watermark == 2, "freshness still advances"


def test_stale_write_is_dropped(engine: Engine) -> None:
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "a_changed", "x")])
    engine.work("w")
    assert engine.current("toy", "x")["a_score"].watermark == 2
    stale = Computed(
        pack="toy",
        entity="x",
        results={"a_score": ScoreResult(value=99.0, components={"a": 99.0})},
        versions={"a_score": "1"},
        watermark=1,
    )
    with engine.db.begin() as conn:
        written = engine.store.write(conn, [stale], engine.clock())
    assert written == []
    assert engine.current("toy", "x")["a_score"].value == 10


def test_history_keeps_before_after_deltas_events_and_version(engine: Engine, clock: Clock) -> None:
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x")])
    engine.work("w")
    clock.advance(60)
    put_items(engine, x=(30, 20))
    engine.ingest([event("e2", "a_changed", "x", reason="promo")])
    engine.work("w")
    found = engine.explain("toy", "x")
    latest = found.changes[0]
    assert (latest.scorer, latest.before, latest.after) == ("total", 30.0, 50.0)
    assert latest.deltas == {"a": 20.0, "b": 0.0}
    assert latest.event_ids == ("e2",)
    assert latest.version == "1"
    assert found.causes["e2"].payload == {"reason": "promo"}
    assert found.current["total"].value == 50


def test_as_of_returns_the_score_in_force_then(engine: Engine, clock: Clock) -> None:
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x")])
    engine.work("w")
    first = clock()
    clock.advance(3600)
    put_items(engine, x=(90, 20))
    engine.ingest([event("e2", "a_changed", "x")])
    engine.work("w")
    assert engine.as_of("toy", "x", first)["total"].after == 30
    assert engine.as_of("toy", "x", first)["total"].components == {"a": 10.0, "b": 20.0}
    assert engine.as_of("toy", "x", clock())["total"].after == 110
    with pytest.raises(EntityNotFound):
        engine.as_of("toy", "x", first.replace(year=2020))


def test_unknown_entity_in_source_fails_into_retry(engine: Engine) -> None:
    engine.ingest([event("e1", "a_changed", "ghost")])
    report = engine.work("w")
    assert "no item 'ghost'" in report.failures[0].error


def test_recompute_scores_every_scorer_and_reports_missing(engine: Engine) -> None:
    put_items(engine, x=(1, 2), y=(3, 4))
    report = engine.recompute("toy", ["x", "y", "nobody"])
    assert sorted(o.entity for o in report.outcomes) == ["x", "y"]
    assert [f.work.entity for f in report.failures] == ["nobody"]
    assert engine.current("toy", "y")["total"].value == 7


def test_one_failing_entity_does_not_sink_its_batch(engine: Engine) -> None:
    put_items(engine, x=(-5, 0), y=(3, 4))
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "a_changed", "y")])
    report = engine.work("w")
    assert [o.entity for o in report.outcomes] == ["y"]
    assert [f.work.entity for f in report.failures] == ["x"]


def test_loader_reads_only_the_parts_the_planned_scorers_need(tmp_path: Path) -> None:
    seen: list[frozenset[str]] = []

    class Spy(ToyPack):
        def load_inputs(
            self, conn: sa.Connection, entities: Sequence[str], parts: frozenset[str]
        ) -> dict[str, dict[str, object]]:
            seen.append(parts)
            return super().load_inputs(conn, entities, parts)

    class Extra(Scorer):
        name = "extra"
        version = "1"
        inputs = frozenset({"other"})
        max_value = 1.0

        def score(self, inputs: Inputs) -> ScoreResult:
            return ScoreResult(value=0.0)

    class SpyWithExtra(Spy):
        def register_scorers(self) -> Sequence[Scorer]:
            return [*super().register_scorers(), Extra()]

        def register_event_types(self) -> Mapping[str, object]:  # type: ignore[override]
            return super().register_event_types()

    engine = make_engine(tmp_path / "spy.db", [SpyWithExtra()])
    put_items(engine, x=(1, 1))
    engine.recompute("toy", ["x"])
    engine.ingest([event("e1", "a_changed", "x")])
    engine.work("w")
    assert seen == [frozenset({"item", "other"}), frozenset({"item"})]
    engine.close()


def test_tenants_are_isolated(engine: Engine) -> None:
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x")], tenant="acme")
    again = engine.ingest([event("e1", "a_changed", "x")], tenant="globex")
    assert again.accepted == 1, "event ids are unique per tenant, not across tenants"
    engine.work("w")
    assert engine.current("toy", "x", tenant="acme")["total"].value == 30
    assert engine.explain("toy", "x", tenant="globex").changes[0].event_ids == ("e1",)
    with pytest.raises(EntityNotFound):
        engine.current("toy", "x")  # the default tenant has no scores
    with engine.db.read() as conn:
        assert engine.queue.counts(conn, tenant="acme") == {"critical": 0, "normal": 0, "dead": 0}


def test_recompute_leaves_an_entity_a_worker_is_rescoring_to_that_worker(engine: Engine) -> None:
    put_items(engine, x=(10, 20), y=(1, 1))
    engine.ingest([event("e1", "a_changed", "x")])
    with engine.db.begin() as conn:
        engine.queue.claim(conn, "busy-worker", engine.clock(), lane=None, limit=10)
    report = engine.recompute("toy", ["x", "y"])
    by_entity = {o.entity: o for o in report.outcomes}
    assert by_entity["x"].stale, "x is being rescored by busy-worker"
    assert not by_entity["y"].stale
    assert history_rows(engine) == 3, "only y's three scorers were written"


def test_a_failing_observer_never_turns_a_stored_event_into_an_error(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Hooks run after the commit: what was stored stays stored and the caller hears success."""

    class Broken(Observer):
        def ingested(self, result: IngestResult) -> None:
            raise RuntimeError("metrics backend down")

        def recomputed(self, outcomes: Sequence[Outcome]) -> None:
            raise RuntimeError("cache down")

    seen: list[int] = []

    class Counting(Observer):
        def ingested(self, result: IngestResult) -> None:
            seen.append(result.accepted)

    engine.observers.extend([Broken(), Counting()])
    put_items(engine, x=(10, 20))
    result = engine.ingest([event("e1", "a_changed", "x")])
    assert result.accepted == 1
    assert seen == [1], "the observers after the broken one still run"
    report = engine.work("w")
    assert report.outcomes, "a failing recomputed hook does not undo the write"
    assert engine.current("toy", "x")["total"].value == 30
    assert "metrics backend down" in caplog.text
    assert "cache down" in caplog.text
