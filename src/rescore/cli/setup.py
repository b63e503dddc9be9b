"""Commands that set a database up: ``init``, ``migrate`` and the ``demo``."""

from __future__ import annotations

from typing import Any

import click

from rescore.cli.framework import Session, console, echo, pass_session, setting_option

__all__ = ["demo", "init", "migrate"]

NO_BACKUP = click.option(
    "--no-backup",
    is_flag=True,
    help="Migrate an existing database without backing it up first (the explicit opt-out; "
    "RESCORE_BACKUP_BEFORE_MIGRATE=false does the same).",
)


@click.command()
@click.option(
    "--demo-data", is_flag=True, help="Fill each empty pack source with its demo data and score it."
)
@click.option("--seed", type=int, default=7, help="Seed of the demo data.")
@NO_BACKUP
@pass_session
def init(session: Session, demo_data: bool, seed: int, no_backup: bool) -> None:
    """Create rescore's tables (and the packs' source tables if missing) in --database-url.

    This, `migrate` and `demo` are the only commands that create or change a schema; the
    others refuse a database that does not exist or is not migrated. An existing database
    that needs a migration is backed up first (see `migrate`).
    """
    _backup_first(session, no_backup=no_backup, create=True)
    with session.engine(create=True, backup_before_migrate=False) as engine:
        echo(f"database ready: {engine.db.where}")
        echo(f"packs: {', '.join(engine.registry.names)}")
        if demo_data:
            from rescore.demo import prepare_pack

            for name in engine.registry.names:
                prepare_pack(engine, name, console(), seed=seed)


@click.command()
@NO_BACKUP
@pass_session
def migrate(session: Session, no_backup: bool) -> None:
    """Upgrade an existing database's tables to this version of rescore.

    A database that holds tables and needs a migration is backed up first (to
    RESCORE_BACKUP_DIR, rotated, copied to RESCORE_BACKUP_S3_URL if set); when that backup
    fails, nothing is migrated. --no-backup migrates without one.
    """
    _backup_first(session, no_backup=no_backup, create=False)
    with session.engine(migrate=True, backup_before_migrate=False) as engine:
        echo(f"database migrated: {engine.db.where}")


def _backup_first(session: Session, *, no_backup: bool, create: bool) -> None:
    """The backup before a migration, with progress; a failure stops the command."""
    settings = session.settings(backup_before_migrate=False if no_backup else None)
    if not settings.backup_before_migrate:
        return
    from rescore.backup import backup_before_migrate
    from rescore.db.engine import Database

    db = Database(settings.database_url, create=create)
    try:
        with console().status("checking whether a migration is due") as status:
            made = backup_before_migrate(settings, db, progress=status.update)
    finally:
        db.dispose()
    if made is not None:
        echo(
            f"backed up before migrating: {made.path} ({made.manifest.rows:,} rows in "
            f"{len(made.manifest.tables)} tables, verified manifest)"
        )


@click.command()
@click.option("--seed", type=int, default=7, help="Seed of the demo data and event stream.")
@click.option("--clients", type=click.IntRange(1), default=1870, help="Demo clients to create.")
@click.option("--events", type=click.IntRange(0), default=2000, help="Events to replay.")
@click.option("--rate", type=click.FloatRange(1), default=200.0, help="Events per second.")
@setting_option(
    "--flush-interval",
    setting="flush_interval",
    type=click.FloatRange(0.01),
    help="Seconds between normal-lane flushes. [default: 1.0 in the demo]",
)
@click.option("--keep-running", is_flag=True, help="Keep replaying events until Ctrl-C.")
@click.option("--keep-data", is_flag=True, help="Reuse the demo database instead of a fresh one.")
@pass_session
def demo(session: Session, /, **options: Any) -> None:
    """Run the credit demo: 1,870 clients, a live event stream, latency per lane.

    Creates .rescore/demo.db (or the SQLite file --database-url names), fills it with the
    credit pack's demo clients, scores them all, then replays payments, defaults and new
    payment plans while the embedded runtime rescores the clients they touch. Shows who was
    rescored, by how much and why, and ends with a summary of latencies.

    It only ever replaces a database it created itself: an existing file that is not a rescore
    demo database is refused, never deleted.
    """
    from rescore.demo import DEMO_DATABASE_URL, DemoOptions, run_demo

    run_demo(
        DemoOptions(
            database_url=session.options.get("database_url") or DEMO_DATABASE_URL,
            seed=options["seed"],
            clients=options["clients"],
            events=options["events"],
            rate=options["rate"],
            flush_interval=options["flush_interval"] or 1.0,
            keep_running=options["keep_running"],
            fresh=not options["keep_data"],
        ),
        console(),
    )
