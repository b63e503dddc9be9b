"""The lookup cache: invalidated by writes, never repopulated by a read older than a write."""

from __future__ import annotations

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
