"""C1: seed 004's RNF-002 and RNF-001 on the offline pipeline: lessons per minute with five
lessons processed at once, and the time one lesson spends in each step.

The content pack's sample courses (five lessons with subtitles and placeholder videos) are
copied ``copies`` times under new course ids into a temporary folder, so every lesson is new
and distinct; a scratch SQLite engine with only the content pack detects them and runs the
offline pipeline (streamed copy to local storage, the offline analyser with the configured
embedder, the local usearch store per school), ``concurrency`` lessons at a time. The rate is
lessons finished over the run's wall-clock time; the step times are summed over every lesson
by the pipeline and divided by the lessons processed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rescore.bench.report import Measurement
from rescore.plugins import discover
from rescore.testing import scratch_engine

__all__ = ["content_pipeline"]

GOAL_CONCURRENT = 5
GOAL_LESSON_SECONDS = 1800.0  # RNF-001: an hour of video in under 30 minutes


@runtime_checkable
class _Pipelines(Protocol):
    """What the content pack offers for this measurement (``ContentPack.pipeline``)."""

    def pipeline(self, **settings: Any) -> Any: ...


def _courses(sample: Path, into: Path, copies: int) -> int:
    """``copies`` of every sample course under new ids; returns the lesson count."""
    lessons = 0
    for n in range(copies):
        for course in sorted(sample.glob("*/course.json")):
            target = into / f"{course.parent.name}-{n}"
            shutil.copytree(course.parent, target)
            manifest = json.loads(course.read_text())
            manifest["id"] = f"{manifest['id']}x{n}"
            (target / "course.json").write_text(json.dumps(manifest))
            lessons += sum(len(m["lessons"]) for m in manifest["modules"])
    return lessons


def content_pipeline(copies: int = 20, concurrency: int = GOAL_CONCURRENT) -> Measurement:
    """Run the offline pipeline over ``copies`` × the sample lessons, ``concurrency`` at once."""
    title = f"content pipeline, offline, {concurrency} lessons at once"
    registry = discover()
    if "content" not in registry.names:
        return Measurement(id="C1", title=title, method="", skipped="the content pack is absent")
    pack = registry["content"]
    assert isinstance(pack, _Pipelines)
    with tempfile.TemporaryDirectory(prefix="rescore-bench-content-") as where:
        root = Path(where)
        sample = Path(pack.pipeline().settings.folder)
        lessons = _courses(sample, root / "courses", copies)
        pipeline = pack.pipeline(
            folder=root / "courses",
            storage=str(root / "videos"),
            index_dir=root / "index",
            concurrency=concurrency,
        )
        with scratch_engine([pack], root / "bench.db") as engine:
            pipeline.detect(engine)
            started = time.perf_counter()
            report = pipeline.run(engine)
            elapsed = time.perf_counter() - started
        embedder = getattr(getattr(pipeline.analyzer, "_embedder", None), "name", "?")
    return _measurement(title, lessons, report, elapsed, concurrency, embedder)


def _measurement(
    title: str, lessons: int, report: Any, elapsed: float, concurrency: int, embedder: str
) -> Measurement:
    done = len(report.processed)
    per_step = {k: v / max(done, 1) for k, v in report.times.seconds.items()}
    one_lesson = sum(per_step.values())
    numbers = {
        "lessons": float(lessons),
        "processed": float(done),
        "lessons_per_minute": done / elapsed * 60 if elapsed else 0.0,
        "wall_seconds": elapsed,
        **{f"{step}_ms_per_lesson": s * 1000 for step, s in per_step.items()},
        "one_lesson_ms": one_lesson * 1000,
    }
    return Measurement(
        id="C1",
        title=title,
        method=(
            f"{lessons} sample lessons (subtitles, placeholder videos) detected then processed "
            f"by the offline pipeline on a scratch SQLite engine, {concurrency} at a time; "
            f"embedder {embedder}; step times summed by the pipeline over every lesson"
        ),
        numbers=numbers,
        goal=f"{GOAL_CONCURRENT} lessons at once (RNF-002), every one done, each under "
        f"{GOAL_LESSON_SECONDS / 60:.0f} min (RNF-001)",
        met=concurrency >= GOAL_CONCURRENT and done == lessons and one_lesson < GOAL_LESSON_SECONDS,
    )
