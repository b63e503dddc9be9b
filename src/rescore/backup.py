"""Backups that are proven, not hoped for (seed 001: "never lose the historical data").

A backup is a folder ``rescore-YYYYmmddTHHMMSSZ`` holding the database's dump (SQLite's online
backup, ``pg_dump`` custom format, or ``mariadb-dump --single-transaction`` gzipped; see
``rescore.db.dump``) and ``manifest.json``: the file's size and SHA-256, and every table's
row count and checksum in primary-key order, computed on exactly what the dump holds even
while the database is being written. The folder appears under its final name only once
complete, so a crash leaves no half backup that looks whole; the last ``keep`` are kept.

- :func:`backup` makes one (and optionally copies it to an S3-compatible bucket);
- :func:`verify` checks one without restoring it (file checksum, archive readable);
- :func:`restore` loads one into an **empty** target and says it succeeded only once every
  table's count and checksum equal the manifest's;
- :func:`backup_before_migrate` is the gate ``Engine.migrate`` passes: an existing database
  that needs a migration is backed up first, and a failed backup stops the migration.

Example::

    made = backup("postgresql+psycopg://postgres@db/rescore", Path("backups"), keep=7)
    verify(made.path)
    restore(made.path, "postgresql+psycopg://postgres@db/rescore_copy")
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from rescore.boundary import converted
from rescore.db.checksum import Progress, TableSum, differences
from rescore.db.dump import dumper_for, parse_url
from rescore.exceptions import BackupError, BackupMismatch, ConfigurationError, RescoreError
from rescore.settings import Settings

if TYPE_CHECKING:
    from rescore.db.engine import Database

__all__ = [
    "Backup",
    "Manifest",
    "Restored",
    "backup",
    "backup_before_migrate",
    "backup_from_settings",
    "backups",
    "open_backup",
    "restore",
    "rotate",
    "verify",
]

FORMAT = 1
MANIFEST = "manifest.json"
PREFIX = "rescore-"


def _quiet(_message: str) -> None:
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class Manifest:
    """What a backup holds, to be checked against whatever claims to be its copy."""

    created_at: datetime
    dialect: str
    database: str  # the source URL, without its password
    revision: str | None  # rescore's migration the database was at
    file: str
    size: int  # bytes
    sha256: str
    tool: str
    seconds: float
    tables: dict[str, TableSum] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def to_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "created_at": self.created_at.isoformat(),
            "dialect": self.dialect,
            "database": self.database,
            "revision": self.revision,
            "file": self.file,
            "bytes": self.size,
            "sha256": self.sha256,
            "tool": self.tool,
            "seconds": self.seconds,
            "tables": {name: t.as_json() for name, t in self.tables.items()},
        }
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Manifest:
        try:
            data = orjson.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupError(f"{where}: unknown manifest format {data.get('format')!r}")
            return cls(
                created_at=datetime.fromisoformat(data["created_at"]),
                dialect=data["dialect"],
                database=data["database"],
                revision=data["revision"],
                file=Path(data["file"]).name,  # never a path outside the backup
                size=int(data["bytes"]),
                sha256=data["sha256"],
                tool=data["tool"],
                seconds=float(data["seconds"]),
                tables={k: TableSum.from_json(v) for k, v in data["tables"].items()},
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(f"{where}: not a rescore backup manifest ({exc})") from exc


@dataclass(frozen=True, kw_only=True, slots=True)
class Backup:
    """A complete backup on disk: its folder and its manifest."""

    path: Path
    manifest: Manifest
    uploaded_to: str | None = None

    @property
    def data(self) -> Path:
        return self.path / self.manifest.file


@dataclass(frozen=True, kw_only=True, slots=True)
class Restored:
    """A verified restore: what went where, and how long it took."""

    target: str
    tables: int
    rows: int
    seconds: float


def file_sha256(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _name(out: Path, now: datetime) -> str:
    base = f"{PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%S}Z"
    name, n = base, 1
    while (out / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _revision(url: str) -> str | None:
    from rescore.db.engine import Database
    from rescore.db.migrate import current_revision

    db = Database(url, create=False)
    try:
        return current_revision(db)
    finally:
        db.dispose()


def backup(
    database_url: str,
    out: Path,
    *,
    keep: int = 7,
    s3_url: str | None = None,
    s3_endpoint: str | None = None,
    progress: Progress = _quiet,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Backup:
    """Back up the database at ``database_url`` into a new folder under ``out``, keep the
    newest ``keep`` backups there, and copy the new one to ``s3_url`` when given."""
    if keep < 1:
        raise ConfigurationError("keep: at least 1 backup must be kept")
    url = parse_url(database_url)
    dumper = dumper_for(url.get_backend_name())
    revision = _revision(database_url)
    with converted(where=str(out)):
        out.mkdir(parents=True, exist_ok=True)
        name = _name(out, clock())
        staging = out / f".partial-{name}"
        staging.mkdir()
    try:
        made = _write(staging, out / name, dumper, url, revision, progress, clock())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    rotate(out, keep)
    if s3_url:
        from rescore.bucket import upload

        try:
            where = upload(made.path, s3_url, endpoint_url=s3_endpoint, progress=progress)
        except RescoreError as exc:  # say that the local backup exists all the same
            raise type(exc)(f"{exc.message} (the local backup {made.path} was made)") from exc
        made = Backup(path=made.path, manifest=made.manifest, uploaded_to=where)
    return made


def _write(
    staging: Path,
    final: Path,
    dumper: Any,
    url: Any,
    revision: str | None,
    progress: Progress,
    now: datetime,
) -> Backup:
    started = time.monotonic()
    data = staging / dumper.filename
    tables, tool = dumper.dump(url, data, progress)
    progress("checksum of the backup file")
    size, digest = file_sha256(data)
    manifest = Manifest(
        created_at=now,
        dialect=dumper.dialect,
        database=url.render_as_string(hide_password=True),
        revision=revision,
        file=data.name,
        size=size,
        sha256=digest,
        tool=tool,
        seconds=round(time.monotonic() - started, 3),
        tables=tables,
    )
    with converted(where=str(final)):
        (staging / MANIFEST).write_bytes(manifest.to_json())
        os.replace(staging, final)
    return Backup(path=final, manifest=manifest)


def open_backup(path: Path) -> Backup:
    """The backup at ``path`` (its folder, or its manifest file)."""
    folder = path.parent if path.name == MANIFEST else path
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise ConfigurationError(f"{path} is not a backup: it has no {MANIFEST}")
    with converted(where=str(manifest_path)):
        raw = manifest_path.read_bytes()
    return Backup(path=folder, manifest=Manifest.from_json(raw, str(manifest_path)))


def backups(out: Path) -> list[Backup]:
    """The complete backups under ``out``, oldest first (a folder without a readable manifest
    is not a backup)."""
    if not out.is_dir():
        return []
    found = []
    for folder in sorted(out.glob(f"{PREFIX}*")):
        try:
            found.append(open_backup(folder))
        except RescoreError:
            continue
    return sorted(found, key=lambda b: (b.manifest.created_at, b.path.name))


def rotate(out: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete backups under ``out``; return the deleted."""
    old = backups(out)[:-keep] if keep > 0 else []
    for gone in old:
        shutil.rmtree(gone.path)
    return [b.path for b in old]


def _check_file(made: Backup) -> None:
    if not made.data.is_file():
        raise BackupMismatch(f"{made.path}: the data file {made.manifest.file} is missing")
    size, digest = file_sha256(made.data)
    if size != made.manifest.size or digest != made.manifest.sha256:
        raise BackupMismatch(
            f"{made.data}: {size} bytes with SHA-256 {digest[:12]}..., the manifest says "
            f"{made.manifest.size} bytes with {made.manifest.sha256[:12]}...: the file is "
            "damaged or not this backup's"
        )


def verify(path: Path, *, progress: Progress = _quiet) -> Backup:
    """Check a backup without restoring it: the file's size and SHA-256 against the manifest,
    and the archive readable and holding every table of the manifest (SQLite: integrity check
    and every checksum, on a copy)."""
    made = open_backup(path)
    progress("checksum of the backup file")
    _check_file(made)
    dumper_for(made.manifest.dialect).check(made.data, made.manifest.tables, progress)
    return made


def restore(path: Path, target_url: str, *, progress: Progress = _quiet) -> Restored:
    """Restore a backup into the empty database at ``target_url`` (created if missing) and
    verify every table's count and checksum against the manifest before returning."""
    started = time.monotonic()
    made = open_backup(path)
    progress("checksum of the backup file")
    _check_file(made)
    target = parse_url(target_url)
    dumper = dumper_for(target.get_backend_name())
    if dumper.dialect != made.manifest.dialect:
        raise ConfigurationError(
            f"this is a {made.manifest.dialect} backup: restore it into a "
            f"{made.manifest.dialect} database, not {dumper.dialect}"
        )
    staged = dumper.stage(made.data, target, progress)
    progress("verifying counts and checksums against the manifest")
    problems = differences(made.manifest.tables, dumper.sums(staged, progress))
    if problems:
        note = dumper.discard(staged, target)
        found = "; ".join(problems)
        raise BackupMismatch(f"the restore does not match the manifest: {found}; {note}")
    dumper.publish(staged, target)
    return Restored(
        target=target.render_as_string(hide_password=True),
        tables=len(made.manifest.tables),
        rows=made.manifest.rows,
        seconds=time.monotonic() - started,
    )


def backup_from_settings(
    settings: Settings, *, database_url: str | None = None, progress: Progress = _quiet
) -> Backup:
    """A backup where the settings say: ``backup_dir``, ``backup_keep``, ``backup_s3_url``."""
    return backup(
        database_url or settings.database_url,
        settings.backup_dir,
        keep=settings.backup_keep,
        s3_url=settings.backup_s3_url,
        s3_endpoint=settings.backup_s3_endpoint,
        progress=progress,
    )


def backup_before_migrate(
    settings: Settings, db: Database, *, progress: Progress = _quiet
) -> Backup | None:
    """Back up a database that holds data and needs a migration; None when there is nothing
    to lose (a new, empty database) or nothing to migrate. A failed backup raises
    :class:`BackupError`: the migration must not run (seed 001: "deploy fails if there is
    no backup")."""
    from rescore.db.migrate import migration_pending

    if not migration_pending(db):
        return None
    url = db.url.render_as_string(hide_password=False)
    try:
        return backup_from_settings(settings, database_url=url, progress=progress)
    except RescoreError as exc:
        raise BackupError(
            f"refusing to migrate: the backup before migrating failed ({exc}); fix that, or "
            "migrate without a backup with --no-backup (RESCORE_BACKUP_BEFORE_MIGRATE=false)"
        ) from exc
