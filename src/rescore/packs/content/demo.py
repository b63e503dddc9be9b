"""``rescore content demo``: seed 004's pipeline, offline, on the shipped sample courses.

A fresh SQLite file (``.rescore/content-demo.db``), the sample folder (two courses, five
lessons with Spanish and Portuguese subtitles), videos under ``.rescore/content-demo/``. It
detects, runs the pipeline five lessons at a time while printing every state change, shows each
lesson's classification and the engine's ``pipeline`` score, searches the knowledge base, runs
detection again (nothing is processed twice) and prints the notifications the shipped rules
sent (to the offline inbox unless ``RESCORE_CHANNEL_CONTENT`` is set).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import select

from rescore.packs.sdk import (
    EmbeddedRuntime,
    Session,
    console,
    echo,
    pass_session,
    settled,
    source_read,
)

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.packs.content.knowledge import LocalVectorStore
    from rescore.packs.content.pack import ContentPack
    from rescore.packs.content.pipeline import Pipeline

__all__ = ["QUERIES", "demo_command"]

DEMO_DB = ".rescore/content-demo.db"
DEMO_DIR = Path(".rescore/content-demo")
QUERIES = ("cómo definir funciones con parámetros", "anúncios no Instagram para lançamento")


def demo_command(pack: ContentPack) -> click.Command:
    """The ``demo`` command."""

    @click.command("demo")
    @pass_session
    def demo(session: Session) -> None:
        """Seed 004 offline: detect the sample courses, watch each lesson's state move,
        see its classification, search the knowledge base, and the notifications."""
        import shutil

        url = session.options.get("database_url") or f"sqlite:///{DEMO_DB}"
        if url == f"sqlite:///{DEMO_DB}":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
        pipeline = _pipeline()
        with session.engine(create=True, database_url=url, packs=["content"]) as engine:
            seen = len(_inbox(engine))
            with EmbeddedRuntime(engine):
                _run(engine, pipeline)
                settled(engine)
            _classification(engine)
            _search(engine, pipeline)
            _again(engine, pipeline)
            _notifications(engine, seen)

    return demo


def _pipeline() -> Pipeline:
    from rescore.packs.content.config import SAMPLE, ContentSettings
    from rescore.packs.content.pipeline import Pipeline

    settings = ContentSettings(
        source="folder",
        folder=SAMPLE,
        storage=str(DEMO_DIR / "videos"),
        index_dir=DEMO_DIR / "index",
        analyzer="offline",
        vectors="local",
    )
    lock = threading.Lock()

    def show(row: dict[str, Any]) -> None:
        with lock:
            echo(f"  {row['lesson_id']:<18} {row['state']}")

    return Pipeline.from_settings(settings, on_change=show)


def _run(engine: Engine, pipeline: Pipeline) -> None:
    detected = pipeline.detect(engine).counts()
    echo("detected: {new} new, {changed} changed, {unchanged} unchanged".format(**detected))
    started = time.perf_counter()
    report = pipeline.run(engine)
    elapsed = time.perf_counter() - started
    echo(
        "processed {processed}, failed {failed}, dead {dead}".format(**report.counts())
        + f" in {elapsed:.1f} s, {pipeline.settings.concurrency} at a time"
    )


def _classification(engine: Engine) -> None:
    from rich.table import Table

    from rescore.packs.content.schema import documents, lessons

    query = (
        select(
            lessons.c.lesson_id,
            lessons.c.title,
            documents.c.school,
            documents.c.level,
            documents.c.confidence,
            documents.c.document,
        )
        .join(documents, documents.c.lesson_id == lessons.c.lesson_id)
        .order_by(lessons.c.lesson_id)
    )
    with source_read(engine) as conn:
        rows = conn.execute(query).all()
    table = Table(title="classification (offline analyser)")
    for column in (
        "lesson",
        "title",
        "school",
        "level",
        "confidence",
        "pipeline score",
        "keywords",
    ):
        table.add_column(column)
    for r in rows:
        score = engine.current("content", r.lesson_id).get("pipeline")
        table.add_row(
            r.lesson_id,
            r.title,
            r.school,
            r.level,
            str(r.confidence),
            f"{score.value:.0f}" if score else "-",
            ", ".join(r.document["classification"]["keywords"][:5]),
        )
    console().print(table)


def _search(engine: Engine, pipeline: Pipeline) -> None:
    from rescore.packs.content.routes import search_lessons

    index: LocalVectorStore = pipeline.vectors  # type: ignore[assignment]
    for query in QUERIES:
        echo(f"search: {query!r}")
        for hit in search_lessons(engine, query, school=None, k=2, index=index):
            echo(f"  {hit['similarity']:.3f}  [{hit['school']}] {hit['course']} / {hit['title']}")


def _again(engine: Engine, pipeline: Pipeline) -> None:
    detected = pipeline.detect(engine).counts()
    report = pipeline.run(engine)
    echo(
        "second run: {new} new, {changed} changed, {unchanged} unchanged; ".format(**detected)
        + "processed {processed} (nothing twice)".format(**report.counts())
    )


def _inbox(engine: Engine) -> list[str]:
    inbox = engine.settings.channel_dir / "content.jsonl"
    return inbox.read_text().splitlines() if inbox.exists() else []


def _notifications(engine: Engine, seen: int) -> None:
    """What the shipped rules sent during this demo (the offline inbox, unless
    RESCORE_CHANNEL_CONTENT points elsewhere)."""
    lines = _inbox(engine)[seen:]
    where = engine.settings.channel_dir / "content.jsonl"
    echo(f"notifications to the content channel ({where}): {len(lines)}")
    for line in lines[-3:]:
        echo(f"  {line}")
