"""The content pipeline: detect, then for each lesson download -> analyse -> store -> sync.

This is a **pack-level job runner** (docs/adr/0017): the steps are long (a video download, a
model call of minutes) and make large artefacts, which the engine's scorers (pure, fast, in
one transaction) must not. So the state lives in the pack's own table
(:mod:`rescore.packs.content.state`), each step is written when it finishes, and each change is
reported to the engine as an event (``lesson_progressed``, ``lesson_failed``,
``content_run_finished``): the engine rescores the lesson's ``pipeline`` and ``classification``
scores from that table, keeps their history and explanations, and its automation rules send
the notifications. Event ids are derived from the lesson, its fingerprint and its state, so
reporting twice (a retry, a resume) is acknowledged as a duplicate.

Use::

    pipeline = Pipeline.from_settings(load_settings())
    with open_engine(settings) as engine:
        pipeline.detect(engine)
        report = pipeline.run(engine)          # 5 lessons at a time by default
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sqlalchemy import delete, insert, select, update

from rescore.packs.content import state
from rescore.packs.content.analysis import Analyzer, LessonContext
from rescore.packs.content.config import ContentSettings
from rescore.packs.content.knowledge import Synced, VectorStore, knowledge_document
from rescore.packs.content.schema import documents, lessons
from rescore.packs.content.sources import Source
from rescore.packs.content.storage import Storage, fetch, fetch_text
from rescore.packs.sdk import source_read, source_write

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["Pipeline", "RunReport", "StepTimes"]

log = logging.getLogger(__name__)
STEPS = ("download", "analyse", "store", "sync")


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(slots=True)
class StepTimes:
    """Seconds spent in each step, summed over the lessons of a run (for the bench)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STEPS, 0.0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, step: str, seconds: float) -> None:
        with self.lock:
            self.seconds[step] += seconds


@dataclass(slots=True)
class RunReport:
    """What one run did: lessons finished, failed (to be retried) and dead-lettered."""

    processed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    times: StepTimes = field(default_factory=StepTimes)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> dict[str, int]:
        return {
            "processed": len(self.processed),
            "failed": len(self.failed),
            "dead": len(self.dead),
        }


class Pipeline:
    """Seed 004's ETL over one source, one storage, one analyser and one vector store."""

    def __init__(
        self,
        *,
        source: Source,
        storage: Storage,
        analyzer: Analyzer,
        vectors: VectorStore,
        settings: ContentSettings,
        clock: Callable[[], datetime] = _utcnow,
        worker: str | None = None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.source = source
        self.storage = storage
        self.analyzer = analyzer
        self.vectors = vectors
        self.settings = settings
        self.clock = clock
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        #: called with the lesson's row after each state change (the demo prints it)
        self.on_change = on_change

    @classmethod
    def from_settings(cls, settings: ContentSettings, **kwargs: Any) -> Pipeline:
        return cls(
            source=settings.make_source(),
            storage=settings.make_storage(),
            analyzer=settings.make_analyzer(),
            vectors=settings.make_vectors(),
            settings=settings,
            **kwargs,
        )

    def close(self) -> None:
        """Release the source's and the vector store's HTTP connections."""
        self.source.close()
        self.vectors.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # detect ------------------------------------------------------------------------------

    def detect(self, engine: Engine) -> state.Detected:
        """Record new and changed lessons as pending and tell the engine about them."""
        found = list(self.source.lessons())
        with source_write(engine) as conn:
            detected = state.detect(conn, found, self.clock())
        self._report(engine, [*detected.new, *detected.changed], "lesson_detected")
        return detected

    # run ---------------------------------------------------------------------------------

    def run(self, engine: Engine, *, limit: int | None = None) -> RunReport:
        """Process every lesson that may be taken now, ``concurrency`` at a time (at most
        ``limit`` lessons), then report the run (one event: one notification)."""
        report = RunReport()
        budget = _Budget(limit)
        threads = self.settings.concurrency
        with ThreadPoolExecutor(threads, thread_name_prefix="content") as pool:
            for future in [
                pool.submit(self._drain, engine, report, budget) for _ in range(threads)
            ]:
                future.result()
        self._report_run(engine, report)
        return report

    def _drain(self, engine: Engine, report: RunReport, budget: _Budget) -> None:
        while budget.take() and (lesson_id := self._claim(engine, report)):
            self.process(engine, lesson_id, report)

    def _claim(self, engine: Engine, report: RunReport) -> str | None:
        """Take the next lesson nobody holds that this run has not tried yet (a lesson that
        fails waits for the next run, however short its back-off)."""
        now = self.clock()
        with source_write(engine) as conn:
            wanted = self.settings.concurrency * 2 + len(report.tried)
            for lesson_id in state.claimable(conn, now, wanted):
                if lesson_id in report.tried:
                    continue
                if state.claim(conn, lesson_id, self.worker, now, self.settings.lease_seconds):
                    with report.lock:
                        report.tried.add(lesson_id)
                    return lesson_id
        return None

    def process(self, engine: Engine, lesson_id: str, report: RunReport) -> None:
        """Run a claimed lesson's remaining steps; a failure is recorded, never raised."""
        try:
            self._steps(engine, lesson_id, report.times)
        except Exception as exc:  # any step's failure is the lesson's, not the run's
            self._failed(engine, lesson_id, exc, report)
            return
        with report.lock:
            report.processed.append(lesson_id)

    def _steps(self, engine: Engine, lesson_id: str, times: StepTimes) -> None:
        row = self._row(engine, lesson_id)
        if row["stage"] == "none":
            self._timed(times, "download", self._download, engine, row)
        if row["stage"] == "downloaded":
            analysis = self._timed(times, "analyse", self._analyse, engine, row)
            self._timed(times, "store", self._store, engine, row, analysis)
        if row["stage"] == "stored":
            self._timed(times, "sync", self._sync, engine, row)
        self._move(
            engine,
            row,
            state="done",
            stage="done",
            last_error=None,
            retry_at=None,
            lease_owner=None,
            lease_until=None,
        )

    @staticmethod
    def _timed(times: StepTimes, step: str, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        result = fn(*args)
        times.add(step, time.perf_counter() - started)
        return result

    # the steps -----------------------------------------------------------------------------

    def _download(self, engine: Engine, row: dict[str, Any]) -> None:
        self._move(engine, row, state="downloading")
        key = _video_key(row)
        self.storage.put(key, fetch(row["video_url"]))
        self._move(engine, row, stage="downloaded", video_key=key, downloaded_at=self.clock())

    def _analyse(self, engine: Engine, row: dict[str, Any]) -> dict[str, Any]:
        self._move(engine, row, state="analysing")
        if not self.storage.exists(row["video_key"]):  # purged by the lifecycle job meanwhile
            self.storage.put(row["video_key"], fetch(row["video_url"]))
        analysis: dict[str, Any] = self.analyzer.analyze(self._context(row)).model_dump(mode="json")
        return analysis

    def _context(self, row: Mapping[str, Any]) -> LessonContext:
        local = getattr(self.storage, "root", None)
        video = Path(local) / row["video_key"] if isinstance(local, Path) else None
        subtitles = fetch_text(row["subtitles_url"]) if row["subtitles_url"] else None
        return LessonContext(
            course=row["course_title"],
            module=row["module_title"],
            lesson=row["title"],
            video=video,
            subtitles=subtitles,
        )

    def _store(self, engine: Engine, row: dict[str, Any], analysis: dict[str, Any]) -> None:
        now = self.clock()
        classification = analysis["classification"]
        values = {
            "lesson_id": row["lesson_id"],
            "fingerprint": row["fingerprint"],
            "school": classification["school"],
            "level": classification["level"],
            "confidence": classification["confidence"],
            "analyzer": self.analyzer.name,
            "document": _firestore_document(row, analysis, now),
            "stored_at": now,
        }
        with source_write(engine) as conn:
            kept = conn.execute(  # where the last version was synced: replaced at the sync
                select(documents.c.vector_store, documents.c.vector_file).where(
                    documents.c.lesson_id == row["lesson_id"]
                )
            ).one_or_none()
            conn.execute(delete(documents).where(documents.c.lesson_id == row["lesson_id"]))
            where = (
                {"vector_store": kept.vector_store, "vector_file": kept.vector_file} if kept else {}
            )
            conn.execute(insert(documents).values(**values, **where))
            self._held(conn, row, now, state="stored", stage="stored")
        self._reported(engine, row)

    def _sync(self, engine: Engine, row: dict[str, Any]) -> None:
        with source_read(engine) as conn:
            doc = conn.execute(
                select(
                    documents.c.document, documents.c.vector_store, documents.c.vector_file
                ).where(documents.c.lesson_id == row["lesson_id"])
            ).one()
        knowledge = knowledge_document(row["lesson_id"], row, doc.document)
        previous = Synced(doc.vector_store, doc.vector_file) if doc.vector_file else None
        synced = self.vectors.sync(row["lesson_id"], knowledge, previous)
        now = self.clock()
        with source_write(engine) as conn:
            conn.execute(
                update(documents)
                .where(documents.c.lesson_id == row["lesson_id"])
                .values(vector_store=synced.store, vector_file=synced.file, synced_at=now)
            )
            self._held(conn, row, now, state="synced", stage="synced")
        self._reported(engine, row)

    # state changes and reports to the engine ---------------------------------------------

    def _row(self, engine: Engine, lesson_id: str) -> dict[str, Any]:
        with source_read(engine) as conn:
            return state.lesson_row(conn, lesson_id)

    def _move(self, engine: Engine, row: dict[str, Any], **values: Any) -> None:
        now = self.clock()
        with source_write(engine) as conn:
            self._held(conn, row, now, **values)
        self._reported(engine, row)

    def _held(self, conn: Any, row: dict[str, Any], now: datetime, **values: Any) -> None:
        if not state.moved(conn, row["lesson_id"], self.worker, now, **values):
            raise LeaseLost(f"lesson {row['lesson_id']} was taken over by another worker")
        row.update(values)

    def _reported(self, engine: Engine, row: dict[str, Any]) -> None:
        if self.on_change is not None:
            self.on_change(row)
        self._report(engine, [row["lesson_id"]], "lesson_progressed", {row["lesson_id"]: row})

    def _report(
        self,
        engine: Engine,
        lesson_ids: list[str],
        kind: str,
        rows: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if not lesson_ids:
            return
        rows = rows or self._rows(engine, lesson_ids)
        engine.ingest([_event(kind, rows[i], self.clock()) for i in lesson_ids])

    def _rows(self, engine: Engine, lesson_ids: list[str]) -> dict[str, dict[str, Any]]:
        with source_read(engine) as conn:
            found = conn.execute(select(lessons).where(lessons.c.lesson_id.in_(lesson_ids)))
            return {r["lesson_id"]: dict(r) for r in found.mappings()}

    def _failed(self, engine: Engine, lesson_id: str, exc: Exception, report: RunReport) -> None:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("content lesson %s failed: %s", lesson_id, error)
        with source_write(engine) as conn:
            recorded = state.failed(
                conn,
                lesson_id,
                self.worker,
                self.clock(),
                error=error,
                max_attempts=self.settings.max_attempts,
                retry_seconds=self.settings.retry_seconds,
            )
        if recorded is None:  # another worker took the lesson over: its outcome, not ours
            return
        self._report(engine, [lesson_id], "lesson_failed")
        with report.lock:
            (report.dead if recorded[1] else report.failed).append(lesson_id)

    def _report_run(self, engine: Engine, report: RunReport) -> None:
        if not (report.processed or report.failed or report.dead):
            return
        now = self.clock()
        engine.ingest(
            [
                {
                    "event_id": f"content-run:{uuid.uuid4().hex}",  # one report per run
                    "type": "content_run_finished",
                    "entity": "pipeline",
                    "occurred_at": now.isoformat() + "Z",
                    "payload": {
                        **report.counts(),
                        "failed_lessons": [*report.failed, *report.dead],
                    },
                }
            ]
        )


class LeaseLost(RuntimeError):
    """Another worker holds the lesson now (this one's lease expired)."""


class _Budget:
    """How many more lessons a run may take (None: no limit), shared by its threads."""

    def __init__(self, limit: int | None) -> None:
        self._left = limit
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left is None:
                return True
            self._left -= 1
            return self._left >= 0


def _video_key(row: Mapping[str, Any]) -> str:
    suffix = PurePosixPath(urlparse(row["video_url"]).path).suffix or ".mp4"
    return f"{row['course_id']}/{row['module_id']}/{row['lesson_id']}{suffix}"


def _firestore_document(
    row: Mapping[str, Any], analysis: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The seed's Firestore ``lessons`` document."""
    return {
        "course_id": row["course_id"],
        "course_title": row["course_title"],
        "module_id": row["module_id"],
        "module_title": row["module_title"],
        "lesson_id": row["lesson_id"],
        "lesson_title": row["title"],
        "video_url": row["video_url"],
        "storage_key": row["video_key"],
        **analysis,
        "processed_at": now.isoformat() + "Z",
    }


def _event(kind: str, row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A lesson's event; its id names the lesson, its version, state and attempt, so the same
    change reported twice is one event."""
    step = "detected" if kind == "lesson_detected" else row["state"]
    return {
        "event_id": f"{kind}:{row['lesson_id']}:{row['fingerprint'][:16]}:{step}:"
        f"{row['stage']}:{row['attempts']}",
        "type": kind,
        "entity": row["lesson_id"],
        "occurred_at": now.isoformat() + "Z",
        "payload": {
            "state": row["state"],
            "stage": row["stage"],
            "attempts": row["attempts"],
            "dead": bool(row["dead"]),
            "error": row["last_error"],
            "title": row["title"],
            "course": row["course_title"],
        },
    }
