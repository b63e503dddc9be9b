"""The engine: ingest events, recompute the entities they touch, explain what changed.

Ingest validates a whole batch first, then in one transaction appends the new events
(duplicates by ``event_id`` are acknowledged, not applied twice) and coalesces pending work.
A worker step claims a batch, reads the causing events and the entities' current source data,
runs the affected scorers and their dependents in dependency order, and writes scores, history
and the acknowledgement of the work in one transaction. Reading and computing happen outside
the write transaction so a long normal-lane flush does not hold the write lock.

Example::

    engine = Engine.from_settings(Settings(database_url="sqlite:///scores.db"))
    engine.migrate()
    engine.ingest([{"event_id": "e1", "type": "client_default", "entity": "1006157869",
                    "occurred_at": "2026-01-23T10:30:00Z"}])
    engine.work("worker-1")            # rescoring happens here (or in a runtime's workers)
    engine.explain("credit", "1006157869")
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.dialect import insert_new_events
from rescore.db.engine import Database
from rescore.db.schema import DEFAULT_TENANT, events
from rescore.events import Event, EventIn, parse_events
from rescore.exceptions import EntityNotFound, InvalidEvent, RescoreError, UnknownEventType
from rescore.plugins import PackRegistry, discover
from rescore.queue import PendingWork, WorkQueue
from rescore.reports import (
    BatchReport,
    Cause,
    Explanation,
    Failure,
    IngestResult,
    Observer,
    Outcome,
)
from rescore.routing import Lane
from rescore.scoring import ScoreResult, evaluate
from rescore.settings import Settings
from rescore.store import Computed, HistoryEntry, ScoreStore, StoredScore, chunks

__all__ = [
    "BatchReport",
    "Cause",
    "Engine",
    "Explanation",
    "Failure",
    "IngestResult",
    "Observer",
    "Outcome",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(kw_only=True, slots=True)
class _Planned:
    work: PendingWork
    causes: list[Cause]
    names: tuple[str, ...]


class Engine:
    """Everything rescore does to data goes through here. Pass it explicitly; no globals."""

    def __init__(
        self,
        db: Database,
        registry: PackRegistry,
        settings: Settings,
        *,
        source: Database | None = None,
        clock: Callable[[], datetime] = utcnow,
        observers: Iterable[Observer] = (),
    ) -> None:
        self.db = db
        self.source = source or db
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.observers: list[Observer] = list(observers)
        self.queue = WorkQueue(
            max_attempts=settings.max_attempts,
            retry_backoff=settings.retry_backoff,
            lease_seconds=settings.lease_seconds,
        )
        self.store = ScoreStore()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Engine:
        db = Database(settings.database_url)
        source = None
        if settings.source_url and settings.source_url != settings.database_url:
            source = Database(settings.source_url)
        engine = cls(db, discover(settings.packs), settings, source=source, **kwargs)
        from rescore.runtime import observers_for  # the Celery dispatcher, the Redis cache

        engine.observers.extend(observers_for(settings))
        return engine

    def migrate(self, *, source_tables: bool = True) -> None:
        """Bring the core tables to the latest migration; create packs' source tables if
        missing (the source schema belongs to the business system, so only when asked)."""
        from rescore.db.migrate import create_source_tables, upgrade

        upgrade(self.db)
        if source_tables:
            create_source_tables(self.source, self.registry)

    def close(self) -> None:
        self.db.dispose()
        if self.source is not self.db:
            self.source.dispose()

    # ingest -----------------------------------------------------------------------------

    def ingest(self, raws: Iterable[Any], *, tenant: str = DEFAULT_TENANT) -> IngestResult:
        """Validate, store and queue a batch of events of one tenant, all or nothing."""
        parsed = parse_events(raws)
        rows = self._event_rows(parsed, self.clock(), tenant)
        urgent = any(row["lane"] == Lane.CRITICAL.value for row in rows)
        with self.db.begin(urgent=urgent) as conn:
            new = insert_new_events(conn, rows)
            stored = [
                self._event(row, new[row["event_id"]]) for row in rows if row["event_id"] in new
            ]
            queued = self._enqueue(conn, stored)
        result = IngestResult(
            accepted=len(stored),
            duplicates=len(parsed) - len(stored),
            queued=queued,
            events=tuple(stored),
        )
        for observer in self.observers:
            observer.ingested(result)
        return result

    def _event_rows(
        self, parsed: Sequence[EventIn], now: datetime, tenant: str
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        seen: set[str] = set()
        for index, event in enumerate(parsed, start=1):
            try:
                resolved = self.registry.router.resolve(event.type, event.pack)
            except UnknownEventType as exc:
                problems.append(f"event {index}: {exc.field}: {exc.message}")
                continue
            if event.event_id in seen:
                continue  # repeated within the batch: the first one counts
            seen.add(event.event_id)
            rows.append(
                {
                    "event_id": event.event_id,
                    "tenant": tenant,
                    "pack": resolved.pack,
                    "type": event.type,
                    "entity": event.entity,
                    "lane": resolved.route.lane.value,
                    "occurred_at": event.occurred_at,
                    "received_at": now,
                    "payload": event.payload,
                }
            )
        if problems:
            raise InvalidEvent("; ".join(problems[:10]) + " (nothing was stored)", field="type")
        return rows

    @staticmethod
    def _event(row: Mapping[str, Any], seq: int) -> Event:
        return Event(seq=seq, **row)

    def _enqueue(self, conn: Connection, stored: Sequence[Event]) -> dict[str, int]:
        work: dict[tuple[str, str, str], PendingWork] = {}
        for ev in stored:
            route = self.registry.router.resolve(ev.type, ev.pack).route
            if route.lane is Lane.NONE:
                continue
            key = (ev.tenant, ev.pack, ev.entity)
            prev = work.get(key)
            work[key] = PendingWork(
                tenant=ev.tenant,
                pack=ev.pack,
                entity=ev.entity,
                priority=max(route.effective_priority, prev.priority if prev else 0),
                first_seq=min(ev.seq, prev.first_seq if prev else ev.seq),
                watermark=max(ev.seq, prev.watermark if prev else ev.seq),
            )
        self.queue.enqueue(conn, work.values(), self.clock())
        queued = {"critical": 0, "normal": 0}
        for w in work.values():
            queued[w.lane.value] += 1
        return queued

    # recompute --------------------------------------------------------------------------

    def work(
        self,
        worker: str,
        lane: Lane | None = None,
        limit: int | None = None,
        *,
        only: Sequence[tuple[str, str, str]] = (),
    ) -> BatchReport:
        """Claim one batch of pending work (of a lane, or of the ``only`` keys), recompute it,
        write and acknowledge it."""
        urgent = lane is Lane.CRITICAL or bool(only)
        with self.db.begin(urgent=urgent) as conn:
            claimed = self.queue.claim(
                conn,
                worker,
                self.clock(),
                lane=lane,
                limit=limit or self.settings.batch_size,
                only=only,
            )
        if not claimed:
            return BatchReport()
        computed, failures = self._compute_claimed(claimed)
        with self.db.begin(urgent=urgent) as conn:
            # a claim retaken after its lease belongs to the other worker now: write only ours
            mine = self.queue.held(conn, worker, claimed)
            computed = [(c, p) for c, p in computed if (c.tenant, c.pack, c.entity) in mine]
            failures = [(w, e) for w, e in failures if (w.tenant, w.pack, w.entity) in mine]
            written = self.store.write(conn, [c for c, _ in computed], self.clock())
            back = self.queue.ack(conn, worker, [p.work for _, p in computed])
            done = [
                Failure(work=w, error=e, dead=self.queue.fail(conn, worker, w, e, self.clock()))
                for w, e in failures
            ]
        committed = self.clock()
        kept = {(c.tenant, c.pack, c.entity) for c in written}
        outcomes = tuple(
            self._outcome(
                c, p.work.lane, p.causes, (c.tenant, c.pack, c.entity) not in kept, committed
            )
            for c, p in computed
        )
        self._notify(outcomes, done)
        if back:
            self._requeued(back)
        return BatchReport(claimed=len(claimed), outcomes=outcomes, failures=tuple(done))

    def _requeued(self, back: Sequence[PendingWork]) -> None:
        queued = {"critical": 0, "normal": 0}
        for w in back:
            queued[w.lane.value] += 1
        for observer in self.observers:
            observer.requeued(queued)

    def _notify(self, outcomes: Sequence[Outcome], failures: Sequence[Failure]) -> None:
        for observer in self.observers:
            if outcomes:
                observer.recomputed(outcomes)
            for failure in failures:
                observer.failed(failure)

    @staticmethod
    def _outcome(
        c: Computed, lane: Lane | None, causes: Sequence[Cause], stale: bool, at: datetime
    ) -> Outcome:
        return Outcome(
            tenant=c.tenant,
            pack=c.pack,
            entity=c.entity,
            lane=lane,
            changes=tuple(c.changes),
            causes=tuple(causes),
            stale=stale,
            committed_at=at,
            values={name: result.value for name, result in c.results.items()},
        )

    def _compute_claimed(
        self, claimed: Sequence[PendingWork]
    ) -> tuple[list[tuple[Computed, _Planned]], list[tuple[PendingWork, str]]]:
        groups: dict[tuple[str, str], list[PendingWork]] = defaultdict(list)
        for w in claimed:
            groups[(w.tenant, w.pack)].append(w)
        computed: list[tuple[Computed, _Planned]] = []
        failures: list[tuple[PendingWork, str]] = []
        for (tenant, pack), works in groups.items():
            with self.db.read() as conn:
                causes = self._causes(conn, tenant, pack, works)
            planned = [self._plan(pack, w, causes.get(w.entity, [])) for w in works]
            ok, bad = self._compute(tenant, pack, planned)
            computed.extend(ok)
            failures.extend((p.work, error) for p, error in bad)
        return computed, failures

    def _plan(self, pack: str, work: PendingWork, causes: list[Cause]) -> _Planned:
        graph = self.registry.graph(pack)
        routes = self.registry.router.routes(pack)
        named = {s for c in causes for s in routes[c.type].scorers}
        names = graph.affected(named) if named else graph.order
        return _Planned(work=work, causes=causes, names=names)

    def _compute(
        self, tenant: str, pack: str, planned: Sequence[_Planned]
    ) -> tuple[list[tuple[Computed, _Planned]], list[tuple[_Planned, str]]]:
        """Load inputs for many entities at once and run their scorers; failures stay per
        entity so one bad entity does not sink its batch."""
        graph = self.registry.graph(pack)
        entities = [p.work.entity for p in planned]
        known: dict[str, dict[str, StoredScore]] = {}
        if any(len(p.names) < len(graph) for p in planned):  # else nothing stored is read
            with self.db.read() as conn:
                known = self.store.current(conn, pack, entities, tenant=tenant)
        needed = [graph.plan(p.names, known.get(p.work.entity, {})) for p in planned]
        parts = graph.parts({n for names in needed for n in names})
        with self.source.read() as conn:
            inputs = self.registry[pack].load_inputs(conn, entities, parts)
        ok: list[tuple[Computed, _Planned]] = []
        bad: list[tuple[_Planned, str]] = []
        for p in planned:
            try:
                results = self._score(pack, p.work.entity, p.names, inputs, known)
            except RescoreError as exc:
                bad.append((p, f"{type(exc).__name__}: {exc}"))
                continue
            ok.append((self._computed(tenant, pack, p, results), p))
        return ok, bad

    def _score(
        self,
        pack: str,
        entity: str,
        names: Sequence[str],
        inputs: Mapping[str, Mapping[str, Any]],
        known: Mapping[str, Mapping[str, StoredScore]],
    ) -> dict[str, ScoreResult]:
        if entity not in inputs:
            label = self.registry[pack].entity_label
            raise EntityNotFound(f"no {label} {entity!r} in the {pack} source data")
        stored = {n: s.as_result() for n, s in known.get(entity, {}).items()}
        return evaluate(self.registry.graph(pack), inputs[entity], names, stored)

    def _computed(
        self, tenant: str, pack: str, p: _Planned, results: Mapping[str, ScoreResult]
    ) -> Computed:
        graph = self.registry.graph(pack)
        return Computed(
            tenant=tenant,
            pack=pack,
            entity=p.work.entity,
            results=results,
            versions={n: graph[n].version for n in results},
            watermark=p.work.watermark,
            event_ids=tuple(c.event_id for c in p.causes),
        )

    def _causes(
        self, conn: Connection, tenant: str, pack: str, works: Sequence[PendingWork]
    ) -> dict[str, list[Cause]]:
        """The events each claimed entity has not yet reflected (its pending range)."""
        ranges = {w.entity: (w.first_seq, w.watermark) for w in works}
        low = min(lo for lo, _ in ranges.values())
        found: dict[str, list[Cause]] = defaultdict(list)
        for part in chunks(sorted(ranges)):
            query = (
                sa.select(events)
                .where(
                    events.c.tenant == tenant,
                    events.c.pack == pack,
                    events.c.entity.in_(part),
                    events.c.seq >= low,
                    events.c.lane != Lane.NONE.value,
                )
                .order_by(events.c.seq)
            )
            for row in conn.execute(query):
                lo, hi = ranges[row.entity]
                if lo <= row.seq <= hi:
                    found[row.entity].append(_cause(row))
        return found

    def settle(self, events: Sequence[Event], *, worker: str, timeout: float) -> bool:
        """Read-after-write: rescore the entities of ``events`` now, in this thread, and wait
        (up to ``timeout`` seconds) for any another worker is already rescoring. True when
        every entity's stored scores reflect its events."""
        wanted: dict[tuple[str, str, str], int] = {}
        for ev in events:
            if ev.lane != Lane.NONE.value:
                key = (ev.tenant, ev.pack, ev.entity)
                wanted[key] = max(ev.seq, wanted.get(key, 0))
        deadline = time.monotonic() + timeout
        while wanted:
            self.work(worker, only=list(wanted))
            wanted = {k: seq for k, seq in wanted.items() if self._reflected(k) < seq}
            if not wanted or time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        return not wanted

    def _reflected(self, key: tuple[str, str, str]) -> int:
        """The newest event sequence an entity's stored scores reflect (0 if never scored)."""
        tenant, pack, entity = key
        with self.db.read() as conn:
            stored = self.store.current(conn, pack, [entity], tenant=tenant).get(entity, {})
        return max((s.watermark for s in stored.values()), default=0)

    def recompute(
        self, pack: str, entities: Sequence[str], *, tenant: str = DEFAULT_TENANT
    ) -> BatchReport:
        """Rescore entities now, every scorer, outside the queue (manual or batch rescoring).

        The write carries each entity's newest event as its watermark, so it never hides a
        newer queued event's effect. An entity a worker is rescoring at this moment is left
        to that worker (its outcome says ``stale``)."""
        self.registry[pack]
        with self.db.read() as conn:
            marks = self._watermarks(conn, tenant, pack, entities)
        graph = self.registry.graph(pack)
        planned = [
            _Planned(
                work=PendingWork(
                    tenant=tenant,
                    pack=pack,
                    entity=e,
                    priority=0,
                    first_seq=0,
                    watermark=marks.get(e, 0),
                ),
                causes=[],
                names=graph.order,
            )
            for e in entities
        ]
        ok, bad = self._compute(tenant, pack, planned)
        with self.db.begin() as conn:
            busy = self.queue.in_flight(conn, tenant, pack, [c.entity for c, _ in ok])
            mine = [c for c, _ in ok if c.entity not in busy]
            written = self.store.write(conn, mine, self.clock())
        committed = self.clock()
        kept = {c.entity for c in written}
        outcomes = tuple(self._outcome(c, None, [], c.entity not in kept, committed) for c, _ in ok)
        failures = tuple(Failure(work=p.work, error=error, dead=False) for p, error in bad)
        self._notify(outcomes, failures)
        return BatchReport(claimed=len(planned), outcomes=outcomes, failures=failures)

    @staticmethod
    def _watermarks(
        conn: Connection, tenant: str, pack: str, entities: Sequence[str]
    ) -> dict[str, int]:
        marks: dict[str, int] = {}
        for part in chunks(sorted(set(entities))):
            query = (
                sa.select(events.c.entity, sa.func.max(events.c.seq))
                .where(events.c.tenant == tenant, events.c.pack == pack, events.c.entity.in_(part))
                .group_by(events.c.entity)
            )
            marks.update(dict(conn.execute(query).all()))
        return marks

    def entity_keys(self, pack: str) -> Iterator[str]:
        """Every entity of a pack's source, streamed."""
        with self.source.read() as conn:
            yield from self.registry[pack].entity_keys(conn)

    # read -------------------------------------------------------------------------------

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
                causes.update({row.event_id: _cause(row) for row in conn.execute(query)})
        return Explanation(
            pack=pack, entity=entity, current=current, changes=tuple(changes), causes=causes
        )


def _cause(row: Any) -> Cause:
    return Cause(
        event_id=row.event_id,
        type=row.type,
        lane=Lane(row.lane),
        seq=row.seq,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        payload=row.payload,
    )
