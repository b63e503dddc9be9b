"""Workers seen from outside: registrations and heartbeats in ``rescore_workers``.

Every claimant of pending work (a name that ``rescore_pending.claimed_by`` holds) registers
under its process, and the process writes one heartbeat for all its claimants every few
seconds. A claimant whose heartbeat is older than the stall threshold is *pruned*: its row is
deleted and, in the same transaction, its claims are handed back to the queue, so a killed
worker's work waits seconds, not the whole claim lease. The lease stays as the last resort for
claims of a claimant that never registered (a one-off ``engine.work`` call in a script).

This is procrastinate's model (``procrastinate_workers``, ``prune_stalled_workers``); the
process that runs the heartbeat is :class:`rescore.runtime.heartbeat.Heartbeat`. Every
operation takes the caller's connection (transaction), like :class:`rescore.queue.WorkQueue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.schema import deliveries, pending, workers
from rescore.queue import CLAIMED, WAITING
from rescore.routing import Lane

__all__ = ["Pruned", "Registration", "WorkerRegistry"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Registration:
    """A process that registered claimants: where it runs and when it last beat."""

    process: str
    host: str
    pid: int
    heartbeat_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Pruned:
    """What pruning did: the claimants removed and the claims given back, by lane."""

    workers: tuple[str, ...] = ()
    critical: int = 0
    normal: int = 0

    @property
    def claims(self) -> int:
        return self.critical + self.normal


class WorkerRegistry:
    """Operations on ``rescore_workers``; each takes the caller's connection (transaction)."""

    def register(
        self,
        conn: Connection,
        *,
        process: str,
        host: str,
        pid: int,
        names: Sequence[str],
        now: datetime,
        fresh: bool,
    ) -> Pruned:
        """Register ``names`` under ``process``. ``fresh`` (a process starting) also gives back
        whatever these names still hold: nothing can be held by a name not yet used, so such
        claims belong to a dead predecessor of the same name. Returns what was given back."""
        names = sorted(set(names))
        if not names:
            return Pruned()
        released = _release(conn, names) if fresh else Pruned()
        conn.execute(workers.delete().where(workers.c.name.in_(names)))
        conn.execute(
            workers.insert(),
            [
                {
                    "name": n,
                    "process": process,
                    "host": host,
                    "pid": pid,
                    "started_at": now,
                    "heartbeat_at": now,
                }
                for n in names
            ],
        )
        return released

    def beat(self, conn: Connection, process: str, now: datetime) -> int:
        """Refresh the heartbeat of every claimant of ``process``; returns how many rows (fewer
        than registered means someone pruned us while we were stalled: register again)."""
        result = conn.execute(
            workers.update().where(workers.c.process == process).values(heartbeat_at=now)
        )
        return result.rowcount

    def registrations(self, conn: Connection, *, host: str | None = None) -> list[Registration]:
        """One row per registered process (of ``host``, when given)."""
        query = sa.select(
            workers.c.process,
            workers.c.host,
            workers.c.pid,
            sa.func.max(workers.c.heartbeat_at).label("heartbeat_at"),
        ).group_by(workers.c.process, workers.c.host, workers.c.pid)
        if host is not None:
            query = query.where(workers.c.host == host)
        return [
            Registration(
                process=r.process,
                host=r.host,
                pid=r.pid,
                heartbeat_at=r.heartbeat_at,
            )
            for r in conn.execute(query)
        ]

    def prune(
        self,
        conn: Connection,
        *,
        stalled_before: datetime | None = None,
        processes: Sequence[str] = (),
    ) -> Pruned:
        """Remove claimants whose heartbeat is older than ``stalled_before`` and every claimant
        of ``processes`` (known dead), and give their claims back to the queue."""
        conditions = []
        if stalled_before is not None:
            conditions.append(workers.c.heartbeat_at < stalled_before)
        if processes:
            conditions.append(workers.c.process.in_(sorted(set(processes))))
        if not conditions:
            return Pruned()
        names = sorted(conn.execute(sa.select(workers.c.name).where(sa.or_(*conditions))).scalars())
        if not names:
            return Pruned()
        released = _release(conn, names)
        _release_deliveries(conn, names)
        conn.execute(workers.delete().where(workers.c.name.in_(names)))
        return Pruned(workers=tuple(names), critical=released.critical, normal=released.normal)

    def unregister(self, conn: Connection, process: str) -> None:
        """Remove a process's claimants (graceful shutdown, after it released its claims)."""
        conn.execute(workers.delete().where(workers.c.process == process))


def _release_deliveries(conn: Connection, names: Sequence[str]) -> None:
    """Hand back the automation deliveries a dead dispatcher held (sent again at once, with
    the same idempotency key, so the receiver can drop a repeat)."""
    conn.execute(
        deliveries.update()
        .where(deliveries.c.claimed_by.in_(names), deliveries.c.status == "pending")
        .values(claimed_by=None, claimed_until=None)
    )


def _release(conn: Connection, names: Sequence[str]) -> Pruned:
    """Hand back every claim of ``names``, keeping their events' range and attempts."""
    held = sa.and_(pending.c.claimed_by.in_(names), pending.c.state == CLAIMED)
    critical = pending.c.priority >= Lane.CRITICAL.priority
    lane = sa.case((critical, "critical"), else_="normal")
    query = sa.select(lane, sa.func.count()).where(held).group_by(lane)
    counts: dict[str, int] = {str(k): int(n) for k, n in conn.execute(query)}
    if counts:
        conn.execute(
            pending.update()
            .where(held)
            .values(state=WAITING, claimed_by=None, claimed_at=None, claim_watermark=None)
        )
    return Pruned(critical=counts.get("critical", 0), normal=counts.get("normal", 0))
