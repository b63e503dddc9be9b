"""The content pack: seed 004's AI-first ETL for a course platform (Hotmart), as a pack.

Entities are lessons (``{course}_{module}_{lesson}``, the seed's document id); a course's state
is its lessons'. The pipeline (detect, download, analyse, store, sync, notify) is a pack-level
job runner (:mod:`rescore.packs.content.pipeline`, docs/adr/0017) whose state table is the
pack's; it reports every state change to the engine as an event, so the engine keeps each
lesson's ``pipeline`` and ``classification`` scores with their history, and its automation
rules (``rules.yaml``) send one message per run and one per failure.

It runs daily at 02:00 in ``America/Sao_Paulo`` (the seed's Cloud Scheduler job), on
``POST /v1/packs/content/webhook`` and on ``rescore content run``; a second daily job deletes
downloaded videos older than 7 days (the seed's bucket lifecycle rule).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, MetaData

from rescore.packs.content import loader, schema
from rescore.packs.content.jobs import purge_videos, retry_pending, run_pipeline
from rescore.packs.content.scorers import scorers
from rescore.plugins import Pack
from rescore.routing import Lane, Route
from rescore.schedule import Schedule
from rescore.scoring import Scorer

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter

    from rescore.packs.content.pipeline import Pipeline


__all__ = ["EVENT_ROUTES", "ContentPack", "run_pipeline"]

SCORERS = ("pipeline", "classification")
EVENT_ROUTES: Mapping[str, Route] = {
    "lesson_detected": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        description="Detection found a new lesson, or one whose content changed: it is pending.",
    ),
    "lesson_progressed": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        description="A lesson moved to another state (downloading, analysing, stored, synced, done).",  # noqa: E501
    ),
    "lesson_failed": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        description="A step of a lesson failed; payload: error, attempts, dead (no retry left).",
    ),
    "content_run_finished": Route(
        lane=Lane.NONE,
        scorers=(),
        description="A pipeline run ended; payload: processed, failed and dead counts.",
    ),
}


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ContentPack(Pack):
    """Seed 004: detect new course content, analyse it, keep a knowledge base in sync."""

    name = "content"
    description = "Course content ETL: detect, download, analyse, store, sync to vector stores."
    entity_label = "lesson"

    def register_scorers(self) -> Sequence[Scorer]:
        return scorers()

    def register_event_types(self) -> Mapping[str, Route]:
        return EVENT_ROUTES

    def source_metadata(self) -> MetaData:
        return schema.metadata

    def load_inputs(
        self, conn: Connection, entities: Sequence[str], parts: frozenset[str]
    ) -> dict[str, dict[str, Any]]:
        return loader.load_inputs(conn, entities, parts)

    def entity_keys(self, conn: Connection) -> Iterator[str]:
        return loader.entity_keys(conn)

    def known_entities(self, conn: Connection, entities: Sequence[str]) -> set[str]:
        return loader.known_entities(conn, entities) | {"pipeline"}

    def generate_demo_data(self, conn: Connection, *, seed: int, size: int | None = None) -> int:
        return loader.insert_demo(conn, seed=seed, size=40 if size is None else size, now=_utcnow())

    def register_schedules(self) -> Sequence[Schedule]:
        return [
            Schedule(
                name="content.pipeline",
                cron="0 2 * * *",
                timezone="America/Sao_Paulo",
                run=run_pipeline,
                description="Detect new and changed lessons and process them (seed 004, RF-001).",
            ),
            Schedule(
                name="content.retry",
                cron="*/15 * * * *",
                timezone="America/Sao_Paulo",
                run=retry_pending,
                description="Retry failed lessons whose back-off has passed (no detection).",
            ),
            Schedule(
                name="content.lifecycle",
                cron="30 3 * * *",
                timezone="America/Sao_Paulo",
                run=purge_videos,
                description="Delete downloaded videos older than RESCORE_CONTENT_RETENTION_DAYS.",
            ),
        ]

    def pipeline(self, **settings: Any) -> Pipeline:
        """A :class:`rescore.packs.content.pipeline.Pipeline` from the environment's settings
        with ``settings`` overriding them (``folder=``, ``concurrency=``, ...): what the bench
        and embedding applications drive."""
        from rescore.packs.content.config import ContentSettings
        from rescore.packs.content.pipeline import Pipeline

        return Pipeline.from_settings(ContentSettings(**settings))

    def register_rules(self) -> Sequence[Mapping[str, Any]]:
        """One message per run (processed, failed counts) and one per failed lesson."""
        import yaml

        rules: list[Mapping[str, Any]] = yaml.safe_load(self.rules_file().read_text())
        return rules

    def rules_file(self) -> Path:
        return Path(str(files("rescore.packs.content").joinpath("rules.yaml")))

    def register_routes(self) -> Sequence[APIRouter]:
        from rescore.packs.content.routes import router

        return [router(self)]

    def register_commands(self) -> Sequence[click.Command]:
        from rescore.packs.content.commands import commands

        return commands(self)
