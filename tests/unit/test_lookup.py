"""The lookup cache: invalidated by writes, never repopulated by a read older than a write."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import event, put_items
from lookup_read import assert_one_read_agrees
from rescore.api.lookup import Lookup
from rescore.engine import Engine
from rescore.exceptions import EntityNotFound, StorageUnavailable


@pytest.fixture
def lookup(engine: Engine, tmp_path: Path) -> Lookup:
    found = Lookup(engine, ttl=60, snapshot_dir=tmp_path / "snap")
    engine.observers.append(found)
    put_items(engine, x=(10, 20))
    engine.ingest([event("e1", "a_changed", "x")])
    engine.work("w")
    return found


def test_hit_after_a_read_and_dropped_by_a_write(engine: Engine, lookup: Lookup) -> None:
    key = ("default", "toy", "x")
    assert lookup.get(key)["source"] == "database"
    assert lookup.get(key)["source"] == "cache"
    put_items(engine, x=(50, 20))
    engine.ingest([event("e2", "a_changed", "x")])
    pending = lookup.get(key)
    assert (pending["source"], pending["stale"], pending["pending"]) == ("database", True, True)
    engine.work("w")
    fresh = lookup.get(key)
    assert fresh["scores"]["total"]["value"] == 70
    assert fresh["stale"] is False


def test_a_read_overtaken_by_a_write_is_not_cached(engine: Engine, lookup: Lookup) -> None:
    key = ("default", "toy", "x")
    original = lookup._from_database

    def read_then_a_write_lands(k: Any) -> dict[str, Any]:
        view = original(k)  # reads the old score...
        put_items(engine, x=(90, 20))
        engine.ingest([event("e3", "a_changed", "x")])
        engine.work("w")  # ...and the new one commits before we could cache the old
        return view

    lookup._from_database = read_then_a_write_lands  # type: ignore[method-assign]
    old = lookup.get(key)
    lookup._from_database = original  # type: ignore[method-assign]
    assert old["scores"]["total"]["value"] == 30
    assert lookup.get(key)["scores"]["total"]["value"] == 110, "the old read was not cached"


def test_unknown_entity_is_not_found(lookup: Lookup) -> None:
    with pytest.raises(EntityNotFound):
        lookup.get(("default", "toy", "nobody"))


def test_once_the_database_is_known_down_every_answer_is_stale(
    engine: Engine, lookup: Lookup
) -> None:
    key = ("default", "toy", "x")
    assert lookup.get(key)["stale_since"] is None
    assert lookup.get(key)["source"] == "cache"
    # a worker's poll fails the way the driver does when the server is gone (the real outage
    # is in tests/integration/test_api_outage.py): from now on the engine knows
    with pytest.raises(StorageUnavailable), engine.db.read():
        raise StorageUnavailable("database unavailable: connection refused")
    down = engine.unreachable_since()
    assert down is not None
    hit = lookup.get(key)
    assert (hit["source"], hit["stale"], hit["stale_since"]) == ("cache", True, down.isoformat())
    assert engine.pending_counts()["critical"] == 0  # the next good transaction: it is back
    assert engine.unreachable_since() is None
    assert (lookup.get(key)["stale"], lookup.get(key)["stale_since"]) == (False, None)


def test_the_database_read_is_one_statement_that_agrees_with_two(engine: Engine) -> None:
    assert_one_read_agrees(engine)


# the TTL as a safety net: jittered, served while one refresh re-reads --------------------

TTL = 60.0
KEY = ("default", "toy", "x")


class Tick:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def controlled(
    engine: Engine, tmp_path: Path, tick: Tick, tasks: list[Callable[[], None]]
) -> Lookup:
    """A lookup on the test's clock whose background refreshes wait in ``tasks``."""
    found = Lookup(
        engine,
        ttl=TTL,
        snapshot_dir=tmp_path / "snap",
        clock=tick,
        rng=random.Random(7),
        submit=tasks.append,
    )
    engine.observers.append(found)
    return found


@contextmanager
def behind_its_back(engine: Engine, lookup: Lookup) -> Iterator[None]:
    """Writes this lookup does not see, as another process's are."""
    engine.observers.remove(lookup)
    try:
        yield
    finally:
        engine.observers.append(lookup)


def rescored(engine: Engine, n: int, value: tuple[int, int]) -> None:
    put_items(engine, x=value)
    engine.ingest([event(f"r{n}", "a_changed", "x")])
    engine.work("w")


def test_jitter_spreads_expiries(engine: Engine, tmp_path: Path) -> None:
    tick, tasks = Tick(), list[Callable[[], None]]()
    names = [f"k{i}" for i in range(40)]
    put_items(engine, **dict.fromkeys(names, (1, 2)))
    engine.ingest([event(f"e-{n}", "a_changed", n) for n in names])
    engine.work("w")
    lookup = controlled(engine, tmp_path, tick, tasks)
    keys = [("default", "toy", n) for n in names]
    assert all(lookup.get(k)["source"] == "database" for k in keys)  # all cached at once

    def due_after(seconds: float) -> int:
        tick.now = 1000.0 + seconds
        before = len(tasks)
        assert all(lookup.cached(k) is not None for k in keys), "nothing expires outright"
        return len(tasks) - before

    assert due_after(0.74 * TTL) == 0
    midway = due_after(0.875 * TTL)
    assert 5 < midway < 35, "some entries come due before the others"
    assert due_after(TTL) == len(keys) - midway, "by the TTL every entry has come due once"


def test_a_soft_expired_entry_is_served_and_refreshed_once(engine: Engine, tmp_path: Path) -> None:
    rescored(engine, 0, (10, 20))
    tick = Tick()
    lookup = Lookup(engine, ttl=TTL, snapshot_dir=tmp_path / "snap", clock=tick)
    engine.observers.append(lookup)
    assert lookup.get(KEY)["scores"]["total"]["value"] == 30
    with behind_its_back(engine, lookup):
        rescored(engine, 1, (40, 20))
    original, reads, release = lookup._from_database, list[int](), threading.Event()

    def slow_read(key: Any) -> dict[str, Any]:
        reads.append(1)
        release.wait(30)  # held until every reader has been answered
        return original(key)

    lookup._from_database = slow_read  # type: ignore[method-assign]
    tick.now += TTL + 1  # past the soft TTL, inside the hard one
    with ThreadPoolExecutor(8) as readers:
        answers = list(readers.map(lambda _: lookup.get(KEY), range(200)))
    release.set()
    lookup.close()  # waits for the refresh
    assert {(a["source"], a["scores"]["total"]["value"], a["stale"]) for a in answers} == {
        ("cache", 30, False)
    }
    assert len(reads) == 1, "one refresh for 200 concurrent readers"
    fresh = lookup.get(KEY)
    assert (fresh["source"], fresh["scores"]["total"]["value"]) == ("cache", 60)
    assert len(reads) == 1, "the refreshed entry is fresh again"


def test_past_the_hard_ttl_a_lookup_reads_again(engine: Engine, tmp_path: Path) -> None:
    rescored(engine, 0, (10, 20))
    tick, tasks = Tick(), list[Callable[[], None]]()
    lookup = controlled(engine, tmp_path, tick, tasks)
    lookup.get(KEY)
    tick.now += 2 * TTL + 1
    assert lookup.cached(KEY) is None
    assert lookup.get(KEY)["source"] == "database"
    assert tasks == []


def test_an_invalidated_entry_is_never_served_again(engine: Engine, tmp_path: Path) -> None:
    rescored(engine, 0, (10, 20))
    tick, tasks = Tick(), list[Callable[[], None]]()
    lookup = controlled(engine, tmp_path, tick, tasks)
    lookup.get(KEY)
    tick.now += TTL + 1
    assert lookup.cached(KEY) is not None
    original = lookup._from_database

    def read_then_a_write_lands(key: Any) -> dict[str, Any]:
        view = original(key)  # the refresh reads the old score...
        rescored(engine, 1, (90, 20))  # ...and a write commits before it could cache it
        return view

    lookup._from_database = read_then_a_write_lands  # type: ignore[method-assign]
    (refresh,) = tasks
    refresh()
    lookup._from_database = original  # type: ignore[method-assign]
    assert lookup.cached(KEY) is None, "neither the invalidated entry nor the old read"
    assert lookup.get(KEY)["scores"]["total"]["value"] == 110


def test_freshness_fields_of_a_soft_expired_hit(engine: Engine, tmp_path: Path) -> None:
    rescored(engine, 0, (10, 20))
    tick, tasks = Tick(), list[Callable[[], None]]()
    lookup = controlled(engine, tmp_path, tick, tasks)
    lookup.get(KEY)
    tick.now += TTL + 1
    hit = lookup.get(KEY)
    assert (hit["source"], hit["stale"], hit["stale_since"], hit["pending"]) == (
        "cache",
        False,
        None,
        False,
    )
    with pytest.raises(StorageUnavailable), engine.db.read():
        raise StorageUnavailable("database unavailable: connection refused")
    down = engine.unreachable_since()
    assert down is not None
    hit = lookup.get(KEY)
    assert (hit["source"], hit["stale"], hit["stale_since"]) == ("cache", True, down.isoformat())
    assert len(tasks) == 1, "still one refresh in flight"


def test_a_refresh_that_cannot_reach_the_database_keeps_the_entry(
    engine: Engine, tmp_path: Path
) -> None:
    rescored(engine, 0, (10, 20))
    tick, tasks = Tick(), list[Callable[[], None]]()
    lookup = controlled(engine, tmp_path, tick, tasks)
    lookup.get(KEY)
    tick.now += TTL + 1
    lookup.cached(KEY)

    def unreachable(key: Any) -> dict[str, Any]:
        raise StorageUnavailable("database unavailable: connection refused")

    lookup._from_database = unreachable  # type: ignore[method-assign]
    tasks.pop()()
    hit = lookup.cached(KEY)
    assert hit is not None
    assert hit["scores"]["total"]["value"] == 30
    assert len(tasks) == 1, "the next reader tries again"


def test_a_refresh_that_finds_work_pending_drops_the_entry(engine: Engine, tmp_path: Path) -> None:
    rescored(engine, 0, (10, 20))
    tick, tasks = Tick(), list[Callable[[], None]]()
    lookup = controlled(engine, tmp_path, tick, tasks)
    lookup.get(KEY)
    with behind_its_back(engine, lookup):
        engine.ingest([event("e9", "a_changed", "x")])  # another process's event, not scored
    tick.now += TTL + 1
    assert lookup.cached(KEY) is not None
    tasks.pop()()
    answer = lookup.get(KEY)
    assert (answer["source"], answer["pending"], answer["stale"]) == ("database", True, True)
