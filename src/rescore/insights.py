"""Aggregate reads of the core tables for the dashboard: recent event rates, score
distributions, the biggest recent moves, the entities whose score fell most, a key search.

Each function runs on the caller's connection (the engine's operations open it, read-only),
aggregates in SQL so a population of millions returns a few rows, and bounds what it scans
where an index cannot: event rates look only at the newest :data:`RATE_SAMPLE` events (the
primary key's order), recent moves at the newest :data:`MOVES_SAMPLE` changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.schema import events, history, scores

__all__ = [
    "MOVES_SAMPLE",
    "RATE_SAMPLE",
    "Bin",
    "Fall",
    "Move",
    "biggest_moves",
    "entities_like",
    "falls",
    "histogram",
    "recent_events",
]

RATE_SAMPLE = 5000
MOVES_SAMPLE = 5000


@dataclass(frozen=True, kw_only=True, slots=True)
class Bin:
    """``count`` scores in ``[low, high)`` (the last bin includes ``high``)."""

    low: float
    high: float
    count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Move:
    """One stored change of a score, with how far it moved."""

    pack: str
    entity: str
    scorer: str
    before: float | None
    after: float
    changed_at: datetime
    trigger: str

    @property
    def delta(self) -> float:
        return self.after - (self.before if self.before is not None else self.after)


@dataclass(frozen=True, kw_only=True, slots=True)
class Fall:
    """How much an entity's score moved in all since a time (negative: it fell)."""

    entity: str
    delta: float
    changes: int


def recent_events(conn: Connection, tenant: str, since: datetime) -> tuple[dict[str, int], bool]:
    """Events received since ``since`` by pack, among the newest :data:`RATE_SAMPLE`; the flag
    says every sampled event was that recent (so the true count may be higher)."""
    newest = (
        sa.select(events.c.pack, events.c.received_at)
        .where(events.c.tenant == tenant)
        .order_by(events.c.seq.desc())
        .limit(RATE_SAMPLE)
        .subquery()
    )
    query = (
        sa.select(newest.c.pack, sa.func.count())
        .where(newest.c.received_at >= since)
        .group_by(newest.c.pack)
    )
    counts = {str(pack): int(n) for pack, n in conn.execute(query)}
    return counts, sum(counts.values()) >= RATE_SAMPLE


def histogram(
    conn: Connection,
    tenant: str,
    pack: str,
    scorer: str,
    *,
    low: float,
    high: float,
    bins: int,
) -> list[Bin]:
    """Current scores of ``scorer`` in ``bins`` equal bins over ``[low, high]``, counted in
    SQL; values outside the range go to the first or last bin."""
    width = (high - low) / bins
    index = sa.cast((scores.c.value - low) / width, sa.Integer)
    query = (
        sa.select(index.label("b"), sa.func.count())
        .where(scores.c.tenant == tenant, scores.c.pack == pack, scores.c.scorer == scorer)
        .group_by(index)
    )
    counts = [0] * bins
    for b, n in conn.execute(query):
        counts[min(max(int(b), 0), bins - 1)] += int(n)
    return [
        Bin(low=low + i * width, high=low + (i + 1) * width, count=c) for i, c in enumerate(counts)
    ]


def biggest_moves(
    conn: Connection, tenant: str, *, pack: str | None, limit: int, offset: int
) -> list[Move]:
    """Among the newest :data:`MOVES_SAMPLE` changes, the largest by how far they moved (an
    entity's first score is not a move: a bulk first scoring never hides the day's moves)."""
    newest = sa.select(history).where(
        history.c.tenant == tenant, history.c.before_value.is_not(None)
    )
    if pack is not None:
        newest = newest.where(history.c.pack == pack)
    sample = newest.order_by(history.c.id.desc()).limit(MOVES_SAMPLE).subquery()
    moved = sa.func.abs(sample.c.after_value - sample.c.before_value)
    query = sa.select(sample).order_by(moved.desc(), sample.c.id.desc()).limit(limit).offset(offset)
    return [
        Move(
            pack=row.pack,
            entity=row.entity,
            scorer=row.scorer,
            before=row.before_value,
            after=row.after_value,
            changed_at=row.changed_at,
            trigger=row.trigger,
        )
        for row in conn.execute(query)
    ]


def falls(
    conn: Connection,
    tenant: str,
    pack: str,
    scorer: str,
    since: datetime,
    *,
    limit: int,
    offset: int,
) -> list[Fall]:
    """The entities whose ``scorer`` fell most since ``since`` (sum of their changes' moves;
    a first score counts as no move), most fallen first; only those that fell."""
    before = sa.func.coalesce(history.c.before_value, history.c.after_value)
    moved = sa.func.sum(history.c.after_value - before)
    query = (
        sa.select(history.c.entity, moved.label("delta"), sa.func.count().label("n"))
        .where(
            history.c.tenant == tenant,
            history.c.pack == pack,
            history.c.scorer == scorer,
            history.c.changed_at >= since,
        )
        .group_by(history.c.entity)
        .having(moved < 0)
        .order_by(moved.asc(), history.c.entity)
        .limit(limit)
        .offset(offset)
    )
    return [Fall(entity=e, delta=float(d), changes=int(n)) for e, d, n in conn.execute(query)]


def entities_like(
    conn: Connection, tenant: str, pack: str, prefix: str, *, limit: int, offset: int
) -> list[str]:
    """Scored entities of ``pack`` whose key starts with ``prefix``, in key order (a range on
    the primary key, so it uses the index on every database)."""
    query = (
        sa.select(scores.c.entity)
        .where(scores.c.tenant == tenant, scores.c.pack == pack, scores.c.entity >= prefix)
        .group_by(scores.c.entity)
        .order_by(scores.c.entity)
        .limit(limit)
        .offset(offset)
    )
    if prefix:
        query = query.where(scores.c.entity < prefix + "\U0010ffff")
    return [str(e) for (e,) in conn.execute(query)]
