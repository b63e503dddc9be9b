"""Checks of the score store's bulk write, shared by the SQLite unit tests and the PostgreSQL
and MariaDB integration tests: each takes engines on empty, migrated databases of one dialect.

The comparison replays the same random rounds of results (new scores, unchanged ones, moved
values, other components, another scorer version, reasons only, a risen watermark, stale
writes, a scorer left out) through ``ScoreStore.write`` on one database and
``ScoreStore.write_bulk`` on the other (the same results as the frame of JSON texts it
stages, written by ``json_dumps``), and compares everything stored."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from rescore.db.bulk import STAGE_COLUMNS
from rescore.db.engine import json_dumps
from rescore.db.schema import history, scores
from rescore.engine import BulkOutcomes, Engine
from rescore.scoring import ScoreResult
from rescore.store import Computed

T0 = datetime(2026, 1, 23, 10, 30, tzinfo=UTC)
#: enough that a batch's history rows take the bulk insert's executemany path (>= COPY_THRESHOLD)
ENTITIES = [f"c{i}" for i in range(200)]
SCORERS = ("fit", "risk")


def computed(
    entity: str,
    results: dict[str, ScoreResult],
    watermark: int,
    versions: dict[str, str] | None = None,
) -> Computed:
    return Computed(
        pack="toy",
        entity=entity,
        results=results,
        versions=versions or dict.fromkeys(results, "1"),
        watermark=watermark,
        trigger="population",
    )


def _result(rng: random.Random) -> ScoreResult:
    parts = rng.sample(["base", "bonus", "cap", "extra"], rng.randint(1, 3))
    components = {p: round(rng.uniform(-20, 60), rng.choice([0, 3, 9])) for p in parts}
    return ScoreResult(
        value=sum(components.values()),
        components=components,
        reasons=(f"{len(parts)} parts",),
        features={"tier": rng.choice(["A", "B"]), "n": rng.randint(0, 3), "q": rng.random()},
    )


def _mutated(rng: random.Random, old: ScoreResult) -> ScoreResult:
    kind = rng.choice(["same", "same", "value", "components", "reasons", "features", "new"])
    if kind == "value":
        components = dict(old.components)
        name = next(iter(components))
        components[name] += rng.choice([1e-12, 0.5, 7.0])  # 1e-12 is within isclose: unchanged
        return ScoreResult(
            value=sum(components.values()),
            components=components,
            reasons=old.reasons,
            features=old.features,
        )
    if kind == "components":  # the same value, split otherwise
        components = {"whole": old.value}
        return ScoreResult(
            value=old.value, components=components, reasons=old.reasons, features=old.features
        )
    if kind == "reasons":
        return ScoreResult(
            value=old.value,
            components=old.components,
            reasons=(*old.reasons, "again"),
            features=old.features,
        )
    if kind == "features":
        return ScoreResult(
            value=old.value,
            components=old.components,
            reasons=old.reasons,
            features={**old.features, "n": 99},
        )
    return _result(rng) if kind == "new" else old


def rounds(seed: int, count: int) -> list[list[Computed]]:
    """``count`` batches over the same entities, each derived from the one before."""
    rng = random.Random(seed)
    current = {e: {s: _result(rng) for s in SCORERS} for e in ENTITIES}
    marks = dict.fromkeys(ENTITIES, 1)
    version = dict.fromkeys(ENTITIES, "1")
    batches: list[list[Computed]] = []
    for _ in range(count):
        batch = []
        for entity in rng.sample(ENTITIES, rng.randint(120, len(ENTITIES))):
            current[entity] = {s: _mutated(rng, r) for s, r in current[entity].items()}
            roll = rng.random()
            if roll < 0.15:
                marks[entity] += 1  # a newer event
            if 0.15 <= roll < 0.2:
                version[entity] = "2"  # another scorer version
            mark = marks[entity] - (1 if 0.2 <= roll < 0.3 and marks[entity] > 1 else 0)
            names = SCORERS[: 1 if roll > 0.95 else 2]  # sometimes only one scorer
            results = {s: current[entity][s] for s in names}
            versions = dict.fromkeys(names, version[entity])
            batch.append(computed(entity, results, mark, versions))
        batches.append(batch)
    return batches


def table_rows(engine: Engine, table: sa.Table, skip: Sequence[str]) -> list[tuple[Any, ...]]:
    columns = [c for c in table.columns if c.name not in skip]
    order = [table.c.entity, table.c.scorer]
    if "id" in table.c and "id" not in skip:
        order = [table.c.id]
    elif table is history:
        order = [table.c.entity, table.c.scorer, table.c.changed_at, table.c.watermark]
    with engine.db.read() as conn:
        return [tuple(r) for r in conn.execute(sa.select(*columns).order_by(*order))]


def staged(batch: Sequence[Computed], digest: str | None = None) -> pl.DataFrame:
    """A batch as the frame ``ScoreStore.write_bulk`` stages."""
    rows = [
        (
            c.entity,
            name,
            c.versions[name],
            r.value,
            json_dumps(dict(r.components)),
            json_dumps(list(r.reasons)),
            json_dumps(dict(r.features)),
            c.watermark,
            digest,
        )
        for c in batch
        for name, r in c.results.items()
    ]
    schema = dict.fromkeys(STAGE_COLUMNS, pl.String) | {"value": pl.Float64, "watermark": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _write(
    engine: Engine, batch: Sequence[Computed], now: datetime, *, bulk: bool, first: bool = False
) -> Any:
    """The changes each written entity got (a stale one is not written)."""
    fresh = [computed(c.entity, dict(c.results), c.watermark, dict(c.versions)) for c in batch]
    with engine.db.begin() as conn:
        if not bulk:
            return sorted(
                (c.entity, tuple(c.changes)) for c in engine.store.write(conn, fresh, now)
            )
        done = engine.store.write_bulk(conn, "default", "toy", staged(fresh), now, first=first)
    written = {c.entity for c in fresh} - done.stale
    if done.first is not None:  # inserted straight: the changes are the outcomes' to build
        built = BulkOutcomes(tenant="default", pack="toy", committed_at=now, rows=done.first)
        assert done.changed == len(built) == len(written)
        return sorted((o.entity, o.changes) for o in built)
    return sorted((e, tuple(done.changes.get(e, ()))) for e in written)


def check_bulk_equals_per_entity(per_entity: Engine, bulk: Engine, seed: int) -> None:
    """Both paths, fed the same rounds, store the same scores and the same history."""
    for i, batch in enumerate(rounds(seed, 6)):
        now = T0 + timedelta(minutes=i)
        assert _write(per_entity, batch, now, bulk=False) == _write(bulk, batch, now, bulk=True)
        # computed_at differs by design: the bulk path does not touch unchanged scores
        skip = ("computed_at",)
        assert table_rows(per_entity, scores, skip) == table_rows(bulk, scores, skip)
        assert table_rows(per_entity, history, ("id",)) == table_rows(bulk, history, ("id",))


def check_first_insert_equals_per_entity(per_entity: Engine, bulk: Engine, seed: int) -> None:
    """A first run's straight insert (``first``, nothing of the pack stored) stores what the
    per-entity write stores, ``computed_at`` included; a batch of which some entity got a
    score meanwhile gives way to the staged path, which still does."""
    first, later = rounds(seed, 2)
    inserted = _write(bulk, first, T0, bulk=True, first=True)
    assert _write(per_entity, first, T0, bulk=False) == inserted
    assert table_rows(per_entity, scores, ()) == table_rows(bulk, scores, ())
    assert table_rows(per_entity, history, ("id",)) == table_rows(bulk, history, ("id",))
    now = T0 + timedelta(minutes=1)
    expected = _write(per_entity, later, now, bulk=False)
    assert _write(bulk, later, now, bulk=True, first=True) == expected
    assert any(changes and changes[0].before is not None for _, changes in expected)
    skip = ("computed_at",)
    assert table_rows(per_entity, scores, skip) == table_rows(bulk, scores, skip)
    assert table_rows(per_entity, history, ("id",)) == table_rows(bulk, history, ("id",))


def check_unchanged_rerun_writes_nothing(engine: Engine) -> None:
    batch = rounds(7, 1)[0]
    _write(engine, batch, T0, bulk=True)
    before_scores = table_rows(engine, scores, ())
    before_history = table_rows(engine, history, ())
    again = _write(engine, batch, T0 + timedelta(hours=1), bulk=True)
    assert all(changes == () for _, changes in again)
    assert table_rows(engine, scores, ()) == before_scores  # computed_at too: not touched
    assert table_rows(engine, history, ()) == before_history


def check_newer_watermark_is_never_overwritten(engine: Engine) -> None:
    old = ScoreResult(value=10.0, components={"base": 10.0})
    new = ScoreResult(value=90.0, components={"base": 90.0})
    _write(engine, [computed("c1", {"fit": old, "risk": old}, 5)], T0, bulk=True)
    later = T0 + timedelta(minutes=1)
    stale = [computed("c1", {"fit": new, "risk": new}, 4), computed("c2", {"fit": new}, 0)]
    written = _write(engine, stale, later, bulk=True)
    assert [entity for entity, _ in written] == ["c2"]  # c1 dropped whole
    with engine.db.read() as conn:
        stored = engine.store.current(conn, "toy", ["c1"])["c1"]
    assert {n: (s.value, s.watermark) for n, s in stored.items()} == {
        "fit": (10.0, 5),
        "risk": (10.0, 5),
    }
    with engine.db.read() as conn:
        changes = conn.execute(sa.select(history.c.entity, history.c.after_value)).all()
    assert sorted(changes) == [("c1", 10.0), ("c1", 10.0), ("c2", 90.0)]  # c1's first write


def check_an_entity_is_stale_whole(engine: Engine) -> None:
    """One scorer reflects event 5, the other event 3: a write of event 4 hides the first
    one's news, so neither is written (a per-row check would have written the second)."""
    old = ScoreResult(value=10.0, components={"base": 10.0})
    new = ScoreResult(value=90.0, components={"base": 90.0})
    _write(engine, [computed("c1", {"fit": old, "risk": old}, 3)], T0, bulk=True)
    _write(engine, [computed("c1", {"fit": old}, 5)], T0, bulk=True)
    assert _write(engine, [computed("c1", {"fit": new, "risk": new}, 4)], T0, bulk=True) == []
    with engine.db.read() as conn:
        stored = engine.store.current(conn, "toy", ["c1"])["c1"]
    assert {n: (s.value, s.watermark) for n, s in stored.items()} == {
        "fit": (10.0, 5),
        "risk": (10.0, 3),
    }


def check_awkward_text_round_trips(engine: Engine) -> None:
    """Keys and texts with a tab, a newline, a backslash, quotes and accents are stored as
    given (PostgreSQL stages through COPY's text format, which escapes them)."""
    awkward = 'tab\there\nnew \\ back "quoted" ñandú\r'
    result = ScoreResult(
        value=1.5, components={"a\tb": 1.5}, reasons=(awkward, ""), features={"k": awkward}
    )
    entity = "key\twith\\odd\nchars"
    _write(engine, [computed(entity, {"fit": result}, 1)], T0, bulk=True)
    with engine.db.read() as conn:
        stored = engine.store.current(conn, "toy", [entity])[entity]["fit"]
        (logged,) = engine.store.history(conn, "toy", entity)
    assert stored.as_result() == result
    assert (logged.reasons, dict(logged.components)) == ((awkward, ""), {"a\tb": 1.5})
