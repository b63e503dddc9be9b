"""The distributed runtime: the engine's workers as Celery tasks, on RabbitMQ or Redis.

Same engine, same code path as the embedded runtime; only who calls ``Engine.work`` changes:

- **critical**: ingest (in whatever process: the API, the CLI, a poller) sends a
  ``rescore.critical`` task to the ``critical`` queue the moment it commits critical work, so a
  worker picks it up at once;
- **normal**: Celery beat sends ``rescore.flush`` every ``flush_interval`` seconds (and ingest
  sends one early once ``flush_size`` normal entities were queued by that process);
- beat also sends a ``rescore.critical`` sweep every ``flush_interval`` (claims of a dead worker
  are retaken there after their lease, and nothing depends on one message arriving), the core
  snapshot and every pack's schedules as ``rescore.job`` tasks.

Tasks are ``acks_late`` with ``reject_on_worker_lost``: a worker killed mid-task leaves its
message to be redelivered, and its pending rows stay in ``rescore_pending`` until the
transaction that writes their scores commits, so nothing is lost; a recompute reads the source,
so running one twice is harmless. Each worker process builds its own engine after the fork.

Run it with ``rescore worker --celery`` (N of them, on any machines) and exactly one
``rescore worker --celery --beat``. The broker URL is ``RESCORE_BROKER_URL``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab
from kombu.entity import Queue

from rescore.bootstrap import open_engine
from rescore.engine import Engine, IngestResult, Observer
from rescore.routing import Lane
from rescore.runtime.embedded import core_schedules
from rescore.schedule import Schedule
from rescore.settings import Settings

__all__ = ["CRITICAL_QUEUE", "NORMAL_QUEUE", "Dispatcher", "create_celery", "drain"]

log = logging.getLogger(__name__)

CRITICAL_QUEUE = "critical"
NORMAL_QUEUE = "normal"
CRITICAL_TASK = "rescore.critical"
FLUSH_TASK = "rescore.flush"
JOB_TASK = "rescore.job"


def create_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings``: queues, routes, reliability options, tasks and beat."""
    if not settings.broker_url:
        raise ValueError("the Celery runtime needs a broker: set RESCORE_BROKER_URL")
    app = Celery("rescore", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        task_queues=(Queue(CRITICAL_QUEUE), Queue(NORMAL_QUEUE)),  # type: ignore[no-untyped-call]
        task_default_queue=NORMAL_QUEUE,
        task_routes={CRITICAL_TASK: {"queue": CRITICAL_QUEUE}},
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        broker_connection_retry_on_startup=True,
        # Redis redelivers a dead worker's unacked message after this many seconds
        broker_transport_options={"visibility_timeout": max(60.0, 2 * settings.lease_seconds)},
        worker_hijack_root_logger=False,
        enable_utc=True,
        timezone="UTC",
    )
    _register_tasks(app, settings)
    return app


def beat_schedule(settings: Settings, schedules: list[Schedule]) -> dict[str, dict[str, Any]]:
    """Celery beat entries: the lane clocks, the snapshot and every pack schedule."""
    every = timedelta(seconds=settings.flush_interval)
    entries: dict[str, dict[str, Any]] = {
        "rescore.flush": {"task": FLUSH_TASK, "schedule": every},
        "rescore.critical-sweep": {
            "task": CRITICAL_TASK,
            "schedule": every,
            "options": {"queue": CRITICAL_QUEUE},
        },
    }
    for schedule in schedules:
        when: Any = schedule.every
        if schedule.at is not None:
            when = crontab(hour=schedule.at.hour, minute=schedule.at.minute)
        entries[schedule.name] = {"task": JOB_TASK, "schedule": when, "args": (schedule.name,)}
    return entries


class _Worker:
    """This process's engine and worker name, built after the fork (one per process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pid = -1
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self.name = ""

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._engine = open_engine(self.settings)
                token = secrets.token_hex(2)
                self.name = f"celery-{socket.gethostname()}-{self._pid}-{token}"
            return self._engine


def drain(engine: Engine, worker: str, lane: Lane) -> int:
    """Work batches of a lane until none is left; return how many rows were claimed."""
    total = 0
    while True:
        report = engine.work(f"{worker}-{lane}", lane)
        if report.claimed == 0:
            return total
        total += report.claimed


def _register_tasks(app: Celery, settings: Settings) -> None:
    state = _Worker(settings)

    @app.task(name=CRITICAL_TASK)  # type: ignore[untyped-decorator]
    def critical() -> int:
        engine = state.engine()
        return drain(engine, state.name, Lane.CRITICAL)

    @app.task(name=FLUSH_TASK)  # type: ignore[untyped-decorator]
    def flush() -> int:
        engine = state.engine()
        return drain(engine, state.name, Lane.NORMAL)

    @app.task(name=JOB_TASK)  # type: ignore[untyped-decorator]
    def job(name: str) -> None:
        engine = state.engine()
        found = {s.name: s for s in _schedules(engine)}
        found[name].run(engine)

    app.conf.beat_schedule = beat_schedule(settings, _beat_schedules(settings))


def _schedules(engine: Engine) -> list[Schedule]:
    return [*core_schedules(engine.settings), *engine.registry.schedules()]


def _beat_schedules(settings: Settings) -> list[Schedule]:
    from rescore.plugins import discover

    return [*core_schedules(settings), *discover(settings.packs).schedules()]


class Dispatcher(Observer):
    """Sends work to Celery as ingest commits it: critical at once, normal once
    ``flush_size`` entities were queued by this process (beat flushes the rest)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._app: Celery | None = None
        self._normal = 0
        self._lock = threading.Lock()

    @property
    def app(self) -> Celery:
        if self._app is None:
            self._app = create_celery(self.settings)
        return self._app

    def ingested(self, result: IngestResult) -> None:
        self.requeued(result.queued)

    def requeued(self, queued: Mapping[str, int]) -> None:
        if queued.get("critical"):
            self._send(CRITICAL_TASK, CRITICAL_QUEUE)
        with self._lock:
            self._normal += queued.get("normal", 0)
            due = self._normal >= self.settings.flush_size
            if due:
                self._normal = 0
        if due:
            self._send(FLUSH_TASK, NORMAL_QUEUE)

    def _send(self, task: str, queue: str) -> None:
        try:
            self.app.send_task(task, queue=queue)
        except Exception as exc:  # the beat sweep picks the work up anyway
            log.warning("could not send %s to the broker (%s); beat's sweep will run it", task, exc)
