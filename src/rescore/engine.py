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
    engine.ingest([{"event_id": "e1", "type": "client_default", "entity": "1001257568",
                    "occurred_at": "2026-01-23T10:30:00Z"}])
    engine.work("worker-1")            # rescoring happens here (or in a runtime's workers)
    engine.explain("credit", "1001257568")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from rescore.automations.book import RuleBook
from rescore.automations.deliveries import DeliveryOperations
from rescore.automations.operations import AutomationOperations, ScheduleOperations
from rescore.compute import Computer, Planned
from rescore.db.dialect import insert_new_events
from rescore.db.engine import Database
from rescore.db.schema import DEFAULT_TENANT
from rescore.events import Event, parse_events
from rescore.exceptions import ConfigurationError
from rescore.ingest import Limits, Recent, event_rows, refuse_reused_ids, unknown_warnings
from rescore.keys import KeyStore
from rescore.operations import (
    HistoryOperations,
    QueueOperations,
    ScoreOperations,
    WorkerOperations,
    watermarks_of,
)
from rescore.plugins import PackRegistry, discover
from rescore.queue import PendingWork, WorkQueue
from rescore.releases import ReleaseOperations, Releases, write_shadows
from rescore.reports import (
    BatchReport,
    BulkOutcomes,
    Cause,
    Explanation,
    Failure,
    IngestResult,
    Observer,
    Outcome,
    Settled,
    keys_of,
)
from rescore.routing import Lane
from rescore.settings import Settings
from rescore.store import BulkWritten, Computed, ScoreStore
from rescore.workers import WorkerRegistry

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "BatchReport",
    "BulkOutcomes",
    "Cause",
    "Engine",
    "Explanation",
    "Failure",
    "IngestResult",
    "Observer",
    "Outcome",
    "Settled",
    "keys_of",
    "utcnow",
]


log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Engine(
    QueueOperations,
    WorkerOperations,
    HistoryOperations,
    ScoreOperations,
    AutomationOperations,
    DeliveryOperations,
    ScheduleOperations,
    ReleaseOperations,
):
    """Everything rescore does to data goes through here. Pass it explicitly; no globals.

    The operations front ends use beyond ingest, work and explain come in groups from
    :mod:`rescore.operations`."""

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
        # the automations' rule book is the first observer: its firings commit with the write
        self.rulebook = RuleBook(registry, refresh=settings.rules_refresh, clock=self._now)
        self.observers: list[Observer] = [self.rulebook, *observers]
        self.queue = WorkQueue(
            max_attempts=settings.max_attempts,
            retry_backoff=settings.retry_backoff,
            lease_seconds=settings.lease_seconds,
        )
        self.store = ScoreStore()
        self.workers = WorkerRegistry()
        self.keys = KeyStore(db)
        self._known_recently = Recent()
        self.releases = Releases(registry, refresh=settings.rules_refresh)
        self.computer = Computer(
            db=db,
            source=self.source,
            registry=registry,
            store=self.store,
            shadows=self.releases.shadows,
        )

    def _now(self) -> datetime:
        """The engine's clock, read late (tests replace ``clock`` on a running engine)."""
        return self.clock()

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True, **kwargs: Any) -> Engine:
        """The engine for ``settings``, no adapters attached (``rescore.bootstrap`` attaches
        them). ``create=False`` refuses a SQLite file that does not exist yet."""
        db = Database(settings.database_url, create=create)
        source = None
        if settings.source_url and settings.source_url != settings.database_url:
            source = Database(settings.source_url, field="source_url", create=create)
        return cls(db, discover(settings.packs), settings, source=source, **kwargs)

    def migrate(self, *, source_tables: bool = True, backup: bool | None = None) -> None:
        """Bring the core tables to the latest migration; create packs' source tables if
        missing (the source schema belongs to the business system, so only when asked).

        An existing database that needs a migration is backed up first, and a failed backup
        stops the migration (``backup=False``, or ``backup_before_migrate=False`` in the
        settings, opts out)."""
        from rescore.db.migrate import create_source_tables, upgrade

        if self.settings.backup_before_migrate if backup is None else backup:
            from rescore.backup import backup_before_migrate

            backup_before_migrate(self.settings, self.db)
        upgrade(self.db)
        if source_tables:
            create_source_tables(self.source, self.registry)

    def ping(self) -> bool:
        """True when the database answers (readiness probes)."""
        return self.db.ping()

    def require_schema(self) -> None:
        """Refuse to work on a database whose tables are missing or older than this version
        (only ``rescore init`` creates them, only ``rescore migrate`` upgrades them)."""
        from rescore.db.migrate import current_revision, head_revision

        found, head = current_revision(self.db), head_revision()
        if found == head:
            return
        where = self.db.where
        if found is None:
            raise ConfigurationError(
                f"{where} has no rescore tables: create them with `rescore init`"
            )
        raise ConfigurationError(
            f"{where} is at schema {found}, this rescore needs {head}: run `rescore migrate`"
        )

    def close(self) -> None:
        self.db.dispose()
        if self.source is not self.db:
            self.source.dispose()

    # ingest -----------------------------------------------------------------------------

    def ingest(self, raws: Iterable[Any], *, tenant: str = DEFAULT_TENANT) -> IngestResult:
        """Validate, store and queue a batch of events of one tenant, all or nothing.

        An ``event_id`` already stored for the same event is acknowledged as a duplicate; one
        reused for a different event is refused (:class:`EventConflict`, nothing stored)."""
        parsed = parse_events(raws)
        rows = event_rows(
            parsed,
            router=self.registry.router,
            tenant=tenant,
            now=self.clock(),
            limits=Limits.of(self.settings),
        )
        warnings = self._unknown_entities(rows)
        urgent = any(row["lane"] == Lane.CRITICAL.value for row in rows)
        self.rulebook.take()

        def store(conn: Connection) -> tuple[list[Event], dict[str, int]]:
            new = insert_new_events(conn, rows)
            refuse_reused_ids(conn, rows, new)
            stored = [
                self._event(row, new[row["event_id"]]) for row in rows if row["event_id"] in new
            ]
            queued = self._enqueue(conn, stored)
            if stored:
                self._within("ingesting", conn, stored)
            return stored, queued

        stored, queued = self.db.retried(store, urgent=urgent)
        result = IngestResult(
            accepted=len(stored),
            duplicates=len(parsed) - len(stored),
            queued=queued,
            events=tuple(stored),
            warnings=warnings,
        )
        self._emit("ingested", result)
        self._fired()
        return result

    def _unknown_entities(self, rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
        """Warnings for entities their pack's source does not have (where the pack can tell
        cheaply): their events are stored, but rescoring them dead-letters them at once."""
        return unknown_warnings(
            rows,
            known_of=self.known_entities,
            label_of=lambda pack: self.registry[pack].entity_label,
            recent=self._known_recently,
        )

    @staticmethod
    def _event(row: Mapping[str, Any], seq: int) -> Event:
        return Event(seq=seq, **{k: v for k, v in row.items() if k != "digest"})

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
        self.releases.sync(self.db.read)
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
        computed, failures = self.computer.claimed(claimed)
        self.rulebook.take()
        with self.db.begin(urgent=urgent) as conn:
            # a claim retaken after its lease belongs to the other worker now: write only ours
            mine = self.queue.held(conn, worker, claimed)
            computed = [(c, p) for c, p in computed if (c.tenant, c.pack, c.entity) in mine]
            failures = [f for f in failures if (f[0].tenant, f[0].pack, f[0].entity) in mine]
            computed, stale = self.releases.split_stale(conn, computed)
            written = self.store.write(conn, [c for c, _ in computed], self.clock())
            write_shadows(conn, written, self.clock())
            kept = {(c.tenant, c.pack, c.entity) for c in written}
            committed = self.clock()
            outcomes = tuple(
                self._outcome(
                    c, p.work.lane, p.causes, (c.tenant, c.pack, c.entity) not in kept, committed
                )
                for c, p in computed
            )
            self._writing(conn, outcomes)
            back = self.queue.ack(conn, worker, [p.work for _, p in computed])
            done = [
                Failure(
                    work=w,
                    error=e,
                    dead=self.queue.fail(conn, worker, w, e, self.clock(), permanent=permanent),
                )
                for w, e, permanent in failures
            ]
            if stale:  # computed with a version a promotion replaced: recomputed, not written
                self.queue.release(conn, worker)
        self._notify(outcomes, done)
        self._fired()
        if back:
            self._requeued(back)
        return BatchReport(claimed=len(claimed), outcomes=outcomes, failures=tuple(done))

    def _fired(self) -> None:
        """Tell the observers what the committed transaction's rules fired."""
        fired = self.rulebook.take()
        if fired:
            self._emit("fired", fired)

    def _requeued(self, back: Sequence[PendingWork]) -> None:
        queued = {"critical": 0, "normal": 0}
        for w in back:
            queued[w.lane.value] += 1
        self._emit("requeued", queued)

    def _notify(self, outcomes: Sequence[Outcome], failures: Sequence[Failure]) -> None:
        if outcomes:
            self._emit("recomputed", outcomes)
        for failure in failures:
            self._emit("failed", failure)

    def _writing(self, conn: Connection, outcomes: Sequence[Outcome]) -> None:
        """The in-transaction hook of a score write, with the entities whose scores changed."""
        moved: Sequence[Outcome] = outcomes  # a BulkOutcomes' are all changed and fresh
        if not isinstance(outcomes, BulkOutcomes):
            moved = [o for o in outcomes if o.changes and not o.stale]
        if moved:
            self._within("writing", conn, moved)

    def _within(self, hook: str, conn: Connection, *args: Any) -> None:
        """Call an in-transaction hook on every observer. Not isolated, on purpose: what it
        writes (an automation's firing) must commit with the write or not at all."""
        for observer in list(self.observers):
            getattr(observer, hook)(conn, *args)

    def _emit(self, hook: str, *args: Any) -> None:
        """Call ``hook`` on every observer after a commit. What was committed stays
        committed: an observer that raises is logged and skipped, never turned into the
        caller's error (dramatiq's ``emit_after`` does the same)."""
        for observer in list(self.observers):
            try:
                getattr(observer, hook)(*args)
            except Exception:
                log.exception("observer %s failed in %s; ignored", type(observer).__name__, hook)

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

    def settle(self, events: Sequence[Event], *, worker: str, timeout: float) -> Settled:
        """Read-after-write: rescore the entities of ``events`` now, in this thread, and wait
        (up to ``timeout`` seconds) for any another worker is already rescoring. Fresh when
        every entity's stored scores reflect its events; a dead-lettered entity (one the
        source does not know) is given up on at once, with the reason."""
        wanted: dict[tuple[str, str, str], int] = {}
        for ev in events:
            if ev.lane != Lane.NONE.value:
                key = (ev.tenant, ev.pack, ev.entity)
                wanted[key] = max(ev.seq, wanted.get(key, 0))
        dead: dict[tuple[str, str, str], str] = {}
        deadline = time.monotonic() + timeout
        while wanted:
            self.work(worker, only=list(wanted))
            wanted = {k: seq for k, seq in wanted.items() if self._reflected(k) < seq}
            with self.db.read() as conn:
                dead |= self.queue.dead(conn, list(wanted))
            wanted = {k: seq for k, seq in wanted.items() if k not in dead}
            if not wanted or time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        return Settled(fresh=not wanted and not dead, dead=dead)

    def _reflected(self, key: tuple[str, str, str]) -> int:
        """The newest event sequence an entity's stored scores reflect (0 if never scored)."""
        tenant, pack, entity = key
        with self.db.read() as conn:
            stored = self.store.current(conn, pack, [entity], tenant=tenant).get(entity, {})
        return max((s.watermark for s in stored.values()), default=0)

    def recompute(
        self,
        pack: str,
        entities: Sequence[str],
        *,
        tenant: str = DEFAULT_TENANT,
        trigger: str = "manual",
    ) -> BatchReport:
        """Rescore entities now, every scorer, outside the queue (manual or batch rescoring;
        ``trigger`` is what history records as the cause: manual, reconciliation).

        The write carries each entity's newest event as its watermark, so it never hides a
        newer queued event's effect. An entity a worker is rescoring at this moment is left
        to that worker (its outcome says ``stale``)."""
        self.registry[pack]
        self.releases.sync(self.db.read)
        with self.db.read() as conn:
            marks = watermarks_of(conn, tenant, pack, entities)
        graph = self.registry.graph(pack)
        planned = [
            Planned(
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
                trigger=trigger,
            )
            for e in entities
        ]
        ok, bad = self.computer.compute(tenant, pack, planned)
        self.rulebook.take()
        with self.db.begin() as conn:
            busy = self.queue.in_flight(conn, tenant, pack, [c.entity for c, _ in ok])
            mine = [c for c, _ in ok if c.entity not in busy]
            written = self.store.write(conn, mine, self.clock())
            write_shadows(conn, written, self.clock())
            committed = self.clock()
            kept = {c.entity for c in written}
            outcomes = tuple(
                self._outcome(c, None, [], c.entity not in kept, committed) for c, _ in ok
            )
            self._writing(conn, outcomes)
        failures = tuple(Failure(work=p.work, error=error, dead=False) for p, error, _ in bad)
        self._notify(outcomes, failures)
        self._fired()
        return BatchReport(claimed=len(planned), outcomes=outcomes, failures=failures)

    def entity_keys(self, pack: str) -> Iterator[str]:
        """Every entity of a pack's source, streamed."""
        with self.source.read() as conn:
            yield from self.registry[pack].entity_keys(conn)

    # read -------------------------------------------------------------------------------

    def notify(self, hook: str, *args: Any) -> None:
        """Tell the observers about work done beside the engine (reconciliation), isolated
        like every other hook."""
        self._emit(hook, *args)

    def known_entities(self, pack: str, entities: Sequence[str]) -> set[str] | None:
        """Which of ``entities`` the pack's source has, or None when the pack cannot tell
        cheaply (:meth:`Pack.known_entities`)."""
        with self.source.read() as conn:
            return self.registry[pack].known_entities(conn, entities)

    def write_scores(self, batch: Sequence[Computed]) -> list[Computed]:
        """Write scores computed outside the queue through the same watermark check as every
        other write; returns those written, changes filled in."""
        self.rulebook.take()
        with self.db.begin() as conn:
            written = self.store.write(conn, batch, self.clock())
            committed = self.clock()
            outcomes = tuple(self._outcome(c, None, [], False, committed) for c in written)
            self._writing(conn, outcomes)
        if written:
            self._emit("recomputed", outcomes)
        self._fired()
        return written

    def write_population(
        self, pack: str, rows: pl.DataFrame, *, tenant: str = DEFAULT_TENANT, first: bool = False
    ) -> BulkWritten:
        """Write a population's scores in bulk (``rows`` and ``first``: see
        :meth:`ScoreStore.write_bulk`), one transaction; the hooks hear of the entities whose
        scores changed, as after any other write, and a stale entity is left alone whole."""
        self.registry[pack]
        self.rulebook.take()
        with self.db.begin() as conn:
            written = self.store.write_bulk(conn, tenant, pack, rows, self.clock(), first=first)
            outcomes = _bulk_outcomes(tenant, pack, written, self.clock())
            self._writing(conn, outcomes)
        if outcomes:
            self._emit("recomputed", outcomes)
        self._fired()
        return written


def _bulk_outcomes(
    tenant: str, pack: str, written: BulkWritten, committed: datetime
) -> Sequence[Outcome]:
    """What the observers hear of a bulk write: the outcome of each entity with a changed
    score, built only when read when every row was a first score."""
    if written.first is not None:
        return BulkOutcomes(tenant=tenant, pack=pack, committed_at=committed, rows=written.first)
    return tuple(
        Outcome(
            tenant=tenant,
            pack=pack,
            entity=entity,
            lane=None,
            changes=tuple(changes),
            causes=(),
            stale=False,
            committed_at=committed,
            values=written.values[entity],
        )
        for entity, changes in written.changes.items()
    )
