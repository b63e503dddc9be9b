"""The nightly backup runs in both runtimes: the embedded runtime's scheduler makes it when
it falls due, and Celery beat carries it as a daily crontab entry."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import Clock, make_engine
from rescore.backup import backups
from rescore.runtime.celery import beat_schedule
from rescore.runtime.embedded import EmbeddedRuntime, core_schedules
from rescore.settings import Settings


def test_the_backup_is_scheduled_nightly_by_default() -> None:
    (job,) = [s for s in core_schedules(Settings()) if s.name == "rescore.backup"]
    assert job.at == dtime(3, 0)
    assert Settings(backup_schedule="23:45").backup_at == dtime(23, 45)
    off = Settings(backup_schedule="off")
    assert off.backup_at is None
    assert "rescore.backup" not in {s.name for s in core_schedules(off)}
    with pytest.raises(ValidationError, match="HH:MM"):
        Settings(backup_schedule="25:00")


def test_celery_beat_sends_the_backup_job_daily() -> None:
    settings = Settings(backup_schedule="02:30", broker_url="memory://")
    entries = beat_schedule(settings, core_schedules(settings))
    entry = entries["rescore.backup"]
    assert entry["task"] == "rescore.job"
    assert entry["args"] == ("rescore.backup",)
    assert entry["schedule"].hour == {2}
    assert entry["schedule"].minute == {30}


def test_the_embedded_runtime_backs_up_when_the_time_comes(tmp_path: Path) -> None:
    clock = Clock()
    clock.now = datetime(2026, 1, 23, 2, 59, 59, tzinfo=UTC)
    engine = make_engine(
        tmp_path / "rt.db",
        clock=clock,
        backup_dir=tmp_path / "backups",
        snapshot_interval=0,
        poll_interval=0.05,
    )
    with EmbeddedRuntime(engine) as runtime:
        time.sleep(0.2)
        assert backups(tmp_path / "backups") == []  # not yet 03:00
        clock.advance(2)
        deadline = time.monotonic() + 10
        while ("rescore.backup", True) not in runtime.job_runs and time.monotonic() < deadline:
            time.sleep(0.02)
    engine.close()
    assert ("rescore.backup", True) in runtime.job_runs
    (made,) = backups(tmp_path / "backups")
    assert made.manifest.tables["rescore_events"].rows == 0
