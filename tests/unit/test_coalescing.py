"""Property: any interleaving of events over K entities costs at most K recomputes per flush,
and the scores end where a recompute from scratch puts them."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ToyPack, event, put_items
from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.plugins import PackRegistry
from rescore.scoring import evaluate
from rescore.settings import Settings

ENTITIES = ["e0", "e1", "e2", "e3", "e4"]

step = st.one_of(
    st.tuples(st.just("flush"), st.none(), st.none(), st.none()),
    st.tuples(
        st.just("event"),
        st.sampled_from(ENTITIES),
        st.sampled_from(["a_changed", "b_changed", "noted"]),
        st.integers(0, 150),
    ),
)


def fresh_engine() -> Engine:
    settings = Settings(database_url="sqlite://", batch_size=2)
    engine = Engine(Database("sqlite://"), PackRegistry([ToyPack()]), settings)
    engine.migrate()
    return engine


def flush(engine: Engine) -> int:
    """Drain the queue like one flush does; return how many entities were recomputed."""
    recomputed = 0
    while report := engine.work("w"):
        if not report.claimed:
            break
        recomputed += len(report.outcomes)
    return recomputed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, max_size=60), k=st.integers(1, len(ENTITIES)))
def test_any_interleaving_costs_at_most_k_per_flush_and_matches_scratch(
    steps: list[tuple[str, str | None, str | None, int | None]], k: int
) -> None:
    engine = fresh_engine()
    try:
        entities = ENTITIES[:k]
        put_items(engine, **dict.fromkeys(entities, (0, 0)))
        source = {e: [0, 0] for e in entities}
        scored: set[str] = set()
        for n, (kind, entity, type_, value) in enumerate(steps):
            if kind == "flush":
                assert flush(engine) <= k
                continue
            assert entity is not None
            assert type_ is not None
            assert value is not None
            entity = entities[ENTITIES.index(entity) % k]
            if type_ != "noted":
                source[entity][0 if type_ == "a_changed" else 1] = value
                put_items(engine, **{entity: (source[entity][0], source[entity][1])})
                scored.add(entity)
            engine.ingest([event(f"ev{n}", type_, entity)])
        assert flush(engine) <= k
        graph = engine.registry.graph("toy")
        for entity in scored:
            scratch = evaluate(graph, {"item": {"a": source[entity][0], "b": source[entity][1]}})
            stored = engine.current("toy", entity)
            assert {n: s.value for n, s in stored.items()} == {
                n: r.value for n, r in scratch.items()
            }
        with engine.db.read() as conn:
            assert engine.queue.counts(conn) == {"critical": 0, "normal": 0, "dead": 0}
    finally:
        engine.close()
