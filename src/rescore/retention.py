"""History retention: which monthly partitions are old enough to go, and whether a backup
covers them (seed 001: "never lose the historical data"). See ADR 0012.

With ``history_retention_months = N`` (0 keeps everything), a partition whose whole month ended
before the first day of the month N months back is *expired*: in November with N = 12, October
of last year and everything older. An expired partition is detached (kept as a plain table,
out of every query) or dropped (``history_retention_action``), but **only** once a verified
backup taken after its month ended (plus :data:`COVER_MARGIN`) exists; otherwise it is kept
and the report says why. The default partition is never removed.

The backup record retention trusts is the one ``rescore backup`` writes (``rescore.backup``):
a folder ``rescore-*`` under ``backup_dir`` with a ``manifest.json`` (format 1) naming
``created_at``, ``dialect``, ``database`` (the URL, password hidden), the dump ``file``, its
``bytes`` and ``sha256``. A backup counts when its manifest is of *this* database and its file
still has that size and SHA-256: a damaged, moved or foreign backup covers nothing.

Example::

    seen = last_verified_backup(Path(".rescore/backups"), make_url(database_url))
    verdicts = plan(parts, now, months=12, action="detach", backup=seen)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from rescore.db.partitions import Partition, add_months, month_of
from rescore.schedule import Schedule
from rescore.settings import Settings

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = [
    "COVER_MARGIN",
    "MAINTENANCE_CRON",
    "BackupSeen",
    "Verdict",
    "cutoff",
    "history_schedules",
    "last_verified_backup",
    "maintain_history",
    "plan",
]

log = logging.getLogger(__name__)

#: A backup covers a month only if it began this long after the month ended: a write that
#: stamped its rows just before midnight may commit a moment later.
COVER_MARGIN = timedelta(hours=1)
MANIFEST = "manifest.json"
#: How often the partition job runs: creating a month ahead is cheap and idempotent, and an
#: hour bounds how long rows sit in the default partition after a month had none.
#: The partition job's cron: hourly, off the hour's top.
MAINTENANCE_CRON = "7 * * * *"
Action = Literal["detach", "drop"]


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupSeen:
    """The newest backup of this database whose file still matches its manifest."""

    path: Path
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    """What retention does with one expired partition, and why."""

    partition: Partition
    action: Literal["detach", "drop", "keep"]
    reason: str


def cutoff(now: datetime, months: int) -> datetime:
    """Partitions whose month ends on or before this instant are expired."""
    return add_months(month_of(now), -months)


def plan(
    parts: Sequence[Partition],
    now: datetime,
    *,
    months: int,
    action: Action,
    backup: BackupSeen | None,
) -> list[Verdict]:
    """The fate of every expired partition (none when ``months`` is 0)."""
    if months <= 0:
        return []
    limit = cutoff(now, months)
    expired = [p for p in parts if p.upper is not None and p.upper <= limit]
    return [_verdict(p, action, backup) for p in expired]


def _verdict(part: Partition, action: Action, backup: BackupSeen | None) -> Verdict:
    assert part.upper is not None
    needed = part.upper + COVER_MARGIN
    if backup is None:
        return Verdict(partition=part, action="keep", reason="no verified backup of this database")
    if backup.created_at < needed:
        return Verdict(
            partition=part,
            action="keep",
            reason=f"the last verified backup ({backup.created_at:%Y-%m-%d %H:%M} UTC) is older "
            f"than {needed:%Y-%m-%d %H:%M} UTC",
        )
    return Verdict(partition=part, action=action, reason=f"covered by {backup.path.name}")


# the scheduled job --------------------------------------------------------------------------


def history_schedules(settings: Settings) -> list[Schedule]:
    """The hourly partition job, on PostgreSQL only (other databases keep one table)."""
    try:
        dialect = make_url(settings.database_url).get_backend_name()
    except ArgumentError:
        return []
    if dialect != "postgresql":
        return []
    return [
        Schedule(
            name="rescore.history-partitions",
            cron=MAINTENANCE_CRON,
            run=lambda engine, due: maintain_history(engine),
            description="Create monthly history partitions ahead, empty the default "
            "partition, and apply history retention once a verified backup covers it.",
        )
    ]


def maintain_history(engine: Engine) -> list[Verdict]:
    """The job: partitions ahead, then retention when it is on; logs what it did."""
    made = engine.maintain_history()
    if made:
        log.info("history partitions created: %s", ", ".join(made))
    if not engine.settings.history_retention_months:
        return []
    verdicts = engine.prune_history()
    for verdict in verdicts:
        log.info("history %s: %s (%s)", verdict.partition.name, verdict.action, verdict.reason)
    return verdicts


# the backup record ---------------------------------------------------------------------------


def last_verified_backup(backup_dir: Path, database: URL) -> BackupSeen | None:
    """The newest backup under ``backup_dir`` of ``database`` whose file matches its
    manifest, or None. Newest first, so usually one file is hashed."""
    if not backup_dir.is_dir():
        return None
    found = []
    for manifest in backup_dir.glob(f"rescore-*/{MANIFEST}"):
        record = _read(manifest)
        if record is not None and _same_database(record, database):
            found.append((record["created_at"], manifest.parent, record))
    for created_at, folder, record in sorted(found, key=lambda f: f[0], reverse=True):
        if _file_matches(folder, record):
            return BackupSeen(path=folder, created_at=created_at)
        log.warning("backup %s does not match its manifest: it covers nothing", folder)
    return None


def _read(manifest: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads(manifest.read_bytes())
        if data.get("format") != 1:
            return None
        created = datetime.fromisoformat(data["created_at"])
        if created.tzinfo is None:
            return None
        return {**data, "created_at": created, "file": Path(str(data["file"])).name}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def _same_database(record: dict[str, Any], database: URL) -> bool:
    try:
        theirs = make_url(str(record.get("database", "")))
    except (ArgumentError, ValueError):
        return False
    return record.get("dialect") == database.get_backend_name() and _where(theirs) == _where(
        database
    )


def _where(url: URL) -> tuple[str, str | None, int | None, str | None]:
    port = url.port or _PORTS.get(url.get_backend_name())
    return url.get_backend_name(), url.host, port, url.database


_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def _file_matches(folder: Path, record: dict[str, Any]) -> bool:
    path = folder / record["file"]
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except OSError:
        return False
    return size == record.get("bytes") and digest.hexdigest() == record.get("sha256")
