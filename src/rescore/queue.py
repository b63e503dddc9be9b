"""Pending work: the coalescing queue between ingest and recompute.

One row per (pack, entity). Ingest upserts it (priority and watermark only rise); a worker
claims a batch, recomputes, and in the same transaction as the score writes *acks* it: the row
is deleted if no event arrived meanwhile, or handed back with the new range if one did, so no
event is ever lost between claim and ack. A failure schedules a retry with exponential backoff;
after ``max_attempts`` the row is dead-lettered (``state='dead'``), stays visible, and can be
requeued. A claim older than the lease is presumed abandoned (a killed worker) and retaken.

Because a claim can be retaken, a worker that was only slow must not write over its successor:
before writing, it locks the rows it still holds (:meth:`WorkQueue.held`) and writes only
those. Queueing critical work (or handing it back) notifies other processes on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.dialect import for_claim, for_write, notify, upsert_pending
from rescore.db.schema import DEFAULT_TENANT, pending
from rescore.routing import Lane

__all__ = ["PendingWork", "WorkQueue"]

Key = tuple[str, str, str]  # tenant, pack, entity

WAITING, CLAIMED, DEAD = "waiting", "claimed", "dead"


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingWork:
    """One entity waiting to be rescored, with the range of events it has not yet reflected."""

    pack: str
    entity: str
    priority: int
    first_seq: int
    watermark: int
    tenant: str = DEFAULT_TENANT
    attempts: int = 0
    state: str = WAITING
    last_error: str | None = None
    enqueued_at: datetime | None = None

    @property
    def lane(self) -> Lane:
        return Lane.CRITICAL if self.priority >= Lane.CRITICAL.priority else Lane.NORMAL


def _work(row: Any) -> PendingWork:
    return PendingWork(
        tenant=row.tenant,
        pack=row.pack,
        entity=row.entity,
        priority=row.priority,
        first_seq=row.first_seq,
        watermark=row.watermark,
        attempts=row.attempts,
        state=row.state,
        last_error=row.last_error,
        enqueued_at=row.enqueued_at,
    )


def _key(tenant: Any, pack: Any, entity: Any) -> Any:
    return sa.and_(pending.c.tenant == tenant, pending.c.pack == pack, pending.c.entity == entity)


def _bound_key() -> Any:
    return _key(sa.bindparam("k_tenant"), sa.bindparam("k_pack"), sa.bindparam("k_entity"))


class WorkQueue:
    """Operations on ``rescore_pending``; each takes the caller's connection (transaction)."""

    def __init__(self, *, max_attempts: int, retry_backoff: float, lease_seconds: float) -> None:
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.lease = timedelta(seconds=lease_seconds)

    def enqueue(self, conn: Connection, work: Iterable[PendingWork], now: datetime) -> None:
        """Coalescing upsert of many rows at once."""
        rows: list[dict[str, Any]] = [
            {
                "tenant": w.tenant,
                "pack": w.pack,
                "entity": w.entity,
                "priority": w.priority,
                "first_seq": w.first_seq,
                "watermark": w.watermark,
                "state": WAITING,
                "attempts": 0,
                "enqueued_at": now,
                "available_at": now,
            }
            for w in work
        ]
        upsert_pending(conn, rows)
        if any(r["priority"] >= Lane.CRITICAL.priority for r in rows):
            notify(conn)

    def held(self, conn: Connection, worker: str, work: Sequence[PendingWork]) -> set[Key]:
        """Of ``work``, the rows ``worker`` still holds, locked until the transaction ends: a
        worker slower than its lease may have lost some to another worker, which owns them."""
        keys = sorted({(w.tenant, w.pack, w.entity) for w in work})
        found: set[Key] = set()
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            query = (
                sa.select(pending.c.tenant, pending.c.pack, pending.c.entity)
                .where(
                    pending.c.claimed_by == worker,
                    pending.c.entity.in_(sorted({k[2] for k in part})),
                )
                .order_by(pending.c.tenant, pending.c.pack, pending.c.entity)
            )
            found.update(tuple(r) for r in conn.execute(for_write(conn, query)))
        return found & set(keys)

    def in_flight(
        self, conn: Connection, tenant: str, pack: str, entities: Sequence[str]
    ) -> set[str]:
        """Of ``entities``, those a worker is rescoring now, locked until the transaction ends.

        A manual recompute leaves them to that worker: two writers of the same change would
        both write its history row."""
        found: set[str] = set()
        wanted = sorted(set(entities))
        for start in range(0, len(wanted), 500):
            query = sa.select(pending.c.entity).where(
                pending.c.tenant == tenant,
                pending.c.pack == pack,
                pending.c.entity.in_(wanted[start : start + 500]),
                pending.c.state == CLAIMED,
            )
            found.update(conn.execute(for_write(conn, query)).scalars())
        return found

    def claim(
        self,
        conn: Connection,
        worker: str,
        now: datetime,
        *,
        lane: Lane | None,
        limit: int,
        only: Sequence[tuple[str, str, str]] = (),
    ) -> list[PendingWork]:
        """Take up to ``limit`` rows of a lane (highest priority, oldest first) for ``worker``;
        ``only`` restricts the claim to these (tenant, pack, entity) keys."""
        picked = [sa.or_(*(_key(*k) for k in only))] if only else []
        query = (
            sa.select(pending)
            .where(self._claimable(now), *self._lane_filter(lane), *picked)
            .order_by(pending.c.priority.desc(), pending.c.enqueued_at, pending.c.entity)
            .limit(limit)
        )
        rows = conn.execute(for_claim(conn, query)).all()
        if rows:
            conn.execute(
                pending.update()
                .where(_bound_key())
                .values(
                    state=CLAIMED,
                    claimed_by=worker,
                    claimed_at=now,
                    claim_watermark=sa.bindparam("k_watermark"),
                ),
                [
                    {
                        "k_tenant": r.tenant,
                        "k_pack": r.pack,
                        "k_entity": r.entity,
                        "k_watermark": r.watermark,
                    }
                    for r in rows
                ],
            )
        return [_work(r) for r in rows]

    def _claimable(self, now: datetime) -> Any:
        waiting = sa.and_(pending.c.state == WAITING, pending.c.available_at <= now)
        abandoned = sa.and_(pending.c.state == CLAIMED, pending.c.claimed_at < now - self.lease)
        return sa.or_(waiting, abandoned)

    @staticmethod
    def _lane_filter(lane: Lane | None) -> list[Any]:
        if lane is Lane.CRITICAL:
            return [pending.c.priority >= Lane.CRITICAL.priority]
        if lane is Lane.NORMAL:
            return [pending.c.priority < Lane.CRITICAL.priority]
        return []

    def ack(self, conn: Connection, worker: str, done: Sequence[PendingWork]) -> list[PendingWork]:
        """Finish claimed rows: delete those no event touched since the claim; hand the others
        back, covering only the events that arrived after the claim. Returns those handed back
        (a critical event may have arrived while a normal flush held the row: wake someone)."""
        if not done:
            return []
        keys = [
            {"k_tenant": w.tenant, "k_pack": w.pack, "k_entity": w.entity, "k_worker": worker}
            for w in done
        ]
        mine = sa.and_(_bound_key(), pending.c.claimed_by == sa.bindparam("k_worker"))
        conn.execute(
            pending.delete().where(mine, pending.c.watermark == pending.c.claim_watermark), keys
        )
        wanted = {(w.tenant, w.pack, w.entity) for w in done}
        held = conn.execute(sa.select(pending).where(pending.c.claimed_by == worker))
        back = [_work(r) for r in held if (r.tenant, r.pack, r.entity) in wanted]
        conn.execute(
            pending.update()
            .where(mine)
            .values(
                state=WAITING,
                first_seq=pending.c.claim_watermark + 1,
                available_at=pending.c.claimed_at,  # what is left arrived after the claim
                attempts=0,
                claimed_by=None,
                claimed_at=None,
                claim_watermark=None,
            ),
            keys,
        )
        if any(w.priority >= Lane.CRITICAL.priority for w in back):
            notify(conn)
        return back

    def fail(
        self,
        conn: Connection,
        worker: str,
        work: PendingWork,
        error: str,
        now: datetime,
        *,
        permanent: bool = False,
    ) -> bool:
        """Record a failure; schedule a retry or dead-letter (at once when ``permanent``: no
        retry can fix it). True when dead-lettered."""
        attempts = work.attempts + 1
        dead = permanent or attempts >= self.max_attempts
        delay = timedelta(seconds=self.retry_backoff * 2 ** (attempts - 1))
        conn.execute(
            pending.update()
            .where(_key(work.tenant, work.pack, work.entity), pending.c.claimed_by == worker)
            .values(
                state=DEAD if dead else WAITING,
                attempts=attempts,
                last_error=error[:2000],
                available_at=now + delay,
                claimed_by=None,
                claimed_at=None,
                claim_watermark=None,
            )
        )
        return dead

    def release(self, conn: Connection, worker: str) -> int:
        """Hand back everything ``worker`` holds (graceful shutdown); returns how many rows."""
        result = conn.execute(
            pending.update()
            .where(pending.c.claimed_by == worker, pending.c.state == CLAIMED)
            .values(state=WAITING, claimed_by=None, claimed_at=None, claim_watermark=None)
        )
        return result.rowcount

    def requeue(
        self,
        conn: Connection,
        now: datetime,
        pack: str | None = None,
        entity: str | None = None,
        *,
        tenant: str | None = None,
    ) -> int:
        """Put dead-lettered rows back in line with a fresh attempt count."""
        where = [pending.c.state == DEAD]
        if tenant is not None:
            where.append(pending.c.tenant == tenant)
        if pack is not None:
            where.append(pending.c.pack == pack)
        if entity is not None:
            where.append(pending.c.entity == entity)
        result = conn.execute(
            pending.update()
            .where(*where)
            .values(state=WAITING, attempts=0, available_at=now, last_error=None)
        )
        return result.rowcount

    def list(
        self,
        conn: Connection,
        *,
        state: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[PendingWork]:
        query = sa.select(pending).order_by(
            pending.c.priority.desc(), pending.c.enqueued_at, pending.c.entity
        )
        if state is not None:
            query = query.where(pending.c.state == state)
        if tenant is not None:
            query = query.where(pending.c.tenant == tenant)
        return [_work(r) for r in conn.execute(query.limit(limit).offset(offset))]

    def counts(self, conn: Connection, *, tenant: str | None = None) -> dict[str, int]:
        """Rows by lane and state, e.g. ``{"critical": 0, "normal": 12, "dead": 1}``."""
        lane = sa.case((pending.c.priority >= Lane.CRITICAL.priority, "critical"), else_="normal")
        label = sa.case((pending.c.state == DEAD, "dead"), else_=lane)
        query = sa.select(label.label("k"), sa.func.count()).group_by(label)
        if tenant is not None:
            query = query.where(pending.c.tenant == tenant)
        found: dict[str, int] = {k: n for k, n in conn.execute(query).all()}  # noqa: C416
        return {k: found.get(k, 0) for k in ("critical", "normal", "dead")}

    def dead(self, conn: Connection, keys: Sequence[Key]) -> dict[Key, str]:
        """Of ``keys``, those dead-lettered, with the reason."""
        found: dict[Key, str] = {}
        for start in range(0, len(keys), 500):
            part = set(keys[start : start + 500])
            query = sa.select(
                pending.c.tenant, pending.c.pack, pending.c.entity, pending.c.last_error
            ).where(pending.c.state == DEAD, pending.c.entity.in_(sorted({k[2] for k in part})))
            for row in conn.execute(query):
                key = (row.tenant, row.pack, row.entity)
                if key in part:
                    found[key] = row.last_error or "dead-lettered"
        return found

    def oldest(self, conn: Connection) -> dict[str, datetime | None]:
        """Since when the oldest unfinished work of each lane has been due (None when none is).

        Claimed work counts too (a dead worker's claims are work not done), by the time it
        became due: when it was queued, or when its retry was due. Dead letters do not count,
        and a row waiting out its retry backoff is not due yet, so one entity that keeps
        failing cannot hold the lane's lag up."""
        found: dict[str, datetime | None] = {}
        for lane, cond in (
            ("critical", pending.c.priority >= Lane.CRITICAL.priority),
            ("normal", pending.c.priority < Lane.CRITICAL.priority),
        ):
            query = sa.select(sa.func.min(pending.c.available_at)).where(
                pending.c.state.in_((WAITING, CLAIMED)), cond
            )
            found[lane] = _aware(conn.execute(query).scalar())
        return found

    def next_retry(self, conn: Connection, now: datetime, *, tenant: str | None) -> datetime | None:
        """When the earliest row waiting in backoff may be tried again (None: none waits)."""
        query = sa.select(sa.func.min(pending.c.available_at)).where(
            pending.c.state == WAITING, pending.c.available_at > now
        )
        if tenant is not None:
            query = query.where(pending.c.tenant == tenant)
        return _aware(conn.execute(query).scalar())


def _aware(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back strings or naive times)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    found: datetime = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return found
