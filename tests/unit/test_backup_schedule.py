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
from rescore.schedule import Schedule
from rescore.settings import Settings


def _jobs(settings: Settings) -> dict[str, Schedule]:
    return {s.name: s for s in core_schedules(settings)}


def test_the_backup_is_scheduled_nightly_before_the_reconciliation() -> None:
    jobs = _jobs(Settings())
    assert jobs["rescore.backup"].at == dtime(2, 30)
    assert jobs["rescore.backup"].at < jobs["rescore.reconcile"].at  # type: ignore[operator]
    assert _jobs(Settings(backup_at="23:45"))["rescore.backup"].at == dtime(23, 45)
    assert "rescore.backup" not in _jobs(Settings(backup_at=""))
    with pytest.raises(ValidationError, match="pattern"):
        Settings(backup_at="25:00")


def test_celery_beat_sends_the_backup_job_daily() -> None:
    settings = Settings(backup_at="02:30", broker_url="memory://")
    entries = beat_schedule(settings, core_schedules(settings))
    entry = entries["rescore.backup"]
    assert entry["task"] == "rescore.job"
    assert entry["args"] == ("rescore.backup",)
    assert entry["schedule"].hour == {2}
    assert entry["schedule"].minute == {30}


def test_the_embedded_runtime_backs_up_when_the_time_comes(tmp_path: Path) -> None:
    clock = Clock()
    clock.now = datetime(2026, 1, 23, 2, 29, 59, tzinfo=UTC)
    engine = make_engine(
        tmp_path / "rt.db",
        clock=clock,
        backup_dir=tmp_path / "backups",
        snapshot_interval=0,
        poll_interval=0.05,
    )
    with EmbeddedRuntime(engine) as runtime:
        time.sleep(0.2)
        assert backups(tmp_path / "backups") == []  # not yet 02:30
        clock.advance(2)
        deadline = time.monotonic() + 10
        while ("rescore.backup", True) not in runtime.job_runs and time.monotonic() < deadline:
            time.sleep(0.02)
    engine.close()
    assert ("rescore.backup", True) in runtime.job_runs
    (made,) = backups(tmp_path / "backups")
    assert made.manifest.tables["rescore_events"].rows == 0
