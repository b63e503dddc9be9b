"""Sending work to Celery as ingest commits it (the distributed runtime's dispatcher).

Kept apart from ``rescore.runtime.celery`` (the workers and their tasks) so that any process
that ingests (the API, the CLI, a poller) can wake Celery workers by task name without
importing, or building, the workers' side. ``rescore.bootstrap`` attaches a
:class:`Dispatcher` when ``RESCORE_BROKER_URL`` is set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from celery import Celery
from kombu.entity import Queue

from rescore.reports import IngestResult, Observer
from rescore.settings import Settings

__all__ = [
    "CRITICAL_QUEUE",
    "CRITICAL_TASK",
    "DELIVER_TASK",
    "FLUSH_TASK",
    "JOB_TASK",
    "NORMAL_QUEUE",
    "POPULATION_QUEUE",
    "POPULATION_TASK",
    "TICK_TASK",
    "Dispatcher",
    "celery_app",
]

log = logging.getLogger(__name__)

CRITICAL_QUEUE = "critical"
NORMAL_QUEUE = "normal"
POPULATION_QUEUE = "population"  # long tasks, apart: a flush never waits behind one
CRITICAL_TASK = "rescore.critical"
FLUSH_TASK = "rescore.flush"
JOB_TASK = "rescore.job"
POPULATION_TASK = "rescore.population"
TICK_TASK = "rescore.tick"
DELIVER_TASK = "rescore.deliver"


def celery_app(settings: Settings) -> Celery:
    """A Celery app for ``settings`` with rescore's queues, routes and reliability options,
    and no tasks: enough to send them (``runtime.celery`` registers them for workers)."""
    if not settings.broker_url:
        raise ValueError("the Celery runtime needs a broker: set RESCORE_BROKER_URL")
    # results travel back only for the tasks that keep them (a population shard's report):
    # over the broker itself on RabbitMQ (rpc), in the broker's Redis on Redis
    backend = "rpc://" if settings.broker_url.startswith("amqp") else settings.broker_url
    app = Celery("rescore", broker=settings.broker_url, backend=backend, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        task_queues=tuple(
            Queue(q)  # type: ignore[no-untyped-call]
            for q in (CRITICAL_QUEUE, NORMAL_QUEUE, POPULATION_QUEUE)
        ),
        task_default_queue=NORMAL_QUEUE,
        task_routes={
            CRITICAL_TASK: {"queue": CRITICAL_QUEUE},
            POPULATION_TASK: {"queue": POPULATION_QUEUE},
        },
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        broker_connection_retry_on_startup=True,
        # Redis redelivers a dead worker's unacked message after this many seconds
        broker_transport_options={"visibility_timeout": max(60.0, 2 * settings.lease_seconds)},
        worker_hijack_root_logger=False,
        enable_utc=True,
        timezone="UTC",
    )
    return app


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
            self._app = celery_app(self.settings)
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
