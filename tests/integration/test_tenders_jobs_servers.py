"""The tenders job queue on the real servers (PostgreSQL, MariaDB): workers in racing threads
take each job exactly once (the guarded UPDATE's row count decides), a failing job is retried
then failed with its error, and a job whose worker died is taken again after its lease."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import servers

from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.jobs import Job, JobQueue, Progress, Workers
from rescore.plugins import PackRegistry
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database
server_url = servers.server_url


@pytest.fixture
def engine(server_url: str) -> Iterator[Engine]:
    made = Engine(
        Database(server_url), PackRegistry([TendersPack()]), Settings(database_url=server_url)
    )
    made.migrate()
    yield made
    made.close()


def _until(queue: JobQueue, ids: list[str], state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(queue.status(i)["estado"] != state for i in ids):
        assert time.monotonic() < deadline, [queue.status(i)["estado"] for i in ids]
        time.sleep(0.05)


def test_racing_workers_take_each_job_once(engine: Engine) -> None:
    queue = JobQueue(engine)
    ids = [queue.submit("precio", "s", {"n": n}) for n in range(60)]
    ran: list[str] = []
    lock = threading.Lock()

    def record(job: Job, progress: Progress) -> dict[str, Any]:
        progress(1, 1)
        with lock:
            ran.append(job.id)
        return {"texto": "ok"}

    with Workers(queue, {"precio": record}, threads=6, idle=0.01):
        _until(queue, ids, "listo")
    assert sorted(ran) == sorted(ids)
    assert {queue.status(i)["intentos"] for i in ids} == {1}


def test_a_failing_job_is_retried_then_failed(engine: Engine) -> None:
    queue = JobQueue(engine, attempts=2, backoff=0.01)

    def broken(job: Job, progress: Progress) -> dict[str, Any]:
        raise TimeoutError("the analysis timed out")

    job_id = queue.submit("precio", "s", {})
    with Workers(queue, {"precio": broken}, idle=0.01):
        _until(queue, [job_id], "fallido")
    found = queue.status(job_id)
    assert found["intentos"] == 2
    assert "timed out" in found["error"]


def test_a_dead_workers_job_is_taken_again_after_its_lease(engine: Engine) -> None:
    queue = JobQueue(engine, lease=2.0)  # MariaDB keeps whole seconds
    job_id = queue.submit("precio", "s", {})
    held = queue.claim()
    assert held is not None
    assert held.id == job_id
    assert queue.claim() is None, "held by the first worker"
    time.sleep(2.5)
    again = queue.claim()
    assert again is not None
    assert again.id == job_id
    assert again.intentos == 2
