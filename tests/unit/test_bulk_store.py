"""The score store's bulk write on SQLite: the same scores and history as the per-entity
write, nothing written by an unchanged re-run, a newer watermark never overwritten, and the
population rescoring that uses it (see ``tests/bulk_checks.py``; the same checks run on
PostgreSQL and MariaDB in ``tests/integration/test_bulk_servers.py``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Connection

from bulk_checks import (
    check_an_entity_is_stale_whole,
    check_bulk_equals_per_entity,
    check_newer_watermark_is_never_overwritten,
    check_unchanged_rerun_writes_nothing,
    computed,
    rounds,
)
from conftest import make_engine
from rescore.engine import Engine
from rescore.exceptions import PluginError
from rescore.plugins import Pack
from rescore.population import vectorized
from rescore.reports import Observer, Outcome
from rescore.scoring import ScoreResult


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


def test_an_unchanged_rerun_writes_nothing(store: Engine) -> None:
    check_unchanged_rerun_writes_nothing(store)


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
    store.write_scores(batch, bulk=True)
    assert sorted(seen) == sorted(c.entity for c in batch)
    assert sorted(within) == sorted((c.entity, True) for c in batch)  # the automations' hook
    seen.clear()
    within.clear()
    again = [computed(c.entity, dict(c.results), c.watermark, dict(c.versions)) for c in batch]
    again[0] = computed(again[0].entity, {"fit": ScoreResult(value=1.0)}, again[0].watermark)
    assert len(store.write_scores(again, bulk=True)) == len(batch)  # none stale
    assert seen == [again[0].entity]  # only the one that changed
    assert within == [(again[0].entity, True)]


def test_a_pack_without_the_vectorized_hooks_has_none(store: Engine) -> None:
    toy = store.registry["toy"]
    assert vectorized(toy) is None
    with pytest.raises(PluginError, match="offers no vectorized form"):
        toy.population_size(None)  # type: ignore[arg-type]


def test_a_pack_with_only_one_vectorized_hook_is_refused(store: Engine) -> None:
    half = type("Half", (type(store.registry["toy"]),), {"results_of": Pack.score_population})
    with pytest.raises(PluginError, match="both score_population and results_of"):
        vectorized(half())
