"""The pack's job queue: heavy work asked through the bot, the API or the CLI (price analyses,
scorings, proposal drafts, exports), done by workers, its result delivered later.

ADR 0017's pattern, in the pack's own table ``trabajos_tenders``: a job is claimed by one
guarded ``UPDATE ... WHERE estado = 'pendiente' AND reintentar_en <= now`` (or a lease that
expired: its worker died) whose row count says who won, the same SQL on SQLite, PostgreSQL
and MariaDB. A failure is retried with exponential back-off up to ``attempts`` tries, then
the job is ``fallido`` with its error; a caller's mistake (a 4xx :class:`RescoreError`, e.g.
an unknown tender) fails at once, since retrying cannot help. Progress (rows written of the
total) is written as the worker goes, so the API, the CLI and the bot can show it.

Workers are threads (:class:`Workers`) in whichever process runs them: the bot's
(``rescore tenders bot``) or any number of ``rescore tenders workers`` processes on the same
database; the queue is the table, so both are one code path::

    queue = JobQueue(engine)
    job_id = queue.submit("precio", subscriber_id, {"producto": "notebook"}, chat_id=42)
    with Workers(queue, handlers, threads=2):
        ...                                   # queue.status(job_id)["estado"] == "listo"
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import and_, insert, or_, select, update

from rescore.exceptions import NotFound, RescoreError
from rescore.packs.sdk import source_read, source_write
from rescore.packs.tenders.schema import jobs

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["Handler", "Job", "JobQueue", "Progress", "Workers"]

log = logging.getLogger(__name__)

#: Tell the worker how far it got: (rows written, total rows).
Progress = Callable[[int, int], None]


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """A claimed job: what its handler needs."""

    id: str
    tipo: str
    suscriptor_id: str
    chat_id: int | None
    parametros: dict[str, Any]
    intentos: int


#: A job's work: returns its result (JSON: ``texto`` to send, optionally ``archivo``).
Handler = Callable[[Job, Progress], dict[str, Any]]


class JobQueue:
    """Submit, claim, report and read jobs in ``trabajos_tenders``."""

    def __init__(
        self,
        engine: Engine,
        *,
        attempts: int = 3,
        lease: float = 600.0,
        backoff: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.attempts = attempts
        self.lease = timedelta(seconds=lease)
        self.backoff = backoff
        self.clock = clock

    def submit(
        self,
        kind: str,
        subscriber: str,
        params: Mapping[str, Any],
        *,
        chat_id: int | None = None,
    ) -> str:
        """Queue a job; its id."""
        now = self.clock()
        row = {
            "id": str(uuid.uuid4()),
            "tipo": kind,
            "suscriptor_id": subscriber,
            "chat_id": chat_id,
            "parametros": orjson.dumps(dict(params)).decode(),
            "estado": "pendiente",
            "intentos": 0,
            "progreso": 0,
            "reintentar_en": now,
            "entregado": False,
            "creado_en": now,
            "actualizado_en": now,
        }
        with source_write(self.engine) as conn:
            conn.execute(insert(jobs), [row])
        return str(row["id"])

    def _claimable(self, now: datetime) -> Any:
        c = jobs.c
        waiting = and_(c.estado == "pendiente", c.reintentar_en <= now)
        abandoned = and_(c.estado == "en_curso", c.lease_hasta < now)
        return or_(waiting, abandoned)

    def claim(self) -> Job | None:
        """The oldest job due, now held by this caller (None: nothing to do)."""
        now = self.clock()
        with source_read(self.engine) as conn:
            ids = conn.execute(
                select(jobs.c.id).where(self._claimable(now)).order_by(jobs.c.creado_en).limit(8)
            ).scalars()
            candidates = list(ids)
        for job_id in candidates:
            job = self._take(job_id, now)
            if job is not None:
                return job
        return None

    def _take(self, job_id: str, now: datetime) -> Job | None:
        c = jobs.c
        held = {"estado": "en_curso", "lease_hasta": now + self.lease, "actualizado_en": now}
        with source_write(self.engine) as conn:
            won = conn.execute(
                update(jobs)
                .where(c.id == job_id, self._claimable(now))
                .values(intentos=c.intentos + 1, **held)
            ).rowcount
            if won != 1:
                return None
            row = conn.execute(select(jobs).where(c.id == job_id)).one()
        return Job(
            id=row.id,
            tipo=row.tipo,
            suscriptor_id=row.suscriptor_id,
            chat_id=row.chat_id,
            parametros=orjson.loads(row.parametros),
            intentos=row.intentos,
        )

    def _set(self, job_id: str, **values: Any) -> None:
        values["actualizado_en"] = self.clock()
        with source_write(self.engine) as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def progress(self, job_id: str, done: int, total: int) -> None:
        """Record how far the job got (rows written of ``total``)."""
        self._set(job_id, progreso=done, total=total)

    def finish(self, job_id: str, result: Mapping[str, Any]) -> None:
        """The job is done; ``result`` waits for delivery."""
        text = orjson.dumps(dict(result)).decode()
        self._set(job_id, estado="listo", resultado=text, lease_hasta=None, error=None)

    def fail(self, job: Job, error: str, *, final: bool = False) -> bool:
        """Record a failure: retried after a back-off, or ``fallido`` when the attempts are
        spent or ``final``; True when the job will not run again."""
        if final or job.intentos >= self.attempts:
            self._set(job.id, estado="fallido", error=error, lease_hasta=None)
            return True
        wait = timedelta(seconds=self.backoff * 2 ** (job.intentos - 1))
        retry = {"reintentar_en": self.clock() + wait, "lease_hasta": None}
        self._set(job.id, estado="pendiente", error=error, **retry)
        return False

    def status(self, job_id: str) -> dict[str, Any]:
        """A job as the API, the CLI and the bot show it."""
        with source_read(self.engine) as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"no job {job_id!r}", field="trabajo_id")
        return view(dict(row._mapping))

    def undelivered(self, limit: int = 50) -> list[dict[str, Any]]:
        """Finished or failed jobs of a chat not yet sent there, oldest first."""
        c = jobs.c
        query = (
            select(jobs)
            .where(~c.entregado, c.chat_id.is_not(None), c.estado.in_(("listo", "fallido")))
            .order_by(c.actualizado_en)
            .limit(limit)
        )
        with source_read(self.engine) as conn:
            return [view(dict(r._mapping)) for r in conn.execute(query)]

    def delivered(self, *job_ids: str) -> None:
        """These jobs' results reached their chats (one transaction)."""
        with source_write(self.engine) as conn:
            conn.execute(update(jobs).where(jobs.c.id.in_(job_ids)).values(entregado=True))


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A job row as JSON."""
    total = row["total"]
    return {
        "id": row["id"],
        "tipo": row["tipo"],
        "suscriptor_id": row["suscriptor_id"],
        "chat_id": row["chat_id"],
        "parametros": orjson.loads(row["parametros"]),
        "estado": row["estado"],
        "intentos": row["intentos"],
        "progreso": row["progreso"],
        "total": total,
        "porcentaje": round(100 * row["progreso"] / total, 1) if total else None,
        "resultado": orjson.loads(row["resultado"]) if row["resultado"] else None,
        "error": row["error"],
        "creado_en": row["creado_en"].isoformat(),
        "actualizado_en": row["actualizado_en"].isoformat(),
    }


class Workers:
    """Threads that claim jobs and run their handler (a context manager: started on enter,
    stopped and joined on exit). ``on_failed(job)`` runs when a job will not run again (the
    bot gives the quota unit back there)."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        *,
        threads: int = 2,
        idle: float = 0.2,
        on_failed: Callable[[Job], None] | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.idle = idle
        self.on_failed = on_failed
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._threads = [
            threading.Thread(target=self._loop, name=f"tenders-worker-{n}", daemon=True)
            for n in range(threads)
        ]

    def __enter__(self) -> Workers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Finish the jobs in hand, then stop."""
        self._stop.set()
        self.wake()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=60)

    def wake(self) -> None:
        """A job was just submitted in this process: look now, not after the idle wait."""
        with self._wake:
            self._wake.notify_all()

    def drain(self, seconds: float = 600.0) -> int:
        """Run due jobs in the calling thread until none is left (or ``seconds`` passed);
        how many ran. What the ``tenders.jobs`` schedule and ``--wait`` do."""
        deadline = time.monotonic() + seconds
        ran = 0
        while time.monotonic() < deadline:
            job = self.queue.claim()
            if job is None:
                break
            self.run(job)
            ran += 1
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.queue.claim()
            except Exception:
                log.exception("tenders workers: claiming failed")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(self.idle)
                continue
            self.run(job)

    def run(self, job: Job) -> None:
        """Run one claimed job and record how it ended."""
        started = time.perf_counter()
        handler = self.handlers.get(job.tipo)
        if handler is None:
            self._ended(job, f"no worker does {job.tipo!r} jobs", final=True)
            return
        try:
            result = handler(job, lambda done, total: self.queue.progress(job.id, done, total))
        except Exception as exc:
            self._failed(job, exc)
            return
        self.queue.finish(job.id, result)
        took = time.perf_counter() - started
        log.info("tenders job %s (%s) done in %.2f s", job.id, job.tipo, took)

    def _failed(self, job: Job, exc: Exception) -> None:
        if isinstance(exc, RescoreError):
            error, final = str(exc), exc.http_status < 500
        else:
            error, final = f"{type(exc).__name__}: {exc}", False
        log.warning("tenders job %s (%s) try %d failed: %s", job.id, job.tipo, job.intentos, error)
        self._ended(job, error, final=final)

    def _ended(self, job: Job, error: str, *, final: bool) -> None:
        if self.queue.fail(job, error, final=final) and self.on_failed is not None:
            self.on_failed(job)
