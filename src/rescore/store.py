"""Scores: the current value of each (pack, entity, scorer), its history, and time travel.

A write carries the watermark (the sequence of the newest event it reflects). If the stored
score already reflects a newer event, the write is stale and dropped whole: never overwrite
newer with older. A history row is written only when something changed (value, breakdown or
scorer version), with before/after, the delta of every component and the causing event ids.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db import bulk
from rescore.db.dialect import bulk_insert
from rescore.db.schema import DEFAULT_TENANT, history, pending, scores
from rescore.scoring import Feature, ScoreResult

__all__ = [
    "BulkWritten",
    "Change",
    "Computed",
    "HistoryEntry",
    "ScoreStore",
    "StoredScore",
    "chunks",
]

#: Bound parameters per ``IN (...)`` list; well under every dialect's limit.
IN_CHUNK = 500


def chunks(items: Sequence[str], size: int = IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredScore:
    """A score as stored: the result plus its version, watermark and freshness."""

    scorer: str
    version: str
    value: float
    components: Mapping[str, float]
    reasons: tuple[str, ...]
    features: Mapping[str, Feature]
    watermark: int
    changed_at: datetime
    computed_at: datetime

    def as_result(self) -> ScoreResult:
        return ScoreResult(
            value=self.value,
            components=self.components,
            reasons=self.reasons,
            features=self.features,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One scorer's value moving (``before`` is None the first time an entity is scored);
    ``components`` is the breakdown after the change."""

    scorer: str
    version: str
    before: float | None
    after: float
    deltas: Mapping[str, float]
    components: Mapping[str, float] = field(default_factory=dict)

    @property
    def delta(self) -> float:
        return self.after - (self.before or 0.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryEntry:
    """A stored change with its context: what the score became, why, and when."""

    id: int
    scorer: str
    version: str
    before: float | None
    after: float
    deltas: Mapping[str, float]
    components: Mapping[str, float]
    reasons: tuple[str, ...]
    event_ids: tuple[str, ...]
    watermark: int
    changed_at: datetime
    trigger: str = "event"


@dataclass(frozen=True, kw_only=True, slots=True)
class Computed:
    """Fresh results of one entity, ready to be written."""

    pack: str
    entity: str
    results: Mapping[str, ScoreResult]
    versions: Mapping[str, str]
    watermark: int
    tenant: str = DEFAULT_TENANT
    event_ids: tuple[str, ...] = ()
    trigger: str = "event"  # what history records as the cause when event_ids is empty
    changes: list[Change] = field(default_factory=list)
    shadow: dict[str, tuple[str, ScoreResult]] = field(default_factory=dict)  # unserved


def _stored(row: Any) -> StoredScore:
    return StoredScore(
        scorer=row.scorer,
        version=row.version,
        value=row.value,
        components=row.components,
        reasons=tuple(row.reasons),
        features=row.features,
        watermark=row.watermark,
        changed_at=row.changed_at,
        computed_at=row.computed_at,
    )


def _deltas(old: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """How each component moved (rounded to 6 decimals); a first score's deltas are its
    components, as they are (the bulk write copies them in SQL)."""
    if not old:
        return dict(after)
    names = sorted(set(old) | set(after))
    return {n: round(after.get(n, 0.0) - old.get(n, 0.0), 6) for n in names}


def _changed(before: StoredScore | None, after: ScoreResult, version: str) -> bool:
    if before is None or before.version != version:
        return True
    if not math.isclose(before.value, after.value, abs_tol=1e-9):
        return True
    return dict(before.components) != dict(after.components)


class ScoreStore:
    """Reads and writes ``rescore_scores`` and ``rescore_history`` on the caller's connection."""

    def current(
        self,
        conn: Connection,
        pack: str,
        entities: Iterable[str],
        *,
        tenant: str = DEFAULT_TENANT,
    ) -> dict[str, dict[str, StoredScore]]:
        """Stored scores of many entities: ``{entity: {scorer: StoredScore}}``."""
        found: dict[str, dict[str, StoredScore]] = {}
        for part in chunks(sorted(set(entities))):
            query = sa.select(scores).where(
                scores.c.tenant == tenant, scores.c.pack == pack, scores.c.entity.in_(part)
            )
            for row in conn.execute(query):
                found.setdefault(row.entity, {})[row.scorer] = _stored(row)
        return found

    def lookup(
        self, conn: Connection, pack: str, entity: str, *, tenant: str = DEFAULT_TENANT
    ) -> tuple[dict[str, StoredScore], bool]:
        """One entity's stored scores and whether it has work pending, in one statement (a
        lookup's whole database read: both primary keys, one round trip, one snapshot)."""
        waiting = (
            sa.exists()
            .where(pending.c.tenant == tenant, pending.c.pack == pack, pending.c.entity == entity)
            .label("waiting")
        )
        query = sa.select(scores, waiting).where(
            scores.c.tenant == tenant, scores.c.pack == pack, scores.c.entity == entity
        )
        rows = conn.execute(query).all()
        return {row.scorer: _stored(row) for row in rows}, any(bool(r.waiting) for r in rows)

    def write(self, conn: Connection, batch: Sequence[Computed], now: datetime) -> list[Computed]:
        """Write fresh results; return the entities written (stale ones are dropped) with
        their changes filled in."""
        written: list[Computed] = []
        groups: dict[tuple[str, str], list[Computed]] = {}
        for item in batch:
            groups.setdefault((item.tenant, item.pack), []).append(item)
        for (tenant, pack), items in groups.items():
            stored = self.current(conn, pack, [i.entity for i in items], tenant=tenant)
            written.extend(self._write_pack(conn, items, stored, now))
        return written

    def write_bulk(
        self,
        conn: Connection,
        tenant: str,
        pack: str,
        rows: pl.DataFrame,
        now: datetime,
        *,
        trigger: str = "population",
        first: bool = False,
    ) -> BulkWritten:
        """:meth:`write` for a population's scores: ``rows``, a Polars frame of
        :data:`rescore.db.bulk.STAGE_COLUMNS` (one row per entity and scorer, JSON as text
        written by :func:`rescore.db.engine.json_dumps` or Polars, which write the same), with
        the same result as :meth:`write`: stale entities dropped whole, the same history rows.
        The frame is staged in a temporary table and compared in the database
        (:mod:`rescore.db.bulk`); a first score's history row is written there too, so a
        first run builds no Python object per score but the :class:`Change` its observers
        get, and an unchanged re-run writes nothing.

        Unlike :meth:`write` it does not touch a score it found unchanged: its
        ``computed_at`` stays the time it was last written (or refreshed, when its reasons,
        features or watermark moved).

        ``first``: none of these entities had a score when the caller began (a population
        run into a pack with nothing stored): the rows go straight into the store's tables,
        unless one got a score meanwhile, and then they take the staged path."""
        if first and bulk.insert_first(conn, tenant, pack, rows, now, trigger):
            return BulkWritten(stale=frozenset(), changes={}, values={}, first=rows)
        bulk.stage(conn, rows)
        stale = bulk.stale_entities(conn, tenant, pack)
        found = bulk.changed(conn, tenant, pack)
        written, moved = _changes(rows, stale, found)
        bulk.first_history(conn, tenant, pack, now, trigger)
        common = {"tenant": tenant, "pack": pack, "changed_at": now, "trigger": trigger}
        bulk_insert(conn, history, [common | entry for entry in moved])
        bulk.apply(conn, tenant, pack, now)
        bulk.unstage(conn)
        return written

    def _write_pack(
        self,
        conn: Connection,
        items: Sequence[Computed],
        stored: Mapping[str, Mapping[str, StoredScore]],
        now: datetime,
    ) -> list[Computed]:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        touches: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        written: list[Computed] = []
        for item in items:
            current = stored.get(item.entity, {})
            if any(s.watermark > item.watermark for s in current.values()):
                continue  # a newer event is already reflected: this write is stale
            for name, result in item.results.items():
                before = current.get(name)
                row = self._row(item, name, result, now)
                if not _changed(before, result, item.versions[name]):
                    touches.append(_touch(row))
                    continue
                change = Change(
                    scorer=name,
                    version=item.versions[name],
                    before=before.value if before else None,
                    after=result.value,
                    deltas=_deltas(before.components if before else {}, result.components),
                    components=dict(result.components),
                )
                item.changes.append(change)
                entries.append(self._entry(item, change, result, now))
                if before is None:
                    inserts.append(row)
                else:
                    updates.append({"k_" + k: row[k] for k in _KEY} | row)
            written.append(item)
        self._flush(conn, inserts, updates, touches, entries)
        return written

    @staticmethod
    def _row(item: Computed, name: str, result: ScoreResult, now: datetime) -> dict[str, Any]:
        return {
            "tenant": item.tenant,
            "pack": item.pack,
            "entity": item.entity,
            "scorer": name,
            "version": item.versions[name],
            "value": result.value,
            "components": dict(result.components),
            "reasons": list(result.reasons),
            "features": dict(result.features),
            "watermark": item.watermark,
            "changed_at": now,
            "computed_at": now,
            "population_digest": None,  # this write was not a population's
        }

    @staticmethod
    def _entry(
        item: Computed, change: Change, result: ScoreResult, now: datetime
    ) -> dict[str, Any]:
        return {
            "tenant": item.tenant,
            "pack": item.pack,
            "entity": item.entity,
            "scorer": change.scorer,
            "version": change.version,
            "before_value": change.before,
            "after_value": change.after,
            "deltas": dict(change.deltas),
            "components": dict(result.components),
            "reasons": list(result.reasons),
            "event_ids": list(item.event_ids),
            "watermark": item.watermark,
            "changed_at": now,
            "trigger": item.trigger,
        }

    @staticmethod
    def _flush(
        conn: Connection,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
        touches: list[dict[str, Any]],
        entries: list[dict[str, Any]],
    ) -> None:
        key = sa.and_(
            scores.c.tenant == sa.bindparam("k_tenant"),
            scores.c.pack == sa.bindparam("k_pack"),
            scores.c.entity == sa.bindparam("k_entity"),
            scores.c.scorer == sa.bindparam("k_scorer"),
            scores.c.watermark <= sa.bindparam("k_watermark"),
        )
        if inserts:
            bulk_insert(conn, scores, inserts)
        if updates:
            for row in updates:
                for k in _KEY:
                    row.pop(k)
                row["k_watermark"] = row["watermark"]
            conn.execute(scores.update().where(key), updates)
        if touches:
            conn.execute(scores.update().where(key), touches)
        if entries:
            bulk_insert(conn, history, entries)

    def history(
        self,
        conn: Connection,
        pack: str,
        entity: str,
        *,
        tenant: str = DEFAULT_TENANT,
        scorer: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[HistoryEntry]:
        """Changes of an entity's scores, newest first (by time, then id). The order follows
        the entity index, so on a partitioned table each month is read through its own index
        and, for a long history, the months are merged and reading stops after
        ``offset + limit`` rows."""
        query = sa.select(history).where(_of_entity(tenant, pack, entity))
        if scorer is not None:
            query = query.where(history.c.scorer == scorer)
        order = (history.c.changed_at.desc(), history.c.id.desc())
        query = query.order_by(*order).limit(limit).offset(offset)
        return [_entry_of(row) for row in conn.execute(query)]

    def as_of(
        self,
        conn: Connection,
        pack: str,
        entity: str,
        at: datetime,
        *,
        tenant: str = DEFAULT_TENANT,
    ) -> dict[str, HistoryEntry]:
        """The value and breakdown of each scorer in force at ``at`` (the last change before).

        Both halves carry the time bound, so on a partitioned table neither reads a month
        after ``at``."""
        bounded = sa.and_(_of_entity(tenant, pack, entity), history.c.changed_at <= at)
        latest = (
            sa.select(history.c.scorer, sa.func.max(history.c.id).label("id"))
            .where(bounded)
            .group_by(history.c.scorer)
            .subquery()
        )
        query = sa.select(history).join(latest, history.c.id == latest.c.id).where(bounded)
        return {row.scorer: _entry_of(row) for row in conn.execute(query)}

    def count_entities(self, conn: Connection, pack: str, *, tenant: str = DEFAULT_TENANT) -> int:
        """Distinct entities with stored scores (read from the primary key's index)."""
        query = sa.select(sa.func.count(sa.distinct(scores.c.entity))).where(
            scores.c.tenant == tenant, scores.c.pack == pack
        )
        return int(conn.execute(query).scalar_one())

    def iter_all(
        self, conn: Connection, pack: str | None = None, *, tenant: str | None = None
    ) -> Iterator[Any]:
        """Every current score row (for snapshots), in a stable order."""
        query = sa.select(scores).order_by(
            scores.c.tenant, scores.c.pack, scores.c.entity, scores.c.scorer
        )
        if pack is not None:
            query = query.where(scores.c.pack == pack)
        if tenant is not None:
            query = query.where(scores.c.tenant == tenant)
        yield from conn.execution_options(yield_per=5000).execute(query)


_KEY = ("tenant", "pack", "entity", "scorer")


def _of_entity(tenant: str, pack: str, entity: str) -> sa.ColumnElement[bool]:
    return sa.and_(history.c.tenant == tenant, history.c.pack == pack, history.c.entity == entity)


@dataclass(frozen=True, kw_only=True, slots=True)
class BulkWritten:
    """What :meth:`ScoreStore.write_bulk` did: the entities it found stale (not written), and
    for each entity with a changed score its changes and every staged scorer's value."""

    stale: frozenset[str]
    changes: dict[str, list[Change]]
    values: dict[str, dict[str, float]]
    #: the rows, when they went straight in (``first``): every one a new score, so no
    #: :class:`Change` is built here (``changes`` and ``values`` stay empty) and the engine
    #: hands its observers :class:`rescore.reports.BulkOutcomes` over these rows instead
    first: pl.DataFrame | None = None

    @property
    def changed(self) -> int:
        """How many entities got a changed score."""
        if self.first is not None:
            return self.first.get_column("entity").n_unique()
        return len(self.changes)


def _changes(
    rows: pl.DataFrame, stale: set[str], found: Mapping[tuple[str, str], bulk.Before]
) -> tuple[BulkWritten, list[dict[str, Any]]]:
    """The changes ``found`` in the database, in ``rows``' order, and the history rows of
    those that replace a stored score (a first score's is written in SQL). Only the rows of
    changed entities are read into Python: on a re-run that changes few, a few."""
    changes: dict[str, list[Change]] = {}
    values: dict[str, dict[str, float]] = defaultdict(dict)
    moved: list[dict[str, Any]] = []
    picked = ("entity", "scorer", "version", "value", "components", "watermark", "reasons")
    touched = rows.select(picked)
    changed = {entity for entity, _ in found} - stale
    touched = touched.filter(pl.col("entity").is_in(list(changed)))
    # column by column (a row tuple at a time costs more than the rest of the loop), and
    # every components text parsed in one call
    entities, scorers, versions, afters, texts, watermarks, reasons = (
        touched.get_column(c).to_list() for c in picked
    )
    parsed = orjson.loads("[" + ",".join(texts) + "]")
    for i, entity in enumerate(entities):
        scorer = scorers[i]
        values[entity][scorer] = afters[i]  # the hooks hear every scorer's value of a changed one
        key = (entity, scorer)
        if key not in found:
            continue
        before, after = found[key], parsed[i]
        change = Change(
            scorer=scorer,
            version=versions[i],
            before=before[0] if before else None,
            after=afters[i],
            deltas=_deltas(before[1], after) if before else after,
            components=after,
        )
        changes.setdefault(entity, []).append(change)
        if before is not None:
            moved.append(_moved(entity, change, orjson.loads(reasons[i]), watermarks[i]))
    return BulkWritten(stale=frozenset(stale), changes=changes, values=dict(values)), moved


def _moved(entity: str, change: Change, reasons: list[str], watermark: int) -> dict[str, Any]:
    """A history row of a bulk-written change, but for the columns every row shares."""
    return {
        "entity": entity,
        "scorer": change.scorer,
        "version": change.version,
        "before_value": change.before,
        "after_value": change.after,
        "deltas": dict(change.deltas),
        "components": dict(change.components),
        "reasons": reasons,
        "event_ids": [],
        "watermark": watermark,
    }


def _touch(row: dict[str, Any]) -> dict[str, Any]:
    """An unchanged score: refresh its watermark, freshness, reasons and features only."""
    keep = ("watermark", "computed_at", "reasons", "features", "population_digest")
    keys = (*_KEY, "watermark")
    return {"k_" + k: row[k] for k in keys} | {k: row[k] for k in keep}


def _entry_of(row: Any) -> HistoryEntry:
    return HistoryEntry(
        id=row.id,
        scorer=row.scorer,
        version=row.version,
        before=row.before_value,
        after=row.after_value,
        deltas=row.deltas,
        components=row.components,
        reasons=tuple(row.reasons),
        event_ids=tuple(row.event_ids),
        watermark=row.watermark,
        changed_at=row.changed_at,
        trigger=row.trigger,
    )
