"""``rescore history``: the monthly partitions of the score history (PostgreSQL) and their
retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import click

from rescore.cli.framework import (
    CONTEXT,
    Session,
    console,
    echo,
    pass_session,
    setting_option,
    warn,
)

if TYPE_CHECKING:
    from rescore.db.partitions import Partition
    from rescore.retention import Verdict

__all__ = ["history"]


@click.group("history", context_settings=CONTEXT)
def history() -> None:
    """The score history's monthly partitions on PostgreSQL: list them, apply retention.

    A scheduled job (both runtimes, hourly) creates the next months ahead and applies
    RESCORE_HISTORY_RETENTION_MONTHS; these commands show and do the same by hand.
    """


@history.command("partitions")
@pass_session
def partitions_cmd(session: Session) -> None:
    """List the partitions: month bounds and exact row counts (the default one last)."""
    from rich.table import Table

    with session.engine() as engine:
        parts = engine.history_partitions()
    table = Table("partition", "from", "to", "rows")
    for part in parts:
        table.add_row(part.name, _day(part.lower), _day(part.upper), f"{part.rows or 0:,}")
    console().print(table)
    total = sum(p.rows or 0 for p in parts)
    echo(f"{len(parts)} partitions, {total:,} rows")


@history.command("prune")
@click.option("--dry-run", is_flag=True, help="Only say what retention would remove.")
@setting_option(
    "--retention-months",
    setting="history_retention_months",
    type=click.IntRange(0),
    help="Remove partitions whose month ended more than this many months ago (0: keep "
    "forever). [default: 0]",
)
@setting_option(
    "--action",
    setting="history_retention_action",
    type=click.Choice(["detach", "drop"]),
    help="Detach expired partitions (plain tables, out of every query) or drop them. "
    "[default: detach]",
)
@setting_option(
    "--backup-dir",
    setting="backup_dir",
    help="Where the backups are that must cover a partition before it goes. "
    "[default: .rescore/backups]",
)
@pass_session
def prune(
    session: Session,
    dry_run: bool,
    history_retention_months: int | None,
    history_retention_action: str | None,
    backup_dir: str | None,
) -> None:
    """Apply history retention now: detach or drop every partition older than
    --retention-months that a verified backup in --backup-dir covers; keep (and say why)
    every other one."""
    with session.engine(
        history_retention_months=history_retention_months,
        history_retention_action=history_retention_action,
        backup_dir=backup_dir,
    ) as engine:
        settings = engine.settings
        if not settings.history_retention_months:
            engine.history_partitions()  # still refuse a database without partitions
            echo("retention is off (RESCORE_HISTORY_RETENTION_MONTHS is 0): nothing to prune")
            return
        seen = engine.last_verified_backup()
        verdicts = engine.prune_history(dry_run=dry_run)
    echo(
        f"last verified backup: {seen.path} ({seen.created_at:%Y-%m-%d %H:%M} UTC)"
        if seen
        else f"no verified backup of this database in {settings.backup_dir}"
    )
    _report(verdicts, dry_run=dry_run, months=settings.history_retention_months)


def _report(verdicts: Sequence[Verdict], *, dry_run: bool, months: int) -> None:
    if not verdicts:
        echo(f"no partition is older than {months} months: nothing to prune")
        return
    from rich.table import Table

    table = Table("partition", "rows", "action", "why")
    for v in verdicts:
        part: Partition = v.partition
        verb = v.action if v.action == "keep" or not dry_run else f"would {v.action}"
        table.add_row(part.name, f"{part.rows or 0:,}", verb, v.reason)
    console().print(table)
    gone = [v for v in verdicts if v.action != "keep"]
    rows = sum(v.partition.rows or 0 for v in gone)
    done = "would remove" if dry_run else "removed"
    echo(f"{done} {len(gone)} partitions ({rows:,} rows); kept {len(verdicts) - len(gone)}")
    if len(gone) < len(verdicts) and not dry_run:
        warn("expired partitions were kept: back up the database (`rescore backup`) first")
        raise SystemExit(1)


def _day(at: datetime | None) -> str:
    return "default" if at is None else f"{at:%Y-%m-%d}"
