"""The content pack's registration: its daily job (02:00 in America/Sao_Paulo) runs the
pipeline from the environment's settings, the lifecycle job deletes old videos, and its rules
are valid automation rules."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rescore.packs.content import ContentPack
from rescore.packs.content.config import load_settings
from rescore.packs.content.pipeline import Pipeline
from rescore.testing import scratch_engine


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ContentPack:
    """The pack, its videos and index in ``tmp_path``, with the light embedder."""
    monkeypatch.setenv("RESCORE_EMBEDDER", "hashing")
    monkeypatch.setenv("RESCORE_CONTENT_STORAGE", str(tmp_path / "videos"))
    monkeypatch.setenv("RESCORE_CONTENT_INDEX_DIR", str(tmp_path / "index"))
    return ContentPack()


def test_the_daily_job_runs_the_pipeline_and_the_lifecycle_deletes_old_videos(
    pack: ContentPack, tmp_path: Path
) -> None:
    jobs = {s.name: s for s in pack.register_schedules()}
    assert (jobs["content.pipeline"].cron, jobs["content.pipeline"].timezone) == (
        "0 2 * * *",
        "America/Sao_Paulo",
    )
    with scratch_engine([pack], tmp_path / "c.db") as engine:
        due = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
        report = jobs["content.pipeline"].run(engine, due)
        assert len(report.processed) == 5  # type: ignore[attr-defined]
        again = jobs["content.pipeline"].run(engine, due)
        assert again.counts() == {"processed": 0, "failed": 0, "dead": 0}  # type: ignore[attr-defined]
        videos = sorted((tmp_path / "videos").rglob("*.mp4"))
        old = time.time() - 8 * 86_400
        os.utime(videos[0], (old, old))
        gone = jobs["content.lifecycle"].run(engine, datetime.now(UTC))
    assert gone == [videos[0].relative_to(tmp_path / "videos").as_posix()]


def test_the_shipped_rules_are_valid_and_notify_the_content_channel() -> None:
    from rescore.automations.rules import Rule

    rules = [Rule.model_validate({**r, "pack": "content"}) for r in ContentPack().register_rules()]
    assert [r.name for r in rules] == ["content.run_finished", "content.lesson_failed"]
    for rule in rules:
        assert rule.actions[0].notify.channel == "content"  # type: ignore[union-attr]


def test_a_bad_setting_is_one_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from rescore.exceptions import ConfigurationError
    from rescore.packs.content.config import load_settings

    monkeypatch.setenv("RESCORE_CONTENT_CONCURRENCY", "0")
    with pytest.raises(ConfigurationError, match="RESCORE_CONTENT_CONCURRENCY"):
        load_settings()
    monkeypatch.delenv("RESCORE_CONTENT_CONCURRENCY")
    monkeypatch.setenv("RESCORE_CONTENT_SOURCE", "hotmart")
    monkeypatch.delenv("HOTMART_CLIENT_ID", raising=False)
    with pytest.raises(ConfigurationError, match="HOTMART_CLIENT_ID"):
        load_settings().make_source()


def test_the_frequent_job_processes_what_is_pending_without_detecting(
    pack: ContentPack, tmp_path: Path
) -> None:
    jobs = {s.name: s for s in pack.register_schedules()}
    assert jobs["content.retry"].cron == "*/15 * * * *"
    due = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    with scratch_engine([pack], tmp_path / "c.db") as engine:
        nothing = jobs["content.retry"].run(engine, due)
        assert nothing.counts() == {"processed": 0, "failed": 0, "dead": 0}  # type: ignore[attr-defined]
        with Pipeline.from_settings(load_settings()) as pipeline:
            assert len(pipeline.detect(engine).new) == 5
        report = jobs["content.retry"].run(engine, due)
        assert len(report.processed) == 5  # type: ignore[attr-defined]
