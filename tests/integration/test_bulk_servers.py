"""The score store's bulk write on PostgreSQL (COPY into a staging table) and MariaDB
(multi-row INSERT into one): the same scores and history as the per-entity write, nothing
written by an unchanged re-run, a newer watermark never overwritten (``tests/bulk_checks.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import servers

from bulk_checks import (
    check_an_entity_is_stale_whole,
    check_awkward_text_round_trips,
    check_bulk_equals_per_entity,
    check_first_insert_equals_per_entity,
    check_newer_watermark_is_never_overwritten,
    check_unchanged_rerun_writes_nothing,
)
from conftest import ToyPack
from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.plugins import PackRegistry
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database


def _engine(url: str) -> Engine:
    engine = Engine(Database(url), PackRegistry([ToyPack()]), Settings())
    engine.migrate()
    return engine


@pytest.fixture(params=["postgresql", "mariadb"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(make_database: servers.MakeDatabase, kind: str) -> Iterator[Engine]:
    made = _engine(make_database(kind))
    yield made
    made.close()


def test_bulk_and_per_entity_writes_store_the_same(
    make_database: servers.MakeDatabase, kind: str, engine: Engine
) -> None:
    per_entity = _engine(make_database(kind))
    check_bulk_equals_per_entity(per_entity, engine, seed=11)
    per_entity.close()


def test_a_first_runs_straight_insert_stores_what_the_per_entity_write_does(
    make_database: servers.MakeDatabase, kind: str, engine: Engine
) -> None:
    per_entity = _engine(make_database(kind))
    check_first_insert_equals_per_entity(per_entity, engine, seed=12)
    per_entity.close()


def test_an_unchanged_rerun_writes_nothing(engine: Engine) -> None:
    check_unchanged_rerun_writes_nothing(engine)


def test_awkward_keys_and_texts_round_trip(engine: Engine) -> None:
    check_awkward_text_round_trips(engine)


def test_a_newer_watermark_is_never_overwritten(engine: Engine) -> None:
    check_newer_watermark_is_never_overwritten(engine)


def test_an_entity_is_stale_whole(engine: Engine) -> None:
    check_an_entity_is_stale_whole(engine)
