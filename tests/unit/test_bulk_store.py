"""The score store's bulk write on SQLite: the same scores and history as the per-entity
write, nothing written by an unchanged re-run, a newer watermark never overwritten, and the
population rescoring that uses it (see ``tests/bulk_checks.py``; the same checks run on
PostgreSQL and MariaDB in ``tests/integration/test_bulk_servers.py``)."""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection

from bulk_checks import (
    check_an_entity_is_stale_whole,
    check_awkward_text_round_trips,
    check_bulk_equals_per_entity,
    check_first_insert_equals_per_entity,
    check_newer_watermark_is_never_overwritten,
    check_unchanged_rerun_writes_nothing,
    computed,
    rounds,
    staged,
)
from conftest import make_engine
from rescore.automations import parse_rules
from rescore.db.engine import json_dumps
from rescore.engine import Engine
from rescore.exceptions import PluginError, ScoringError
from rescore.metrics import Metrics
from rescore.plugins import Pack
from rescore.population import _in_order, _keys, encoded, results_of, vectorized
from rescore.reports import BulkOutcomes, Observer, Outcome
from rescore.scoring import ScoreResult
from rescore.store import BulkWritten


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(tmp_path / "bulk.db")
    yield engine
    engine.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_and_per_entity_writes_store_the_same(tmp_path: Path, seed: int) -> None:
    per_entity, bulk = make_engine(tmp_path / "a.db"), make_engine(tmp_path / "b.db")
    check_bulk_equals_per_entity(per_entity, bulk, seed)
    per_entity.close()
    bulk.close()


@pytest.mark.parametrize("seed", [4, 5])
def test_a_first_runs_straight_insert_stores_what_the_per_entity_write_does(
    tmp_path: Path, seed: int
) -> None:
    per_entity, bulk = make_engine(tmp_path / "a.db"), make_engine(tmp_path / "b.db")
    check_first_insert_equals_per_entity(per_entity, bulk, seed)
    per_entity.close()
    bulk.close()


def test_an_unchanged_rerun_writes_nothing(store: Engine) -> None:
    check_unchanged_rerun_writes_nothing(store)


def test_awkward_keys_and_texts_round_trip(store: Engine) -> None:
    check_awkward_text_round_trips(store)


def test_a_newer_watermark_is_never_overwritten(store: Engine) -> None:
    check_newer_watermark_is_never_overwritten(store)


def test_an_entity_is_stale_whole(store: Engine) -> None:
    check_an_entity_is_stale_whole(store)


def test_the_write_and_commit_hooks_see_the_entities_that_changed(store: Engine) -> None:
    seen: list[str] = []
    within: list[tuple[str, bool]] = []  # (entity, inside the write's transaction)

    class Seen(Observer):
        def writing(self, conn: Connection, outcomes: Sequence[Outcome]) -> None:
            within.extend((o.entity, conn.in_transaction()) for o in outcomes)

        def recomputed(self, outcomes: Sequence[Outcome]) -> None:
            seen.extend(o.entity for o in outcomes)

    store.observers.append(Seen())
    batch = rounds(3, 1)[0]
    store.write_population("toy", staged(batch))
    assert sorted(seen) == sorted(c.entity for c in batch)
    assert sorted(within) == sorted((c.entity, True) for c in batch)  # the automations' hook
    seen.clear()
    within.clear()
    again = [computed(c.entity, dict(c.results), c.watermark, dict(c.versions)) for c in batch]
    again[0] = computed(again[0].entity, {"fit": ScoreResult(value=1.0)}, again[0].watermark)
    assert not store.write_population("toy", staged(again)).stale
    assert seen == [again[0].entity]  # only the one that changed
    assert within == [(again[0].entity, True)]


def test_a_pack_without_the_vectorized_hooks_has_none(store: Engine) -> None:
    toy = store.registry["toy"]
    assert vectorized(toy) is None
    with pytest.raises(PluginError, match="offers no vectorized form"):
        toy.population_size(None)  # type: ignore[arg-type]


def test_a_pack_with_only_one_vectorized_hook_is_refused(store: Engine) -> None:
    half = type("Half", (type(store.registry["toy"]),), {"result_frames": Pack.score_population})
    with pytest.raises(PluginError, match="both score_population and result_frames"):
        vectorized(half())


def _frames(values: list[float], **columns: object) -> dict[str, pl.DataFrame]:
    def frame(name: str) -> pl.DataFrame:
        data = {
            "entity": [f"e{i}" for i in range(len(values))],
            "value": values,
            "components": [{"x": v} for v in values],
            "reasons": [["why"]] * len(values),
        }
        return pl.DataFrame(data | dict(columns))

    return {name: frame(name) for name in ("a_score", "b_score", "total")}


def test_result_frames_are_encoded_as_the_per_entity_path_writes_them(store: Engine) -> None:
    graph = store.registry.graph("toy")
    frames = _frames([1.0, 2.5], features=[{"t": "é\n", "n": 1}, {"t": None, "n": 2}])
    rows = encoded(graph, frames, dict.fromkeys(frames, "1"))
    first = rows.filter(pl.col("entity") == "e1").row(0, named=True)
    assert (first["components"], first["reasons"]) == ('{"x":2.5}', '["why"]')
    assert first["features"] == json_dumps({"t": None, "n": 2})
    assert rows.height == 6
    back = dict(results_of(frames))
    assert back["e0"]["a_score"] == ScoreResult(
        value=1.0, components={"x": 1.0}, reasons=("why",), features={"t": "é\n", "n": 1}
    )


def test_result_frames_outside_the_contract_are_refused(store: Engine) -> None:
    graph = store.registry.graph("toy")
    versions = dict.fromkeys(graph.order, "1")
    with pytest.raises(PluginError, match="not its scorers"):
        encoded(graph, {"a_score": _frames([1.0])["a_score"]}, versions)
    shuffled = _frames([1.0, 2.0])
    shuffled["b_score"] = shuffled["b_score"].reverse()
    with pytest.raises(PluginError, match="not row-aligned"):
        encoded(graph, shuffled, versions)
    off = _frames([1.0, 2.0])
    off["a_score"] = off["a_score"].with_columns(pl.Series("components", [{"x": 1.0}, {"x": 9.0}]))
    with pytest.raises(
        ScoringError, match=r"components add up to 9\.0000, not to the value 2\.0000"
    ):
        encoded(graph, off, versions)
    with pytest.raises(ScoringError, match="non-finite"):
        encoded(graph, _frames([float("nan")]), versions)


def test_the_hooks_get_each_changed_entity_with_its_changes_and_values(store: Engine) -> None:
    outcomes: list[Outcome] = []

    class Seen(Observer):
        def recomputed(self, found: Sequence[Outcome]) -> None:
            outcomes.extend(found)

    store.observers.append(Seen())
    first = ScoreResult(value=3.0, components={"base": 1.0, "bonus": 2.0})
    store.write_population("toy", staged([computed("c1", {"fit": first, "risk": first}, 2)]))
    moved = ScoreResult(value=5.0, components={"base": 1.0, "bonus": 4.0})
    store.write_population("toy", staged([computed("c1", {"fit": moved, "risk": first}, 3)]))
    new, again = outcomes
    assert (new.entity, new.values, new.lane, new.stale) == (
        "c1",
        {"fit": 3.0, "risk": 3.0},
        None,
        False,
    )
    assert [(c.scorer, c.before, c.after, dict(c.deltas)) for c in new.changes] == [
        ("fit", None, 3.0, {"base": 1.0, "bonus": 2.0}),
        ("risk", None, 3.0, {"base": 1.0, "bonus": 2.0}),
    ]
    assert again.values == {"fit": 5.0, "risk": 3.0}  # every scorer's, not only the changed
    assert [(c.scorer, c.before, c.after, dict(c.deltas)) for c in again.changes] == [
        ("fit", 3.0, 5.0, {"base": 0.0, "bonus": 2.0})
    ]
    with store.db.read() as conn:
        logged = store.store.history(conn, "toy", "c1", scorer="fit")
    assert [(h.before, h.after, dict(h.deltas), h.trigger) for h in logged] == [
        (3.0, 5.0, {"base": 0.0, "bonus": 2.0}, "population"),
        (None, 3.0, {"base": 1.0, "bonus": 2.0}, "population"),
    ]


def _first_run(engine: Engine, first: bool) -> list[Sequence[Outcome]]:
    """Two entities' first scores through the bulk path, straight in or staged; what the
    observers heard."""
    heard: list[Sequence[Outcome]] = []

    class Seen(Observer):
        def recomputed(self, found: Sequence[Outcome]) -> None:
            heard.append(found)

    engine.observers.append(Seen())
    low, high = (ScoreResult(value=v, components={"base": v}) for v in (1.0, 9.0))
    batch = [
        computed("c1", {"a_score": high, "b_score": low}, 2),
        computed("c2", {"a_score": low}, 3),
    ]
    engine.write_population("toy", staged(batch), first=first)
    return heard


def test_a_first_runs_observers_hear_what_the_staged_path_tells_built_only_when_read(
    tmp_path: Path,
) -> None:
    straight, staged_ = make_engine(tmp_path / "a.db"), make_engine(tmp_path / "b.db")
    (lazy,), (eager,) = _first_run(straight, True), _first_run(staged_, False)
    assert isinstance(lazy, BulkOutcomes)
    assert "_built" not in vars(lazy)  # no rule listens: the rulebook did not read them
    assert (len(lazy), lazy.entities) == (2, ("c1", "c2"))
    assert "_built" not in vars(lazy)
    relayed = pickle.loads(pickle.dumps(lazy))  # a companion process gets them too
    as_seen = [(o.entity, o.changes, dict(o.values), o.lane, o.stale) for o in eager]
    assert [(o.entity, o.changes, dict(o.values), o.lane, o.stale) for o in lazy] == as_seen
    assert [(o.entity, o.changes, dict(o.values)) for o in relayed] == [s[:3] for s in as_seen]
    assert lazy[1].entity == "c2"
    assert [o.entity for o in lazy[:1]] == ["c1"]
    straight.close()
    staged_.close()


def test_a_rule_watching_the_pack_fires_on_a_first_runs_scores(tmp_path: Path) -> None:
    fired = []
    for name, first in (("a.db", True), ("b.db", False)):
        engine = make_engine(tmp_path / name)
        engine.add_rules(parse_rules("""
            name: a-high
            trigger: {kind: score, scorer: a_score, new_component: {above: 5}}
            actions: [{notify: {channel: ops, body: "{{ entity }} {{ after }}"}}]
        """))  # fmt: skip
        _first_run(engine, first)
        fired.append(sorted((f["rule"], f["entity"]) for f in engine.firings()))
        engine.close()
    assert fired[0] == fired[1] == [("a-high", "c1")]


def test_metrics_count_a_first_runs_entities_without_building_outcomes(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "m.db")
    metrics = Metrics()
    engine.observers.append(metrics)
    (heard,) = _first_run(engine, True)
    counted = metrics.registry.get_sample_value(
        "rescore_recomputes_total", {"pack": "toy", "lane": "direct"}
    )
    assert counted == 2
    assert "_built" not in vars(heard)
    engine.close()


def test_a_population_digest_is_two_seeded_row_hashes_in_hex_with_the_watermark() -> None:
    """The digest stays what earlier versions stored (a re-run after an upgrade still finds
    its unchanged entities): 32 hex digits, the high hash first, each seeded from the
    scorers' versions, over the scored row and the entity's newest event."""
    scored = pl.DataFrame(
        {"entity": ["a", "b", "c"], "value": [1.0, 2.5, 2.5], "tag": ["x", "\t", ""]}
    )
    versions = {"fit": "1", "risk": "2"}
    found = _keys(scored, {"b": 7}, versions)
    seed = hashlib.blake2b(repr(sorted(versions.items())).encode(), digest_size=16).digest()
    framed = scored.with_columns(pl.Series("__watermark", [0, 7, 0], dtype=pl.Int64))
    high, low = (framed.hash_rows(seed=int.from_bytes(seed[i : i + 8], "big")) for i in (0, 8))
    expected = [f"{h:016x}{lo:016x}" for h, lo in zip(high, low, strict=True)]
    assert found.rows() == list(zip(["a", "b", "c"], [0, 7, 0], expected, strict=True))
    assert _keys(scored, {}, versions)["digest"][0] == expected[0]
    assert _keys(scored, {}, {"fit": "2", "risk": "2"})["digest"][0] != expected[0]


def test_store_batches_written_in_order_come_back_in_order() -> None:
    """Two writers at once (a server's first run): each result in its batch's order, at most
    two running, and a batch's error raised to the caller."""
    running, most = 0, 0
    lock = threading.Lock()

    def work(part: pl.DataFrame) -> BulkWritten:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02 * (3 - part.height % 3))  # later batches finish sooner
        with lock:
            running -= 1
        if part.height == 7:
            raise ScoringError("batch of 7")
        return BulkWritten(stale=frozenset(), changes={}, values={}, first=part)

    parts = [pl.DataFrame({"entity": [str(i)] * n}) for i, n in enumerate([1, 2, 3, 4, 5])]
    done = list(_in_order(work, parts, 2))
    assert [d.changed for d in done] == [1, 1, 1, 1, 1]
    assert [d.first.height for d in done if d.first is not None] == [1, 2, 3, 4, 5]
    assert most == 2
    with pytest.raises(ScoringError, match="batch of 7"):
        list(_in_order(work, [pl.DataFrame({"entity": ["x"] * 7})], 2))
