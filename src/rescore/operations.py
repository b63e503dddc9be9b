"""The engine's operations for front ends, grouped by what they touch.

:class:`rescore.engine.Engine` inherits these groups, so it stays the one door to the data
(the CLI, the HTTP API and the packs call nothing else) while each group reads on its own.
Every operation opens its own transaction on the engine's database; none hands out a
connection. The groups rely on the parts :class:`Parts` declares, which the engine sets up.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.compute import Computer, Planned, cause_of
from rescore.db import bulk
from rescore.db.engine import Database
from rescore.db.partitions import (
    Partition,
    maintain,
    partitions,
    remove,
    require_partitioned,
    serialize,
)
from rescore.db.schema import DEFAULT_TENANT, events
from rescore.exceptions import EntityNotFound, InvalidInput
from rescore.insights import (
    Bin,
    Fall,
    Move,
    biggest_moves,
    entities_like,
    falls,
    histogram,
    recent_events,
)
from rescore.plugins import PackRegistry
from rescore.queue import PendingWork, WorkQueue
from rescore.reports import Cause, Explanation
from rescore.retention import BackupSeen, Verdict, last_verified_backup, plan
from rescore.scoring import ScoreResult
from rescore.settings import Settings
from rescore.store import HistoryEntry, ScoreStore, StoredScore, chunks
from rescore.workers import Pruned, Registration, WorkerRegistry

if TYPE_CHECKING:
    import polars as pl

#: a population run's digest lookups: in parts of at least LOOKUP_PART entities, at most
#: one per core (up to four) at once (:meth:`ScoreOperations.population_misses`)
LOOKUP_THREADS = min(4, os.cpu_count() or 1)
LOOKUP_PART = 50_000

__all__ = [
    "HistoryOperations",
    "InsightOperations",
    "Parts",
    "QueueOperations",
    "ScoreOperations",
    "WorkerOperations",
    "watermarks_of",
]

log = logging.getLogger(__name__)


class Parts(ABC):
    """What the operation groups use; :class:`rescore.engine.Engine` provides each."""

    db: Database
    source: Database
    registry: PackRegistry
    settings: Settings
    clock: Callable[[], datetime]
    queue: WorkQueue
    store: ScoreStore
    workers: WorkerRegistry
    computer: Computer

    @abstractmethod
    def _emit(self, hook: str, *args: Any) -> None:
        """Tell the observers, isolated (the engine implements it)."""


class QueueOperations(Parts):
    """Pending work and the dead letter: counts, rows, requeue, release, lag."""

    def pending_counts(self, *, tenant: str | None = DEFAULT_TENANT) -> dict[str, int]:
        """Work by lane and dead letters, e.g. ``{"critical": 0, "normal": 12, "dead": 1}``
        (``tenant=None``: every tenant)."""
        with self.db.read() as conn:
            return self.queue.counts(conn, tenant=tenant)

    def pending_items(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[PendingWork]:
        """Rows of pending work (``state="dead"``: the dead letter), most urgent first."""
        with self.db.read() as conn:
            return self.queue.list(conn, state=state, tenant=tenant, limit=limit, offset=offset)

    def requeue_dead(
        self, *, tenant: str = DEFAULT_TENANT, pack: str | None = None, entity: str | None = None
    ) -> int:
        """Put dead-lettered entities back in line with fresh attempts; returns how many.
        An unknown ``pack`` is refused (:class:`UnknownPack` lists the loaded ones)."""
        if pack is not None:
            self.registry[pack]
        with self.db.begin() as conn:
            count = self.queue.requeue(conn, self.clock(), pack, entity, tenant=tenant)
        if count:
            self._emit("requeued", {"critical": count, "normal": 0})
        return count

    def next_retry(self, *, tenant: str | None = DEFAULT_TENANT) -> datetime | None:
        """When the earliest entity waiting in backoff after a failure is tried again."""
        with self.db.read() as conn:
            return self.queue.next_retry(conn, self.clock(), tenant=tenant)

    def release(self, worker: str) -> int:
        """Hand back everything ``worker`` has claimed (graceful shutdown)."""
        with self.db.begin() as conn:
            return self.queue.release(conn, worker)

    def lane_lag(self) -> dict[str, float]:
        """Seconds the oldest unfinished work of each lane has been due, claimed or not
        (0 when none is; dead letters and rows waiting out a retry backoff do not count)."""
        with self.db.read() as conn:
            oldest = self.queue.oldest(conn)
        now = self.clock()
        return {
            lane: 0.0 if at is None else max(0.0, (now - at).total_seconds())
            for lane, at in oldest.items()
        }


class WorkerOperations(Parts):
    """Worker registrations and heartbeats (``rescore.runtime.heartbeat`` drives these)."""

    def register_workers(
        self, *, process: str, host: str, pid: int, names: Sequence[str], fresh: bool = True
    ) -> Pruned:
        """Register claimant ``names`` of a process; ``fresh`` (at start) gives back what a dead
        predecessor of the same names still holds."""
        with self.db.begin(urgent=True) as conn:
            released = self.workers.register(
                conn,
                process=process,
                host=host,
                pid=pid,
                names=names,
                now=self.clock(),
                fresh=fresh,
            )
        self._given_back(released)
        return released

    def heartbeat(self, process: str) -> int:
        """Say the claimants of ``process`` are alive; returns how many are registered."""
        with self.db.begin(urgent=True) as conn:
            return self.workers.beat(conn, process, self.clock())

    def worker_registrations(self, *, host: str | None = None) -> list[Registration]:
        """The registered worker processes (of ``host``), with their last heartbeat."""
        with self.db.read() as conn:
            return self.workers.registrations(conn, host=host)

    def prune_workers(
        self, *, stalled_after: float | None = None, processes: Sequence[str] = ()
    ) -> Pruned:
        """Remove workers silent for ``stalled_after`` seconds and the named dead
        ``processes``; their claims go back to the queue at once (and wake a worker)."""
        before = None if stalled_after is None else self.clock() - timedelta(seconds=stalled_after)
        with self.db.begin(urgent=True) as conn:
            pruned = self.workers.prune(conn, stalled_before=before, processes=processes)
        if pruned.workers:
            log.warning(
                "pruned %d stalled or dead worker(s) %s; %d claim(s) given back",
                len(pruned.workers),
                ", ".join(pruned.workers),
                pruned.claims,
            )
        self._given_back(pruned)
        return pruned

    def unregister_workers(self, process: str) -> None:
        """Remove a process's registrations (after it released its claims)."""
        with self.db.begin() as conn:
            self.workers.unregister(conn, process)

    def _given_back(self, pruned: Pruned) -> None:
        if pruned.claims:
            self._emit("requeued", {"critical": pruned.critical, "normal": pruned.normal})

    def unreachable_since(self) -> datetime | None:
        """When this process found the database unreachable, while it still is (None when the
        last transaction succeeded): answers served meanwhile must say they may be stale."""
        return self.db.down_since


class HistoryOperations(Parts):
    """The history of scores, and its monthly partitions on PostgreSQL."""

    def history(
        self,
        pack: str,
        entity: str,
        *,
        tenant: str = DEFAULT_TENANT,
        scorer: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[HistoryEntry]:
        """Every change of an entity's scores, newest first (paged)."""
        self.registry[pack]
        with self.db.read() as conn:
            return self.store.history(
                conn, pack, entity, tenant=tenant, scorer=scorer, limit=limit, offset=offset
            )

    def history_partitions(self) -> list[Partition]:
        """The history table's monthly partitions (oldest first, the default last) with their
        bounds and exact row counts; :class:`ConfigurationError` unless the history is a
        partitioned PostgreSQL table."""
        with self.db.read() as conn:
            require_partitioned(conn, self.db.where)
            return partitions(conn, count=True)

    def maintain_history(self) -> list[str]:
        """Create this month's and the next ``history_partitions_ahead`` months' partitions and
        move rows out of the default partition (the hourly job); returns those created."""
        with self.db.begin() as conn:
            require_partitioned(conn, self.db.where)
            return maintain(conn, self.clock(), self.settings.history_partitions_ahead)

    def last_verified_backup(self) -> BackupSeen | None:
        """The newest backup of this database in ``backup_dir`` whose file still matches its
        manifest (what retention trusts), or None."""
        return last_verified_backup(self.settings.backup_dir, self.db.url)

    def prune_history(self, *, dry_run: bool = False) -> list[Verdict]:
        """Apply ``history_retention_months``: detach or drop every expired partition a
        verified backup covers, keep the others; ``dry_run`` only says what it would do."""
        with self.db.begin() as conn:
            require_partitioned(conn, self.db.where)
            serialize(conn)  # another process's job may be pruning the same months
            verdicts = plan(
                partitions(conn, count=True),
                self.clock(),
                months=self.settings.history_retention_months,
                action=self.settings.history_retention_action,
                backup=self.last_verified_backup(),
            )
            going = [v for v in verdicts if v.action != "keep"]
            if going and not dry_run:
                action = self.settings.history_retention_action
                remove(conn, [v.partition.name for v in going], action)
        return verdicts


class InsightOperations(Parts):
    """Aggregates for the dashboard (:mod:`rescore.insights`): each reads in one transaction
    and returns a few rows however large the population."""

    def event_rate(
        self, *, tenant: str = DEFAULT_TENANT, seconds: float = 60.0
    ) -> tuple[dict[str, float], bool]:
        """Events per second received over the last ``seconds``, by pack; the flag says the
        sample was saturated (the true rate is at least this)."""
        since = self.clock() - timedelta(seconds=seconds)
        with self.db.read() as conn:
            counts, saturated = recent_events(conn, tenant, since)
        return {pack: n / seconds for pack, n in counts.items()}, saturated

    def headline_scorer(self, pack: str) -> str:
        """The scorer a pack's pages lead with: the last in dependency order (what the others
        feed, e.g. credit's ``hybrid``)."""
        return self.registry.graph(pack).order[-1]

    def score_distribution(
        self, pack: str, scorer: str | None = None, *, tenant: str = DEFAULT_TENANT, bins: int = 10
    ) -> list[Bin]:
        """Current values of ``scorer`` (the headline one by default) in equal bins over its
        declared range."""
        name = scorer or self.headline_scorer(pack)
        graph = self.registry.graph(pack)
        if name not in graph:
            raise InvalidInput(f"{pack} has no scorer {name!r}", field="scorer")
        found = graph[name]
        with self.db.read() as conn:
            return histogram(
                conn,
                tenant,
                pack,
                name,
                low=found.min_value,
                high=found.max_value,
                bins=bins,
            )

    def recent_moves(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        pack: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[Move]:
        """The largest recent score changes (among the newest stored changes), largest first."""
        if pack is not None:
            self.registry[pack]
        with self.db.read() as conn:
            return biggest_moves(conn, tenant, pack=pack, limit=limit, offset=offset)

    def biggest_falls(
        self,
        pack: str,
        *,
        tenant: str = DEFAULT_TENANT,
        days: float = 7.0,
        limit: int = 20,
        offset: int = 0,
    ) -> list[Fall]:
        """The entities whose headline score fell most over the last ``days``."""
        since = self.clock() - timedelta(days=days)
        scorer = self.headline_scorer(pack)
        with self.db.read() as conn:
            return falls(conn, tenant, pack, scorer, since, limit=limit, offset=offset)

    def find_entities(
        self,
        pack: str,
        prefix: str,
        *,
        tenant: str = DEFAULT_TENANT,
        limit: int = 20,
        offset: int = 0,
    ) -> list[str]:
        """Scored entities of ``pack`` whose key starts with ``prefix``."""
        self.registry[pack]
        with self.db.read() as conn:
            return entities_like(conn, tenant, pack, prefix, limit=limit, offset=offset)


class ScoreOperations(InsightOperations):
    """Stored scores read in bulk, fresh scores computed without writing, event marks (and,
    inherited, the dashboard's aggregates: the engine's list of groups stays as it is)."""

    def current(
        self, pack: str, entity: str, *, tenant: str = DEFAULT_TENANT
    ) -> dict[str, StoredScore]:
        """An entity's current scores by scorer; :class:`EntityNotFound` if never scored."""
        self.registry[pack]
        with self.db.read() as conn:
            found = self.store.current(conn, pack, [entity], tenant=tenant).get(entity)
        if not found:
            raise EntityNotFound(f"{pack} has no scores for {entity!r}", field="entity")
        return found

    def as_of(
        self, pack: str, entity: str, at: datetime, *, tenant: str = DEFAULT_TENANT
    ) -> dict[str, HistoryEntry]:
        """Each scorer's value and breakdown in force at ``at``."""
        self.registry[pack]
        with self.db.read() as conn:
            found = self.store.as_of(conn, pack, entity, at, tenant=tenant)
        if not found:
            raise EntityNotFound(f"{pack} had no scores for {entity!r} at {at.isoformat()}")
        return found

    def explain(
        self,
        pack: str,
        entity: str,
        *,
        tenant: str = DEFAULT_TENANT,
        limit: int = 20,
        offset: int = 0,
    ) -> Explanation:
        """Why did this entity's score change? History with component deltas and causes."""
        current = self.current(pack, entity, tenant=tenant)
        with self.db.read() as conn:
            changes = self.store.history(
                conn, pack, entity, tenant=tenant, limit=limit, offset=offset
            )
            ids = sorted({i for c in changes for i in c.event_ids})
            causes: dict[str, Cause] = {}
            for part in chunks(ids):
                query = sa.select(events).where(
                    events.c.tenant == tenant, events.c.event_id.in_(part)
                )
                causes.update({row.event_id: cause_of(row) for row in conn.execute(query)})
        return Explanation(
            pack=pack, entity=entity, current=current, changes=tuple(changes), causes=causes
        )

    def lookup(
        self, pack: str, entity: str, *, tenant: str = DEFAULT_TENANT
    ) -> tuple[dict[str, StoredScore], bool]:
        """An entity's current scores and whether work on it is pending, read by one indexed
        statement so the two agree; :class:`EntityNotFound` if never scored."""
        self.registry[pack]
        with self.db.read() as conn:
            found, waiting = self.store.lookup(conn, pack, entity, tenant=tenant)
        if not found:
            raise EntityNotFound(f"{pack} has no scores for {entity!r}", field="entity")
        return found, waiting

    def iter_scores(self, pack: str | None = None, *, tenant: str | None = None) -> Iterator[Any]:
        """Every current score row (one per entity and scorer) in a stable order, streamed."""
        if pack is not None:
            self.registry[pack]
        with self.db.read() as conn:
            yield from self.store.iter_all(conn, pack, tenant=tenant)

    def scored_entities(self, pack: str, *, tenant: str = DEFAULT_TENANT) -> int:
        """How many of a pack's entities have stored scores (a population run's final count)."""
        self.registry[pack]
        with self.db.read() as conn:
            return self.store.count_entities(conn, pack, tenant=tenant)

    def has_scores(self, pack: str, tenant: str = DEFAULT_TENANT) -> bool:
        """Whether the store holds any of the pack's scores (a population run that begins
        with none writes its rows straight in: :meth:`ScoreStore.write_bulk`'s ``first``)."""
        self.registry[pack]
        with self.db.read() as conn:
            return bulk.has_scores(conn, tenant, pack)

    def has_population_digests(self, pack: str, tenant: str = DEFAULT_TENANT) -> bool:
        """Whether any stored score of the pack carries a population digest (none before a
        pack's first population run: that run then skips :meth:`population_misses`)."""
        self.registry[pack]
        with self.db.read() as conn:
            return bulk.has_digests(conn, tenant, pack)

    def population_misses(
        self,
        pack: str,
        digests: pl.DataFrame,
        *,
        tenant: str = DEFAULT_TENANT,
        scorers: int,
    ) -> set[str]:
        """Of the ``entity`` and ``digest`` columns a population run computed, the entities it
        must still write (:func:`rescore.db.bulk.digest_misses`).

        A large frame is looked up in parts, one connection and thread each: every part
        costs the database a primary-key lookup per entity, work one server process does on
        one core, so on a machine with more (and SQLite's readers likewise) the parts run
        side by side; an unchanged re-run spends most of its time here."""
        self.registry[pack]

        def misses(part: pl.DataFrame) -> set[str]:
            with self.db.read() as conn:
                return bulk.digest_misses(conn, tenant, pack, part, scorers)

        count = min(LOOKUP_THREADS, max(1, digests.height // LOOKUP_PART))
        if count == 1:
            return misses(digests)
        size = -(-digests.height // count)
        with ThreadPoolExecutor(count, thread_name_prefix="rescore-digests") as pool:
            return set().union(*pool.map(misses, digests.iter_slices(size)))

    def event_watermarks(
        self, pack: str, *, tenant: str = DEFAULT_TENANT, entities: Sequence[str] | None = None
    ) -> dict[str, int]:
        """Each entity's newest event sequence (all the pack's entities when ``entities`` is
        None, in one grouped query)."""
        with self.db.read() as conn:
            return watermarks_of(conn, tenant, pack, entities)

    def stored_scores(
        self, pack: str, entities: Sequence[str], *, tenant: str = DEFAULT_TENANT
    ) -> dict[str, dict[str, StoredScore]]:
        """The stored scores of many entities: ``{entity: {scorer: StoredScore}}``."""
        self.registry[pack]
        with self.db.read() as conn:
            return self.store.current(conn, pack, entities, tenant=tenant)

    def score_now(
        self, pack: str, entities: Sequence[str], *, tenant: str = DEFAULT_TENANT
    ) -> tuple[dict[str, Mapping[str, ScoreResult]], dict[str, str]]:
        """Every scorer of ``entities`` from their current source data, written nowhere
        (reconciliation compares it with what is stored); failures by entity."""
        graph = self.registry.graph(pack)
        planned = [
            Planned(
                work=PendingWork(
                    tenant=tenant, pack=pack, entity=e, priority=0, first_seq=0, watermark=0
                ),
                causes=[],
                names=graph.order,
            )
            for e in entities
        ]
        ok, bad = self.computer.compute(tenant, pack, planned)
        return {c.entity: c.results for c, _ in ok}, {p.work.entity: e for p, e, _ in bad}

    def last_event_types(
        self, pack: str, entities: Sequence[str], *, tenant: str = DEFAULT_TENANT
    ) -> dict[str, str]:
        """The type of the newest event of each entity that has one."""
        with self.db.read() as conn:
            return _last_types(conn, tenant, pack, entities)


def watermarks_of(
    conn: Connection, tenant: str, pack: str, entities: Sequence[str] | None
) -> dict[str, int]:
    query = (
        sa.select(events.c.entity, sa.func.max(events.c.seq))
        .where(events.c.tenant == tenant, events.c.pack == pack)
        .group_by(events.c.entity)
    )
    if entities is None:
        return {str(e): int(seq) for e, seq in conn.execute(query)}
    marks: dict[str, int] = {}
    for part in chunks(sorted(set(entities))):
        marks.update(
            {str(e): int(seq) for e, seq in conn.execute(query.where(events.c.entity.in_(part)))}
        )
    return marks


def _last_types(
    conn: Connection, tenant: str, pack: str, entities: Sequence[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in chunks(sorted(set(entities))):
        newest = (
            sa.select(sa.func.max(events.c.seq))
            .where(events.c.tenant == tenant, events.c.pack == pack, events.c.entity.in_(part))
            .group_by(events.c.entity)
        )
        query = sa.select(events.c.entity, events.c.type).where(events.c.seq.in_(newest))
        found.update({str(e): str(t) for e, t in conn.execute(query)})
    return found
