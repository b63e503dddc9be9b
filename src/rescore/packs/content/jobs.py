"""The pack's scheduled jobs (also run by the webhook and the CLI): the pipeline run, and the
seed's video lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.packs.content.pipeline import RunReport

__all__ = ["purge_videos", "retry_pending", "run_pipeline"]


def run_pipeline(engine: Engine, due: datetime | None = None) -> RunReport:
    """Detect, then process what is pending (the daily job, the webhook, the CLI)."""
    return _run(engine, detect=True)


def retry_pending(engine: Engine, due: datetime | None = None) -> RunReport:
    """Process what is pending without asking the platform for new lessons (the frequent
    job): a lesson that failed is retried once its back-off has passed, not at the next daily
    run. Nothing pending, nothing done and nothing notified."""
    return _run(engine, detect=False)


def _run(engine: Engine, *, detect: bool) -> RunReport:
    """The pipeline from the environment's settings: detect first if asked, then process."""
    from rescore.packs.content.config import load_settings
    from rescore.packs.content.pipeline import Pipeline

    with Pipeline.from_settings(load_settings()) as pipeline:
        if detect:
            pipeline.detect(engine)
        return pipeline.run(engine)


def purge_videos(engine: Engine, due: datetime) -> list[str]:
    """The seed's lifecycle rule: delete downloaded videos older than the retention."""
    from rescore.packs.content.config import load_settings

    settings = load_settings()
    cutoff = due.astimezone(UTC) - timedelta(days=settings.retention_days)
    return settings.make_storage().purge(older_than=cutoff)
