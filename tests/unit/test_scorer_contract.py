"""One contract, every registered scorer of every installed pack: deterministic, in range, and
its components add up to its value. Inputs come from each pack's own demo data and loader."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from rescore.plugins import Pack, discover
from rescore.scoring import ScoreResult, ScorerGraph, check_result, evaluate

REGISTRY = discover()
PACKS = [REGISTRY[name] for name in REGISTRY.names]
SAMPLE = 120


@pytest.fixture(scope="module", params=PACKS, ids=lambda p: p.name)
def sampled(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Pack, ScorerGraph, list[dict[str, object]]]]:
    pack: Pack = request.param
    graph = REGISTRY.graph(pack.name)
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        pack.source_metadata().create_all(conn)
        pack.generate_demo_data(conn, seed=11, size=SAMPLE)
        keys = list(pack.entity_keys(conn))
        inputs = pack.load_inputs(conn, keys, graph.parts(graph.order))
    yield pack, graph, [inputs[k] for k in keys]
    engine.dispose()


def test_every_scorer_keeps_the_contract(
    sampled: tuple[Pack, ScorerGraph, list[dict[str, object]]],
) -> None:
    _pack, graph, inputs = sampled
    assert len(inputs) == SAMPLE
    for entity_inputs in inputs:
        results = evaluate(graph, entity_inputs)
        assert set(results) == set(graph.order)
        for name, result in results.items():
            check_result(graph[name], result)
            assert graph[name].min_value <= result.value <= graph[name].max_value
            assert isinstance(result, ScoreResult)


def test_every_candidate_version_keeps_the_contract(
    sampled: tuple[Pack, ScorerGraph, list[dict[str, object]]],
) -> None:
    pack, graph, inputs = sampled
    for scorer in graph:
        for version in REGISTRY.versions(pack.name, scorer.name):
            candidate = REGISTRY.graph_with(pack.name, {scorer.name: version})
            for entity_inputs in inputs[:40]:
                results = evaluate(candidate, entity_inputs)
                for name, result in results.items():
                    check_result(candidate[name], result)


def test_every_scorer_is_deterministic(
    sampled: tuple[Pack, ScorerGraph, list[dict[str, object]]],
) -> None:
    _pack, graph, inputs = sampled
    for entity_inputs in inputs[:40]:
        assert evaluate(graph, entity_inputs) == evaluate(graph, entity_inputs)


def test_every_scorer_is_named_versioned_and_documented() -> None:
    for pack in PACKS:
        for scorer in REGISTRY.graph(pack.name):
            assert scorer.name
            assert scorer.version
            assert scorer.max_value > scorer.min_value
            assert (scorer.description or type(scorer).__doc__ or "").strip(), scorer.name
