"""History retention without a server: month arithmetic, which partitions expire, which backup
covers them, the hourly job's registration, and refusals on databases that keep one table.
The PostgreSQL side is in tests/integration/test_history_partitions.py."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from rescore.cli.app import main
from rescore.db.partitions import Partition, add_months, include_name, month_of, partition_name
from rescore.engine import Engine
from rescore.exceptions import ConfigurationError
from rescore.retention import (
    COVER_MARGIN,
    MAINTENANCE_CRON,
    BackupSeen,
    cutoff,
    history_schedules,
    last_verified_backup,
    plan,
)
from rescore.runtime.embedded import core_schedules
from rescore.settings import Settings

PG = "postgresql+psycopg://rescore@db.internal/scores"
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def _month(year: int, month: int) -> Partition:
    low = datetime(year, month, 1, tzinfo=UTC)
    return Partition(name=partition_name(low), lower=low, upper=add_months(low, 1), rows=10)


DEFAULT = Partition(name="rescore_history_default", lower=None, upper=None, rows=3)


def test_months_move_across_years_both_ways() -> None:
    assert add_months(datetime(2026, 11, 1, tzinfo=UTC), 3) == datetime(2027, 2, 1, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 1, tzinfo=UTC), -13) == datetime(2024, 12, 1, tzinfo=UTC)
    late = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert month_of(late) == datetime(2027, 1, 1, tzinfo=UTC)  # months are UTC months
    assert partition_name(datetime(2027, 1, 1, tzinfo=UTC)) == "rescore_history_2027_01"


def test_partitions_are_not_model_tables_for_alembic() -> None:
    for name in ("rescore_history_2026_11", "rescore_history_default"):
        assert not include_name(name, "table", {})
    for name in ("rescore_history", "rescore_scores", "rescore_history_notes"):
        assert include_name(name, "table", {})
    assert include_name("ix_rescore_history_entity", "index", {})


def test_a_month_expires_once_it_ended_more_than_n_months_ago() -> None:
    assert cutoff(NOW, 12) == datetime(2025, 11, 1, tzinfo=UTC)
    parts = [_month(2025, 9), _month(2025, 10), _month(2025, 11), _month(2026, 11), DEFAULT]
    seen = BackupSeen(path=Path("rescore-x"), created_at=NOW)
    verdicts = plan(parts, NOW, months=12, action="drop", backup=seen)
    assert [(v.partition.name, v.action) for v in verdicts] == [
        ("rescore_history_2025_09", "drop"),
        ("rescore_history_2025_10", "drop"),
    ]
    assert plan(parts, NOW, months=0, action="drop", backup=seen) == []  # keep forever


def test_only_a_backup_taken_after_the_month_ended_covers_it() -> None:
    part = _month(2025, 10)
    assert part.upper is not None
    just = part.upper + COVER_MARGIN

    def action(created_at: datetime | None) -> str:
        backup = None if created_at is None else BackupSeen(path=Path("b"), created_at=created_at)
        (verdict,) = plan([part], NOW, months=1, action="detach", backup=backup)
        return verdict.action

    assert action(None) == "keep"
    assert action(just - timedelta(seconds=1)) == "keep"
    assert action(just) == "detach"
    reason = plan([part], NOW, months=1, action="detach", backup=None)[0].reason
    assert reason == "no verified backup of this database"


def _backup(
    root: Path,
    created_at: datetime,
    *,
    database: str = PG,
    damaged: bool = False,
    fmt: int = 1,
) -> Path:
    folder = root / f"rescore-{created_at:%Y%m%dT%H%M%S}Z"
    folder.mkdir(parents=True)
    data = f"dump of {created_at}".encode()
    (folder / "data.dump").write_bytes(data + (b"!" if damaged else b""))
    manifest = {
        "format": fmt,
        "created_at": created_at.isoformat(),
        "dialect": make_url(database).get_backend_name(),
        "database": database,
        "file": "data.dump",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "tables": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_the_newest_intact_backup_of_this_database_is_the_one_that_counts(
    tmp_path: Path,
) -> None:
    url = make_url(PG)
    assert last_verified_backup(tmp_path / "missing", url) is None
    old = _backup(tmp_path, NOW - timedelta(days=3))
    same = "postgresql://rescore:***@db.internal:5432/scores"  # as a backup writes it
    good = _backup(tmp_path, NOW - timedelta(days=2), database=same)
    _backup(tmp_path, NOW - timedelta(days=1), damaged=True)
    _backup(tmp_path, NOW - timedelta(hours=5), database=PG.replace("scores", "other"))
    _backup(tmp_path, NOW - timedelta(hours=4), fmt=2)
    (tmp_path / "rescore-broken").mkdir()
    (tmp_path / "rescore-broken" / "manifest.json").write_text("{not json")
    seen = last_verified_backup(tmp_path, url)
    assert seen == BackupSeen(path=good, created_at=NOW - timedelta(days=2))
    assert old.exists()


def test_the_partition_job_runs_hourly_in_both_runtimes_on_postgresql_only() -> None:
    assert history_schedules(Settings(database_url="sqlite:///x.db")) == []
    assert history_schedules(Settings(database_url="mysql+pymysql://root@h/db")) == []
    (job,) = history_schedules(Settings(database_url=PG))
    assert job.name == "rescore.history-partitions"
    assert job.cron == MAINTENANCE_CRON == "7 * * * *"  # hourly
    settings = Settings(database_url=PG)
    assert "rescore.history-partitions" in {s.name for s in core_schedules(settings)}


def test_partition_operations_refuse_a_database_that_keeps_one_table(engine: Engine) -> None:
    for call in (engine.history_partitions, engine.maintain_history, engine.prune_history):
        with pytest.raises(ConfigurationError, match="PostgreSQL feature"):
            call()


def test_the_history_commands_refuse_sqlite_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "init"]).exit_code == 0
    for args in (["partitions"], ["prune", "--dry-run", "--retention-months", "3"]):
        done = runner.invoke(main, ["--database-url", url, "history", *args])
        assert done.exit_code == 2, done.output
        assert done.output.strip().splitlines() == [
            f"error: {url}: history partitions are a PostgreSQL feature (sqlite keeps one "
            "history table)"
        ]
