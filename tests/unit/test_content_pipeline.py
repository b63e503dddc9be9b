"""The content pipeline on the shipped sample courses, offline, on a scratch engine: every
lesson processed once, changed lessons again, failures retried then dead-lettered and
notified, a lesson abandoned in the middle resumed after its lease from its last stage."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from rescore.automations.dispatcher import DeliveryDispatcher
from rescore.embeddings import HashingEmbedder
from rescore.engine import Engine
from rescore.packs.content import ContentPack
from rescore.packs.content.analysis import Analysis, LessonContext
from rescore.packs.content.config import SAMPLE, ContentSettings
from rescore.packs.content.knowledge import LocalVectorStore
from rescore.packs.content.offline import OfflineAnalyzer
from rescore.packs.content.pipeline import Pipeline
from rescore.packs.content.schema import documents, lessons
from rescore.packs.content.sources import FolderSource
from rescore.packs.content.storage import LocalStorage
from rescore.testing import drain, scratch_engine

EMBEDDER = HashingEmbedder()
SAMPLE_LESSONS = 5


class Counting:
    """An analyser that counts its calls per lesson and can fail or stop the process."""

    name = "counting"

    def __init__(self, fail: Exception | None = None, stop: BaseException | None = None) -> None:
        self.inner = OfflineAnalyzer(EMBEDDER)
        self.calls: dict[str, int] = {}
        self.fail = fail
        self.stop = stop
        self.lock = threading.Lock()

    def analyze(self, lesson: LessonContext) -> Analysis:
        with self.lock:
            self.calls[lesson.lesson] = self.calls.get(lesson.lesson, 0) + 1
        if self.stop is not None:
            raise self.stop
        if self.fail is not None:
            raise self.fail
        return self.inner.analyze(lesson)


class CountingStorage(LocalStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts: list[str] = []

    def put(self, key: str, chunks: Any) -> int:
        self.puts.append(key)
        return super().put(key, chunks)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 5, 0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with scratch_engine([ContentPack()], tmp_path / "content.db") as engine:
        yield engine


def _pipeline(
    tmp_path: Path,
    analyzer: Any,
    *,
    folder: Path = SAMPLE,
    clock: Clock | None = None,
    worker: str = "w1",
    **settings: Any,
) -> Pipeline:
    options = ContentSettings(folder=folder, retry_seconds=0, **settings)
    return Pipeline(
        source=FolderSource(folder),
        storage=CountingStorage(tmp_path / "videos"),
        analyzer=analyzer,
        vectors=LocalVectorStore(tmp_path / "index", EMBEDDER),
        settings=options,
        clock=clock or Clock(),
        worker=worker,
    )


def _states(engine: Engine) -> dict[str, str]:
    with engine.source.read() as conn:
        return dict(conn.execute(select(lessons.c.lesson_id, lessons.c.state)).all())


def test_every_sample_lesson_is_processed_once_and_scored(engine: Engine, tmp_path: Path) -> None:
    analyzer = Counting()
    pipeline = _pipeline(tmp_path, analyzer)
    assert pipeline.detect(engine).counts() == {"new": 5, "changed": 0, "unchanged": 0}
    report = pipeline.run(engine)
    assert len(report.processed) == SAMPLE_LESSONS
    assert not report.failed
    assert set(_states(engine).values()) == {"done"}
    assert pipeline.detect(engine).counts() == {"new": 0, "changed": 0, "unchanged": 5}
    assert pipeline.run(engine).counts() == {"processed": 0, "failed": 0, "dead": 0}
    assert sorted(analyzer.calls.values()) == [1] * SAMPLE_LESSONS
    drain(engine)
    score = engine.current("content", "py101_m2_l1")
    assert score["pipeline"].value == 100
    assert score["classification"].features["school"] == "programación"
    with engine.source.read() as conn:
        assert conn.execute(select(func.count()).select_from(documents)).scalar() == 5
        doc = conn.execute(
            select(documents.c.document).where(documents.c.lesson_id == "mkt200_m1_l1")
        ).scalar_one()
    assert doc["classification"]["school"] == "marketing"
    assert doc["transcription"]["segments"][0]["start_time"] == 0.0
    assert doc["learning_objectives"], "the offline analyser finds announced objectives"
    hits = pipeline.vectors.search("funciones con parámetros", schools=["programación"], k=1)  # type: ignore[attr-defined]
    assert hits[0][1].key == "py101_m2_l1"


def test_a_changed_lesson_is_processed_again_and_only_it(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "courses"
    shutil.copytree(SAMPLE, folder)
    analyzer = Counting()
    pipeline = _pipeline(tmp_path, analyzer, folder=folder)
    pipeline.detect(engine)
    pipeline.run(engine)
    subtitles = folder / "python-desde-cero" / "m1" / "l2.srt"
    subtitles.write_text(subtitles.read_text().replace("Practica", "Repite"))
    assert pipeline.detect(engine).changed == ["py101_m1_l2"]
    assert pipeline.run(engine).processed == ["py101_m1_l2"]
    assert analyzer.calls["Variables y tipos de datos"] == 2
    assert sum(analyzer.calls.values()) == SAMPLE_LESSONS + 1


def test_failures_are_retried_then_dead_lettered_and_each_is_notified(
    engine: Engine, tmp_path: Path
) -> None:
    analyzer = Counting(fail=RuntimeError("model said no"))
    pipeline = _pipeline(tmp_path, analyzer, max_attempts=2)
    pipeline.detect(engine)
    first = pipeline.run(engine)
    assert len(first.failed) == SAMPLE_LESSONS
    assert not first.dead
    second = pipeline.run(engine)
    assert len(second.dead) == SAMPLE_LESSONS
    assert pipeline.run(engine).counts() == {"processed": 0, "failed": 0, "dead": 0}
    with engine.source.read() as conn:
        row = conn.execute(select(lessons).where(lessons.c.lesson_id == "py101_m1_l1")).one()
    assert (row.state, row.attempts, row.dead) == ("failed", 2, True)
    assert row.last_error == "RuntimeError: model said no"
    assert row.stage == "downloaded", "the download is kept for the retry"
    drain(engine)
    dispatcher = DeliveryDispatcher(engine, worker="test")
    while dispatcher.run_once().handled:
        pass
    inbox = tmp_path / "inbox" / "content.jsonl"
    messages = [orjson.loads(line) for line in inbox.read_text().splitlines()]
    titles = [m["title"] for m in messages]
    assert sum(t.startswith("Error en la lección") for t in titles) == 2 * SAMPLE_LESSONS
    assert "Pipeline de contenido: 0 procesadas, 5 con error" in titles
    assert any("sin más reintentos" in m["body"] for m in messages)
    explained = engine.current("content", "py101_m1_l1")["pipeline"]
    assert "dead letter after 2 attempts" in explained.reasons


def test_a_lesson_left_in_the_middle_resumes_after_its_lease_from_its_last_stage(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock()
    crashed = _pipeline(tmp_path, Counting(stop=KeyboardInterrupt()), clock=clock,
                        worker="dead", concurrency=1, lease_seconds=600)  # fmt: skip
    crashed.detect(engine)
    with pytest.raises(KeyboardInterrupt):
        crashed.run(engine, limit=1)
    states = _states(engine)
    stuck = next(lid for lid, s in states.items() if s == "analysing")
    analyzer = Counting()
    survivor = _pipeline(tmp_path, analyzer, clock=clock, worker="alive")
    assert stuck not in survivor.run(engine).processed, "its lease still holds"
    clock.now += timedelta(seconds=601)
    assert survivor.run(engine).processed == [stuck]
    assert set(_states(engine).values()) == {"done"}
    downloads = crashed.storage.puts + survivor.storage.puts  # type: ignore[attr-defined]
    assert len(downloads) == len(set(downloads)) == SAMPLE_LESSONS, "no download redone"
    assert sorted(analyzer.calls.values()) == [1] * SAMPLE_LESSONS


def test_a_worker_whose_lease_ran_out_changes_nothing_the_new_holder_did(
    engine: Engine, tmp_path: Path
) -> None:
    from rescore.packs.content.pipeline import RunReport

    clock = Clock()
    slow = _pipeline(tmp_path, Counting(), clock=clock, worker="slow", lease_seconds=60)
    slow.detect(engine)
    mine = RunReport()
    taken = slow._claim(engine, mine)
    assert taken is not None
    clock.now += timedelta(seconds=61)
    fast = _pipeline(tmp_path, Counting(), clock=clock, worker="fast")
    assert taken in fast.run(engine).processed
    slow.process(engine, taken, mine)  # wakes up late: its first write finds the lease gone
    assert mine.counts() == {"processed": 0, "failed": 0, "dead": 0}
    with engine.source.read() as conn:
        row = conn.execute(select(lessons).where(lessons.c.lesson_id == taken)).one()
    assert (row.state, row.attempts, row.last_error) == ("done", 0, None)


def test_state_is_visible_per_course(engine: Engine, tmp_path: Path) -> None:
    from rescore.packs.content.state import course_state, state_counts

    pipeline = _pipeline(tmp_path, Counting())
    pipeline.detect(engine)
    with engine.source.read() as conn:
        assert state_counts(conn, "py101") == {"pending": 3}
    pipeline.run(engine, limit=1)
    with engine.source.read() as conn:
        counts = {cid: state_counts(conn, cid) for cid in ("py101", "mkt200")}
    assert sorted(course_state(c) for c in counts.values()) == ["pending", "pending"]
    assert sum(c.get("done", 0) for c in counts.values()) == 1
    assert course_state({"done": 2}) == "done"
    assert course_state({"done": 1, "dead": 1}) == "failed"


def test_the_bench_reports_rate_and_every_steps_time_per_lesson(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rescore.bench.content import content_pipeline

    monkeypatch.setenv("RESCORE_EMBEDDER", "hashing")
    measured = content_pipeline(copies=1, concurrency=5)
    assert measured.id == "C1"
    assert measured.met is True
    assert measured.numbers["processed"] == measured.numbers["lessons"] == SAMPLE_LESSONS
    for step in ("download", "analyse", "store", "sync"):
        assert measured.numbers[f"{step}_ms_per_lesson"] > 0
    assert "5 at a time" in measured.method
