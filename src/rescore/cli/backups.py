"""Commands that make, check and restore backups: ``backup``, ``backup verify``, ``restore``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from rescore.cli.framework import Session, console, echo, pass_session, setting_option

__all__ = ["backup", "restore"]


@contextmanager
def _progress(start: str) -> Iterator[Callable[[str], None]]:
    """A status line the library's progress messages update (nothing when not a terminal)."""
    with console().status(start) as status:
        yield lambda message: status.update(message)


def _size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")


@click.group(invoke_without_command=True)
@setting_option(
    "--out",
    setting="backup_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the backup goes to. [default: .rescore/backups]",
)
@setting_option(
    "--keep",
    setting="backup_keep",
    type=click.IntRange(1),
    help="Backups kept in that folder; older ones are deleted. [default: 7]",
)
@setting_option(
    "--s3",
    setting="backup_s3_url",
    help="Also copy the backup to s3://BUCKET/PREFIX (keys from AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY; RESCORE_BACKUP_S3_ENDPOINT for MinIO, B2, ...).",
)
@click.pass_context
def backup(
    ctx: click.Context,
    backup_dir: Path | None,
    backup_keep: int | None,
    backup_s3_url: str | None,
) -> None:
    """Back up the database (--database-url) with a manifest of every table's rows.

    SQLite: the online backup API; PostgreSQL: pg_dump (custom format); MariaDB/MySQL:
    mariadb-dump --single-transaction. The manifest's row counts and checksums describe
    exactly what the backup holds, even while workers write. `rescore backup verify PATH`
    checks a backup; `rescore restore PATH --database-url URL` restores and verifies it.
    """
    if ctx.invoked_subcommand is not None:
        return
    from rescore.backup import backup_from_settings

    session = ctx.find_object(Session) or Session()
    settings = session.settings(
        backup_dir=backup_dir, backup_keep=backup_keep, backup_s3_url=backup_s3_url
    )
    with _progress("backing up") as progress:
        made = backup_from_settings(settings, progress=progress)
    manifest = made.manifest
    echo(
        f"backup {made.path}: {len(manifest.tables)} tables, {manifest.rows:,} rows, "
        f"{_size(manifest.size)} in {manifest.seconds:.1f} s (keeping the newest "
        f"{settings.backup_keep})"
    )
    if made.uploaded_to:
        echo(f"copied to {made.uploaded_to}")


@backup.command("verify")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def verify(path: Path) -> None:
    """Check the backup at PATH without restoring it: its file against the manifest's size
    and SHA-256, and the archive readable and complete (SQLite: integrity check and every
    table's checksum on a copy; PostgreSQL: pg_restore reads it through)."""
    from rescore.backup import verify as verify_backup

    with _progress("verifying") as progress:
        made = verify_backup(path, progress=progress)
    echo(
        f"backup {made.path} is sound: {made.manifest.file} matches its manifest "
        f"({len(made.manifest.tables)} tables, {made.manifest.rows:,} rows, "
        f"taken {made.manifest.created_at:%Y-%m-%d %H:%M:%S} UTC)"
    )


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--database-url",
    "target",
    required=True,
    help="The empty database to restore into (created if missing; one with tables is "
    "refused). Not the group's --database-url: a restore never picks its target by default.",
)
@pass_session
def restore(_session: Session, path: Path, target: str) -> None:
    """Restore the backup at PATH into an empty database, then verify every table's row count
    and checksum against the backup's manifest; only then is it reported restored."""
    from rescore.backup import restore as restore_backup

    with _progress("restoring") as progress:
        done = restore_backup(path, target, progress=progress)
    echo(
        f"restored {path} into {done.target}: {done.tables} tables, {done.rows:,} rows, "
        f"every count and checksum equal to the manifest ({done.seconds:.1f} s)"
    )
