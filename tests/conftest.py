"""Shared fixtures: a toy pack small enough to reason about, and engines on temporary SQLite.

The toy pack scores rows of ``toy_items`` (key, a, b): ``a_score`` = a, ``b_score`` = b, and
``total`` = a_score + b_score (a dependent scorer). ``a_changed`` is critical, ``b_changed``
normal and ``noted`` is recorded only. An item whose ``a`` is negative makes ``a_score`` fail,
which is how tests drive retries and the dead letter.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, MetaData

from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.plugins import Pack, PackRegistry
from rescore.routing import Lane, Route
from rescore.scoring import Inputs, Scorer, ScoreResult
from rescore.settings import Settings

for _name in [n for n in os.environ if n.startswith("RESCORE_")]:
    del os.environ[_name]  # tests never inherit a developer's configuration

toy_metadata = MetaData()
toy_items = sa.Table(
    "toy_items",
    toy_metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("a", sa.Integer, nullable=False),
    sa.Column("b", sa.Integer, nullable=False),
)


class AScore(Scorer):
    name = "a_score"
    version = "1"
    inputs = frozenset({"item"})
    max_value = 100.0

    def score(self, inputs: Inputs) -> ScoreResult:
        a = inputs["item"]["a"]
        if a < 0:
            raise ValueError(f"a is negative: {a}")
        return ScoreResult(value=float(min(a, 100)), components={"a": float(min(a, 100))})


class BScore(Scorer):
    name = "b_score"
    version = "1"
    inputs = frozenset({"item"})
    max_value = 100.0

    def score(self, inputs: Inputs) -> ScoreResult:
        b = float(min(max(inputs["item"]["b"], 0), 100))
        return ScoreResult(value=b, components={"b": b})


class Total(Scorer):
    name = "total"
    version = "1"
    depends_on = ("a_score", "b_score")
    max_value = 200.0

    def score(self, inputs: Inputs) -> ScoreResult:
        a, b = inputs["a_score"].value, inputs["b_score"].value
        return ScoreResult(value=a + b, components={"a": a, "b": b}, reasons=(f"a {a}, b {b}",))


class ToyPack(Pack):
    name = "toy"
    entity_label = "item"

    def register_scorers(self) -> Sequence[Scorer]:
        return [Total(), AScore(), BScore()]

    def register_event_types(self) -> Mapping[str, Route]:
        return {
            "a_changed": Route(lane=Lane.CRITICAL, scorers=("a_score",)),
            "b_changed": Route(lane=Lane.NORMAL, scorers=("b_score",)),
            "noted": Route(lane=Lane.NONE),
        }

    def source_metadata(self) -> MetaData:
        return toy_metadata

    def load_inputs(
        self, conn: Connection, entities: Sequence[str], parts: frozenset[str]
    ) -> dict[str, dict[str, Any]]:
        query = sa.select(toy_items).where(toy_items.c.key.in_(list(entities)))
        return {r.key: {"item": {"a": r.a, "b": r.b}} for r in conn.execute(query)}

    def entity_keys(self, conn: Connection) -> Iterator[str]:
        yield from conn.execute(sa.select(toy_items.c.key).order_by(toy_items.c.key)).scalars()


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 23, 10, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_engine(
    path: Path, packs: Sequence[Pack] | None = None, clock: Clock | None = None, **settings: Any
) -> Engine:
    url = f"sqlite:///{path}"
    config = Settings(database_url=url, **({"channel_dir": path.parent / "inbox"} | settings))
    engine = Engine(
        Database(url),
        PackRegistry(packs if packs is not None else [ToyPack()]),
        config,
        **({"clock": clock} if clock else {}),
    )
    engine.migrate()
    return engine


def put_items(engine: Engine, **items: tuple[int, int]) -> None:
    """Upsert toy source rows: ``put_items(engine, x=(a, b))``."""
    with engine.source.begin() as conn:
        for key, (a, b) in items.items():
            conn.execute(toy_items.delete().where(toy_items.c.key == key))
            conn.execute(toy_items.insert().values(key=key, a=a, b=b))


def event(event_id: str, type_: str, entity: str, **payload: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "entity": entity,
        "occurred_at": "2026-01-23T10:30:00Z",
        "payload": payload,
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path, clock: Clock) -> Iterator[Engine]:
    eng = make_engine(tmp_path / "toy.db", clock=clock, retry_backoff=10.0, max_attempts=3)
    yield eng
    eng.close()
