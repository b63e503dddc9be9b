"""``rescore content ...``: run the pipeline, see each lesson's state, search the knowledge
base, give dead letters another chance, apply the video lifecycle, and the demo."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
import orjson
from sqlalchemy import select

from rescore.packs.sdk import Session, console, echo, pass_session, source_read, source_write

if TYPE_CHECKING:
    from rescore.packs.content.pack import ContentPack

__all__ = ["commands"]


def _print_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


def commands(pack: ContentPack) -> list[click.Command]:
    """The pack's CLI commands."""
    from rescore.packs.content.demo import demo_command

    return [_run(), _status(), _search(), _retry(), _purge(), demo_command(pack)]


def _run() -> click.Command:
    @click.command("run")
    @click.option("--limit", type=click.IntRange(min=1), help="Process at most this many lessons.")
    @click.option("--no-detect", is_flag=True, help="Only process what is already pending.")
    @click.option("--json", "as_json", is_flag=True, help="Print the run's counts as JSON.")
    @pass_session
    def run(session: Session, limit: int | None, no_detect: bool, as_json: bool) -> None:
        """Detect new and changed lessons (RESCORE_CONTENT_SOURCE: the folder
        RESCORE_CONTENT_FOLDER or Hotmart), then download, analyse, store and sync them,
        RESCORE_CONTENT_CONCURRENCY at a time (default 5)."""
        from rescore.packs.content.config import load_settings
        from rescore.packs.content.pipeline import Pipeline

        with Pipeline.from_settings(load_settings()) as pipeline, session.engine() as engine:
            detected = None if no_detect else pipeline.detect(engine).counts()
            report = pipeline.run(engine, limit=limit)
        counts = {"detected": detected, **report.counts()}
        if as_json:
            _print_json({**counts, "failed_lessons": report.failed, "dead_lessons": report.dead})
            return
        if detected is not None:
            echo("detected: {new} new, {changed} changed, {unchanged} unchanged".format(**detected))
        echo("processed {processed}, failed {failed} (retried later), dead {dead}".format(**counts))

    return run


def _status() -> click.Command:
    @click.command("status")
    @click.option("--course", "course_id", help="Only this course's lessons.")
    @click.option("--json", "as_json", is_flag=True, help="Print every lesson as JSON.")
    @pass_session
    def status(session: Session, course_id: str | None, as_json: bool) -> None:
        """Each lesson's state (pending, downloading, analysing, stored, synced, done,
        failed), attempts and last error, course by course."""
        from rescore.packs.content.schema import lessons

        query = select(
            lessons.c.lesson_id,
            lessons.c.title,
            lessons.c.state,
            lessons.c.attempts,
            lessons.c.dead,
            lessons.c.last_error,
        ).order_by(lessons.c.course_id, lessons.c.module_id, lessons.c.position)
        if course_id:
            query = query.where(lessons.c.course_id == course_id)
        with session.engine() as engine, source_read(engine) as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        if as_json:
            _print_json(rows)
            return
        _table(rows)

    return status


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="content lessons")
    for column in ("lesson", "title", "state", "attempts", "last error"):
        table.add_column(column)
    for r in rows:
        shown = "dead" if r["dead"] else r["state"]
        table.add_row(
            r["lesson_id"], r["title"], shown, str(r["attempts"]), (r["last_error"] or "")[:60]
        )
    console().print(table)


def _search() -> click.Command:
    @click.command("search")
    @click.argument("query")
    @click.option("--school", help="Search one school's store only.")
    @click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    @pass_session
    def search(session: Session, query: str, school: str | None, k: int, as_json: bool) -> None:
        """The lessons nearest to QUERY in the local knowledge base."""
        from rescore.packs.content.routes import search_lessons

        with session.engine() as engine:
            found = search_lessons(engine, query, school=school, k=k)
        if as_json:
            _print_json(found)
            return
        for hit in found:
            echo(
                f"{hit['similarity']:.3f}  [{hit['school']}/{hit['level']}]  "
                f"{hit['course']} / {hit['title']}  ({hit['lesson_id']})"
            )
        if not found:
            echo("no lesson found (run `rescore content run` first)")

    return search


def _retry() -> click.Command:
    @click.command("retry")
    @click.argument("lesson_ids", nargs=-1, required=True)
    @pass_session
    def retry(session: Session, lesson_ids: tuple[str, ...]) -> None:
        """Give dead-lettered LESSON_IDS another full set of attempts (next run)."""
        from rescore.packs.content.state import reset_dead

        now = datetime.now(UTC).replace(tzinfo=None)
        with session.engine() as engine, source_write(engine) as conn:
            count = reset_dead(conn, lesson_ids, now)
        if count == 0:
            raise click.ClickException("none of these lessons is a dead letter")
        echo(f"{count} lesson(s) will be retried at the next run")

    return retry


def _purge() -> click.Command:
    @click.command("purge")
    @pass_session
    def purge(session: Session) -> None:
        """Delete downloaded videos older than RESCORE_CONTENT_RETENTION_DAYS (default 7)."""
        from rescore.packs.content.jobs import purge_videos

        with session.engine() as engine:
            gone = purge_videos(engine, datetime.now(UTC))
        echo(f"deleted {len(gone)} video(s)")

    return purge
