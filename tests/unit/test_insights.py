"""The dashboard's aggregate reads (engine operations over :mod:`rescore.insights`): event
rate, score distribution in SQL bins, biggest recent moves, the week's biggest falls, search
by key prefix."""

from __future__ import annotations

import pytest

from conftest import Clock, event, put_items
from rescore.engine import Engine
from rescore.exceptions import InvalidInput
from rescore.testing import drain


def scored(engine: Engine, **items: tuple[int, int]) -> None:
    put_items(engine, **items)
    engine.recompute("toy", list(items))


def test_the_headline_scorer_is_the_last_in_dependency_order(engine: Engine) -> None:
    assert engine.headline_scorer("toy") == "total"


def test_distribution_counts_in_equal_bins_over_the_declared_range(engine: Engine) -> None:
    scored(engine, w=(10, 20), x=(20, 10), y=(100, 50), z=(100, 100))  # totals 30 30 150 200
    bins = engine.score_distribution("toy", bins=10)
    assert [(b.low, b.high) for b in bins[:2]] == [(0, 20), (20, 40)]
    assert {i: b.count for i, b in enumerate(bins) if b.count} == {1: 2, 7: 1, 9: 1}
    a_bins = engine.score_distribution("toy", "a_score", bins=4)  # 0-100 in 25s
    assert [b.count for b in a_bins] == [2, 0, 0, 2]
    with pytest.raises(InvalidInput) as refused:
        engine.score_distribution("toy", "nope")
    assert refused.value.field == "scorer"


def test_recent_moves_rank_changes_by_size_and_first_scores_do_not_move(engine: Engine) -> None:
    scored(engine, x=(10, 20), y=(100, 50))
    put_items(engine, x=(70, 20), y=(90, 50))
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "a_changed", "y")])
    drain(engine)
    moves = engine.recent_moves(limit=4)
    assert [(m.entity, m.scorer, m.delta) for m in moves[:2]] in (
        [("x", "total", 60.0), ("x", "a_score", 60.0)],
        [("x", "a_score", 60.0), ("x", "total", 60.0)],
    )
    assert {(m.entity, m.delta) for m in moves[2:]} == {("y", -10.0)}
    assert engine.recent_moves(limit=2, offset=4) == [], "first scores are not moves"


def test_biggest_falls_sum_a_weeks_changes_of_the_headline_score(
    engine: Engine, clock: Clock
) -> None:
    scored(engine, x=(10, 20), y=(100, 50), z=(50, 50))
    for a, eid in ((60, "e1"), (40, "e2")):  # y: 150 -> 110 -> 90
        put_items(engine, y=(a, 50), x=(20, 20))
        engine.ingest([event(f"{eid}y", "a_changed", "y"), event(f"{eid}x", "a_changed", "x")])
        drain(engine)
    falls = engine.biggest_falls("toy")
    assert [(f.entity, f.delta, f.changes) for f in falls] == [("y", -60.0, 3)]
    clock.advance(8 * 86400)
    assert engine.biggest_falls("toy") == []


def test_entities_are_found_by_key_prefix_a_page_at_a_time(engine: Engine) -> None:
    scored(engine, ab1=(1, 1), ab2=(1, 1), abc=(1, 1), b=(1, 1))
    assert engine.find_entities("toy", "ab") == ["ab1", "ab2", "abc"]
    assert engine.find_entities("toy", "ab", limit=1, offset=1) == ["ab2"]
    assert engine.find_entities("toy", "zz") == []


def test_event_rate_counts_the_last_minute_by_pack(engine: Engine, clock: Clock) -> None:
    put_items(engine, x=(1, 1))
    engine.ingest([event(f"e{i}", "noted", "x") for i in range(3)])
    rates, saturated = engine.event_rate()
    assert rates == {"toy": pytest.approx(3 / 60)}
    assert not saturated
    clock.advance(120)
    assert engine.event_rate()[0] == {}
