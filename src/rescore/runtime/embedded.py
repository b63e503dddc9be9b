"""The embedded runtime: the engine's workers as threads in this process, zero services.

Two workers share the engine:

- the **critical** worker sleeps on an event that ingest sets the moment it queues critical
  work, so a default is rescored without any polling delay;
- the **normal** worker flushes the normal lane every ``flush_interval`` seconds, or as soon
  as ``flush_size`` entities wait, whichever comes first, in batches of ``batch_size``.

Both also wake every ``poll_interval`` to pick up work queued by other processes (a CLI
``ingest`` beside a running ``worker``); on PostgreSQL a fourth thread LISTENs, so critical
work queued by another process (the API, a poller) wakes the critical worker at once. A third
thread runs every cron schedule as it falls due (rescore's jobs, the packs', the scheduled
automation rules: :class:`rescore.schedule.Scheduler`), and a fifth delivers the automations'
outbox (:class:`rescore.automations.dispatcher.DeliveryDispatcher`).
``stop()`` lets the batch in hand finish, then hands back anything still claimed; a batch that
fails on an error (a deadlock, a lost connection) hands its claims back at once too.

The workers register in the database and beat (:class:`rescore.runtime.heartbeat.Heartbeat`):
a runtime killed with claims in hand has them given back by any live worker within
``worker_stale_after`` seconds, and a restarted runtime on the same host takes back its dead
predecessor's claims the moment it starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from rescore.automations.dispatcher import DeliveryDispatcher
from rescore.automations.scheduling import RuleSchedules
from rescore.db.dialect import WAKE_CHANNEL
from rescore.engine import Engine, IngestResult, Observer
from rescore.exceptions import STORAGE_RETRYABLE
from rescore.heap import settle
from rescore.retention import history_schedules
from rescore.routing import Lane
from rescore.runtime.heartbeat import Heartbeat
from rescore.schedule import Schedule, Scheduler
from rescore.settings import Settings

if TYPE_CHECKING:
    from rescore.runtime.companion import Companion

__all__ = ["EmbeddedRuntime"]

log = logging.getLogger(__name__)

#: Longest a normal-lane slice waits for critical work to finish (seconds).
YIELD_LIMIT = 0.5

#: Every loop a runtime can run; the listen loop only on PostgreSQL.
LOOPS = frozenset({"critical", "normal", "schedule", "dispatch", "listen"})
#: What the API's process runs when a companion process runs the rest.
CRITICAL_LOOPS = frozenset({"critical", "listen"})


class Flag(Protocol):
    """A ``threading.Event`` or, shared with a companion process, a ``multiprocessing``
    one."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class _Waker(Observer):
    """Wakes the workers when ingest queues work in this process."""

    def __init__(self, runtime: EmbeddedRuntime) -> None:
        self.runtime = runtime

    def ingested(self, result: IngestResult) -> None:
        self.requeued(result.queued)

    def requeued(self, queued: Mapping[str, int]) -> None:
        if queued.get("critical"):
            self.runtime.critical_is_coming()
        if queued.get("normal"):
            self.runtime.note_normal(queued["normal"])


def core_schedules(settings: Settings) -> list[Schedule]:
    """rescore's own jobs, each on its cron (in ``settings.timezone``): the periodic snapshot
    lookups fall back on when the DB is down, the nightly backup (seed 001: "never lose the
    historical data"), the nightly reconciliation of every pack, and on PostgreSQL the history
    partitions (created ahead, retention)."""
    found: list[Schedule] = [*history_schedules(settings)]
    jobs = (
        ("rescore.snapshot", settings.snapshot_cron, _export_snapshot,
         "Export every current score to CSV and Parquet."),
        ("rescore.backup", settings.backup_cron, _backup,
         "Back up the database (verified manifest, rotation, bucket copy)."),
        ("rescore.reconcile", settings.reconcile_cron, _reconcile_all,
         "Compare every pack's stored scores with a recompute; repair drift."),
    )  # fmt: skip
    for name, cron, run, description in jobs:
        if cron:  # empty: never
            found.append(
                Schedule(
                    name=name,
                    cron=cron,
                    timezone=settings.timezone,
                    run=run,
                    description=description,
                )
            )
    return found


def every_schedule(engine: Engine) -> Callable[[], list[Schedule]]:
    """What a scheduler runs: rescore's jobs, every pack's, every scheduled automation rule."""
    fixed = [*core_schedules(engine.settings), *engine.registry.schedules()]
    rules = RuleSchedules(engine)
    return lambda: [*fixed, *rules()]


def _reconcile_all(engine: Engine, due: datetime) -> None:
    from rescore.reconcile import reconcile

    for pack in engine.registry.names:
        report = reconcile(engine, pack, tenant=engine.settings.tenant)
        log.info(
            "reconciled %s: %d checked, %d drifted, %d repaired; by scorer %s",
            pack,
            report.checked,
            report.drifted_entities,
            report.repaired,
            dict(report.by_scorer),
        )


def _backup(engine: Engine, due: datetime) -> None:
    from rescore.backup import backup_from_settings

    url = engine.db.url.render_as_string(hide_password=False)
    made = backup_from_settings(engine.settings, database_url=url)
    log.info(
        "backup %s: %d tables, %d rows, %d bytes",
        made.path,
        len(made.manifest.tables),
        made.manifest.rows,
        made.manifest.size,
    )


def _export_snapshot(engine: Engine, due: datetime) -> None:
    from rescore.snapshot import export_snapshot  # polars: only when a snapshot is due

    export_snapshot(engine, engine.settings.snapshot_dir)


class EmbeddedRuntime:
    """Start with ``start()`` or as a context manager; ``stop()`` to shut down cleanly."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str | None = None,
        heartbeat: Heartbeat | None = None,
        loops: Collection[str] = LOOPS,
        critical_idle: Flag | None = None,
        companion: Companion | None = None,
    ) -> None:
        """``heartbeat``: the process's heartbeat when another part of it (the API) shares it;
        by default the runtime has its own, started and stopped with it.

        ``companion``: run only the critical lane here and the rest (normal lane, schedules,
        deliveries) in that companion process (:mod:`rescore.runtime.companion`).
        ``loops`` and ``critical_idle`` are how the companion's own runtime is built: the
        loops it runs, and the flag, shared with the API's process, that says no critical
        work is in hand there (the normal lane yields while it is clear)."""
        self.engine = engine
        self.settings = engine.settings
        self._owns_heartbeat = heartbeat is None
        self.heartbeat = heartbeat or Heartbeat(engine, process=name)
        self.name = self.heartbeat.process
        self.companion = companion
        self._loops = CRITICAL_LOOPS if companion is not None else frozenset(loops)
        lanes = (Lane.CRITICAL, Lane.NORMAL)
        self._workers = {lane: self.heartbeat.claimant(lane.value) for lane in lanes}
        self.critical_ready = threading.Event()
        if companion is not None:
            critical_idle = companion.critical_idle
        self._critical_idle: Flag = critical_idle or threading.Event()
        self._critical_idle.set()
        self._normal_due = threading.Condition()
        self._normal_waiting = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._waker = _Waker(self)
        self.last_beat: dict[str, float] = {}
        self.job_runs: list[tuple[str, bool]] = []

    def __enter__(self) -> EmbeddedRuntime:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._threads:
            return
        self._stopping.clear()
        self.engine.observers.append(self._waker)
        self.heartbeat.start()  # first: takes back a dead predecessor's claims, then wakes us
        # models load beside the first work, in a thread of their own that ends when done
        threading.Thread(target=self._prepare, name="rescore-prepare", daemon=True).start()
        loops = {
            "critical": self._critical_loop,
            "normal": self._normal_loop,
            "schedule": self._schedule_loop,
            "dispatch": self._dispatch_loop,
            "listen": self._listen_loop,
        }
        if self.engine.db.dialect != "postgresql":
            del loops["listen"]  # LISTEN/NOTIFY is PostgreSQL's
        for label, loop in loops.items():
            if label in self._loops:
                thread = threading.Thread(target=loop, name=f"rescore-{label}", daemon=True)
                self._threads.append(thread)
                thread.start()
        if self.companion is not None:
            self.companion.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand, then release any claimed work back to the queue."""
        self._stopping.set()
        self.critical_ready.set()
        with self._normal_due:
            self._normal_due.notify_all()
        if self.companion is not None:
            self.companion.stop(timeout)  # first: it may be waiting for our critical work
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self._waker in self.engine.observers:
            self.engine.observers.remove(self._waker)
        for lane in Lane.CRITICAL, Lane.NORMAL:
            try:
                self.engine.release(self._worker(lane))
            except STORAGE_RETRYABLE:
                log.warning("could not release claimed work; it is given back once we are stale")
        if self._owns_heartbeat:
            self.heartbeat.stop()

    def _prepare(self) -> None:
        """Load the packs' models, then take start-up's objects out of the collector's full
        passes (:mod:`rescore.heap`)."""
        self.engine.registry.prepare()
        settle()

    @property
    def alive(self) -> bool:
        threads = bool(self._threads) and all(t.is_alive() for t in self._threads)
        companion = self.companion is None or self.companion.alive
        return threads and companion and self.heartbeat.running

    def note_normal(self, count: int) -> None:
        if self.companion is not None:
            self.companion.note_normal(count)  # its normal lane counts toward flush_size
            return
        with self._normal_due:
            self._normal_waiting += count
            if self._normal_waiting >= self.settings.flush_size:
                self._normal_due.notify_all()

    def critical_is_coming(self) -> None:
        """Critical work was queued in this process: wake the critical worker, and have the
        normal lane (here or in the companion) yield from now, not from when it wakes."""
        self._critical_idle.clear()
        self.critical_ready.set()

    def _worker(self, lane: Lane) -> str:
        return self._workers[lane]

    def _critical_loop(self) -> None:
        while not self._stopping.is_set():
            self.last_beat["critical"] = time.monotonic()
            self.critical_ready.wait(self.settings.poll_interval)
            self._critical_idle.clear()
            self.critical_ready.clear()
            try:
                self._drain(Lane.CRITICAL)
            finally:
                if not self.critical_ready.is_set():  # else more is coming: stay busy
                    self._critical_idle.set()

    def _normal_loop(self) -> None:
        deadline = time.monotonic() + self.settings.flush_interval
        while not self._stopping.is_set():
            self.last_beat["normal"] = time.monotonic()
            with self._normal_due:
                due = self._normal_waiting >= self.settings.flush_size
                if not due:
                    self._normal_due.wait(
                        min(self.settings.poll_interval, max(0.0, deadline - time.monotonic()))
                    )
                due = self._normal_waiting >= self.settings.flush_size
            if self._stopping.is_set():
                return
            if due or time.monotonic() >= deadline:
                with self._normal_due:
                    self._normal_waiting = 0
                self._drain(Lane.NORMAL)
                deadline = time.monotonic() + self.settings.flush_interval

    def _listen_loop(self) -> None:
        """Wake the critical worker when another process commits critical work."""
        listener = self.engine.db.listen(WAKE_CHANNEL)
        assert listener is not None
        try:
            while not self._stopping.is_set():
                self.last_beat["listen"] = time.monotonic()
                try:
                    if listener.wait(min(1.0, self.settings.poll_interval)):
                        self.critical_is_coming()
                except STORAGE_RETRYABLE as exc:
                    log.warning("listen: %s; retrying", exc)
                    self._stopping.wait(self.settings.poll_interval)
        finally:
            listener.close()

    def _schedule_loop(self) -> None:
        """Claim and run each cron tick as it falls due; a failing job is logged, not fatal."""
        scheduler = Scheduler(
            self.engine, every_schedule(self.engine), claimant=self.heartbeat.process
        )
        while not self._stopping.is_set():
            self.last_beat["schedule"] = time.monotonic()
            try:
                for due in scheduler.tick():
                    self.job_runs.append((due.schedule.name, scheduler.run(due)))
            except STORAGE_RETRYABLE as exc:
                log.warning("scheduler: %s; retrying", exc)
            self._stopping.wait(min(1.0, self.settings.poll_interval))

    def _dispatch_loop(self) -> None:
        """Deliver the automations' outbox: digests, retries, quiet hours."""
        dispatcher = DeliveryDispatcher(self.engine, worker=self.heartbeat.claimant("deliver"))
        while not self._stopping.is_set():
            self.last_beat["dispatch"] = time.monotonic()
            try:
                handled = dispatcher.run_once().handled
            except STORAGE_RETRYABLE as exc:
                log.warning("dispatcher: %s; retrying", exc)
                handled = 0
            except Exception:
                log.exception("dispatcher failed on a batch; its claims come back after the lease")
                handled = 0
            if not handled:
                self._stopping.wait(self.settings.poll_interval)

    def _yield_to_critical(self) -> None:
        """Wait while critical work is signalled or being rescored (at most ``YIELD_LIMIT``
        seconds, so a stream of critical events cannot starve the normal lane): the critical
        worker then has the write lock and the interpreter to itself."""
        deadline = time.monotonic() + YIELD_LIMIT
        while not self._critical_idle.is_set() and (
            time.monotonic() < deadline and not self._stopping.is_set()
        ):
            self._critical_idle.wait(0.001)

    def _drain(self, lane: Lane) -> None:
        """Work batches of a lane until it is empty (or we are asked to stop). The normal lane
        goes in slices of ``flush_slice`` entities, each its own claim and write, and yields to
        critical work between them, so a critical event never waits behind a whole flush."""
        normal = lane is Lane.NORMAL
        limit = min(self.settings.flush_slice, self.settings.batch_size) if normal else None
        while not self._stopping.is_set():
            if normal:
                self._yield_to_critical()
            try:
                report = self.engine.work(self._worker(lane), lane, limit)
            except STORAGE_RETRYABLE as exc:
                log.warning("%s worker: %s; retrying", lane, exc)
                self._stopping.wait(self.settings.poll_interval)
                return
            except Exception:
                log.exception("%s worker failed on a batch; handing it back", lane)
                self._release(lane)
                self._stopping.wait(self.settings.poll_interval)
                return
            if report.claimed == 0:
                return

    def _release(self, lane: Lane) -> None:
        try:
            self.engine.release(self._worker(lane))
        except Exception:
            log.warning("could not hand back claimed work; it is given back once we are stale")

    def drain_all(self, lanes: Sequence[Lane] = (Lane.CRITICAL, Lane.NORMAL)) -> None:
        """Process everything pending now, in this thread (for CLIs and tests)."""
        for lane in lanes:
            while self.engine.work(self._worker(lane), lane).claimed:
                pass
