"""The nightly backup runs in both runtimes: the embedded runtime's scheduler makes it when
it falls due, and Celery beat carries it as a daily crontab entry."""

from __future__ import annotations

import time
from datetime import UTC, datetime
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
    assert jobs["rescore.backup"].cron == "30 2 * * *"
    assert jobs["rescore.reconcile"].cron == "0 3 * * *"
    assert _jobs(Settings(backup_cron="45 23 * * *"))["rescore.backup"].cron == "45 23 * * *"
    assert "rescore.backup" not in _jobs(Settings(backup_cron=""))
    assert _jobs(Settings(timezone="America/Bogota"))["rescore.backup"].timezone == (
        "America/Bogota"
    )
    with pytest.raises(ValidationError, match="not a cron expression"):
        Settings(backup_cron="61 2 * * *")
    with pytest.raises(ValidationError, match="IANA"):
        Settings(timezone="Bogota")


def test_celery_beat_ticks_the_same_scheduler() -> None:
    entries = beat_schedule(Settings(broker_url="memory://"))
    assert entries["rescore.tick"]["task"] == "rescore.tick"
    assert entries["rescore.deliver"]["task"] == "rescore.deliver"
    assert not any(name.startswith("rescore.backup") for name in entries)  # no cron in beat


def test_the_embedded_runtime_backs_up_when_the_time_comes(tmp_path: Path) -> None:
    clock = Clock()
    clock.now = datetime(2026, 1, 23, 2, 29, 59, tzinfo=UTC)
    engine = make_engine(
        tmp_path / "rt.db",
        clock=clock,
        backup_dir=tmp_path / "backups",
        snapshot_cron="",
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
