"""The distributed runtime: the engine's workers as Celery tasks, on RabbitMQ or Redis.

Same engine, same code path as the embedded runtime; only who calls ``Engine.work`` changes:

- **critical**: ingest (in whatever process: the API, the CLI, a poller) sends a
  ``rescore.critical`` task to the ``critical`` queue the moment it commits critical work, so a
  worker picks it up at once;
- **normal**: Celery beat sends ``rescore.flush`` every ``flush_interval`` seconds (and ingest
  sends one early once ``flush_size`` normal entities were queued by that process);
- ``rescore.population`` tasks (``rescore rescore PACK --all --shards N``) rescore one shard
  of a population each, on the ``population`` queue (``rescore.runtime.sharded``);
- beat also sends a ``rescore.critical`` sweep every ``flush_interval`` (claims of a dead worker
  are retaken there after their lease, and nothing depends on one message arriving), a
  ``rescore.deliver`` (the automations' dispatcher) as often, and a ``rescore.tick`` every
  ``TICK_SECONDS``: the same :class:`rescore.schedule.Scheduler` as the embedded runtime
  claims each due cron tick (rescore's jobs, the packs', the scheduled automation rules, each
  in its own time zone) and sends it as a ``rescore.job`` task. Beat itself keeps no cron:
  the claims in the database make each tick run once, whichever beat or worker sends it.

Tasks are ``acks_late`` with ``reject_on_worker_lost``: a worker killed mid-task leaves its
message to be redelivered, and its pending rows stay in ``rescore_pending`` until the
transaction that writes their scores commits, so nothing is lost; a recompute reads the source,
so running one twice is harmless. Each worker process builds its own engine after the fork, and
its own heartbeat (:class:`rescore.runtime.heartbeat.Heartbeat`): a process killed with claims
has them given back by any live worker within ``worker_stale_after`` seconds.

With ``metrics_port`` set, each worker process serves its own ``/metrics`` on
``metrics_port + N``, N its pool slot (0, 1, ... ``--concurrency``-1; a replaced process takes
its predecessor's slot, so the port set stays fixed): see ``docs/adr/0014-worker-metrics.md``.

Run it with ``rescore worker --celery`` (N of them, on any machines) and exactly one
``rescore worker --celery --beat``. The broker URL is ``RESCORE_BROKER_URL``.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from rescore.automations.dispatcher import DeliveryDispatcher
from rescore.bootstrap import open_engine
from rescore.dispatch import (
    CRITICAL_QUEUE,
    CRITICAL_TASK,
    DELIVER_TASK,
    FLUSH_TASK,
    JOB_TASK,
    NORMAL_QUEUE,
    POPULATION_TASK,
    TICK_TASK,
    celery_app,
)
from rescore.engine import Engine
from rescore.heap import settle
from rescore.metrics import MetricsServer, serve_metrics
from rescore.routing import Lane
from rescore.runtime.embedded import every_schedule
from rescore.runtime.heartbeat import Heartbeat, process_name
from rescore.schedule import Due, Scheduler
from rescore.settings import Settings

__all__ = ["CRITICAL_QUEUE", "NORMAL_QUEUE", "create_celery", "drain"]

log = logging.getLogger(__name__)


def create_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings``: queues, routes, reliability options, tasks and beat."""
    app = celery_app(settings)
    _register_tasks(app, settings)
    return app


#: Seconds between beat's ticks of the cron scheduler (cron's resolution is a minute).
TICK_SECONDS = 15.0


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery beat entries: the lane clocks, the dispatcher, and the scheduler's tick."""
    every = timedelta(seconds=settings.flush_interval)
    return {
        "rescore.flush": {"task": FLUSH_TASK, "schedule": every},
        "rescore.critical-sweep": {
            "task": CRITICAL_TASK,
            "schedule": every,
            "options": {"queue": CRITICAL_QUEUE},
        },
        "rescore.deliver": {"task": DELIVER_TASK, "schedule": every},
        "rescore.tick": {"task": TICK_TASK, "schedule": timedelta(seconds=TICK_SECONDS)},
    }


class _Worker:
    """This process's engine and heartbeat, built after the fork (one per process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pid = -1
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self.heartbeat: Heartbeat | None = None
        self._scheduler: Scheduler | None = None
        self.exporter: MetricsServer | None = None

    def process_started(self) -> None:
        """A pool process starts: open its engine, load the packs' models, settle the heap."""
        self.engine().registry.prepare()
        settle()

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._engine = open_engine(self.settings)
                self.heartbeat = Heartbeat(self._engine, process=process_name("celery"))
                for lane in Lane.CRITICAL, Lane.NORMAL:
                    self.heartbeat.claimant(lane.value)
                self.heartbeat.start()
                self._export(self._engine)
            return self._engine

    def _export(self, engine: Engine) -> None:
        """This process's ``/metrics`` on its slot's port (a fork inherits no server thread,
        so a process serves only its own counters)."""
        base = self.settings.metrics_port
        if base:
            port = base + pool_slot()
            self.exporter = serve_metrics(engine, self.settings.metrics_host, port)

    def worker(self, lane: Lane | str) -> str:
        assert self.heartbeat is not None, "engine() first"
        return self.heartbeat.claimant(lane.value if isinstance(lane, Lane) else lane)

    def scheduler(self) -> Scheduler:
        engine = self.engine()
        if self._scheduler is None or self._scheduler.engine is not engine:
            self._scheduler = Scheduler(
                engine, every_schedule(engine), claimant=self.worker("schedule")
            )
        return self._scheduler


def pool_slot() -> int:
    """This process's slot in the Celery pool (billiard numbers its processes from 0 and a
    replacement reuses the slot it fills); 0 outside a pool (``--pool solo``)."""
    from billiard.process import current_process

    slot = getattr(current_process(), "index", 0)
    return slot if isinstance(slot, int) else 0


def drain(engine: Engine, worker: str, lane: Lane) -> int:
    """Work batches of a lane as ``worker`` until none is left; return how many rows were
    claimed."""
    total = 0
    while True:
        report = engine.work(worker, lane)
        if report.claimed == 0:
            return total
        total += report.claimed


def _register_tasks(app: Celery, settings: Settings) -> None:
    state = _Worker(settings)

    @app.task(name=CRITICAL_TASK)  # type: ignore[untyped-decorator]
    def critical() -> int:
        engine = state.engine()
        return drain(engine, state.worker(Lane.CRITICAL), Lane.CRITICAL)

    @app.task(name=FLUSH_TASK)  # type: ignore[untyped-decorator]
    def flush() -> int:
        engine = state.engine()
        return drain(engine, state.worker(Lane.NORMAL), Lane.NORMAL)

    @app.task(name=TICK_TASK)  # type: ignore[untyped-decorator]
    def tick() -> int:
        due = state.scheduler().tick()
        for claimed in due:
            app.send_task(JOB_TASK, args=(claimed.schedule.name, claimed.at.isoformat()))
        return len(due)

    @app.task(name=JOB_TASK)  # type: ignore[untyped-decorator]
    def job(name: str, due: str) -> bool:
        scheduler = state.scheduler()
        found = {s.name: s for s in scheduler.schedules()}
        if name not in found:
            log.warning("schedule %s is gone (its rule was removed); not run", name)
            return False
        return scheduler.run(Due(found[name], datetime.fromisoformat(due)))

    @app.task(name=DELIVER_TASK)  # type: ignore[untyped-decorator]
    def deliver() -> int:
        engine = state.engine()
        dispatcher = DeliveryDispatcher(engine, worker=state.worker("deliver"))
        total = 0
        while handled := dispatcher.run_once().handled:
            total += handled
        return total

    @app.task(name=POPULATION_TASK, ignore_result=False)  # type: ignore[untyped-decorator]
    def population(
        pack: str, index: int, count: int, chunk_size: int, parquet: str | None
    ) -> dict[str, float]:
        from rescore.runtime.sharded import rescore_shard

        return rescore_shard(state.engine(), pack, (index, count), chunk_size, parquet)

    app.conf.beat_schedule = beat_schedule(settings)
    # each pool process opens its engine (and serves /metrics, when asked) and loads the packs'
    # models as it starts, not on its first task: an idle process must not look gone to
    # Prometheus, and the first critical event must not wait seconds for a model
    worker_process_init.connect(lambda **_: state.process_started(), weak=False)
