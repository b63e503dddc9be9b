"""The ``rescore`` command. Every option can also come from the RESCORE_* variable it names."""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rescore.engine import Engine
from rescore.events import read_events_file
from rescore.exceptions import RescoreError
from rescore.plugins import discover
from rescore.queue import DEAD
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
errors = Console(stderr=True)

CONTEXT: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "show_default": True,
    "max_content_width": 100,
    "auto_envvar_prefix": "RESCORE",  # every other option: RESCORE_<COMMAND>_<OPTION>
}


def env_var(name: str) -> dict[str, Any]:
    return {"envvar": f"RESCORE_{name.upper()}", "show_envvar": True}


def engine_options(func: F) -> F:
    """Options every command that touches the database takes."""
    options = [
        click.option(
            "--database-url",
            help="Where scores, events and pending work live (SQLAlchemy URL).",
            **env_var("database_url"),
        ),
        click.option(
            "--source-url",
            help="The packs' source database, if not the same as --database-url.",
            **env_var("source_url"),
        ),
        click.option(
            "--tenant",
            help="The tenant (business) to act on.",
            **env_var("tenant"),
        ),
        click.option(
            "--packs",
            help="Comma-separated packs to load (default: every installed pack).",
            **env_var("packs"),
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_settings(**values: Any) -> Settings:
    """Settings from the flags given, the rest from RESCORE_* variables and defaults."""
    given = {k: v for k, v in values.items() if v is not None}
    if isinstance(given.get("packs"), str):
        given["packs"] = [p.strip() for p in given["packs"].split(",") if p.strip()]
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise click.UsageError(f"--{field.replace('_', '-')}: {first['msg']}") from exc


@contextmanager
def opened(settings: Settings, *, migrate: bool = True) -> Iterator[Engine]:
    engine = Engine.from_settings(settings)
    try:
        if migrate:
            engine.migrate()
        yield engine
    finally:
        engine.close()


class RescoreGroup(click.Group):
    """Turns rescore's own errors into a one-line message and exit code 1, and mounts each
    pack's own commands (``Pack.register_commands``) as ``rescore <pack> <command>``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RescoreError as exc:
            errors.print(f"[red]error:[/red] {exc}", highlight=False, markup=False)
            sys.exit(1)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_pack_groups()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or _pack_groups().get(name)


@functools.cache
def _pack_groups() -> dict[str, click.Group]:
    """One group per installed pack that brings commands of its own."""
    groups: dict[str, click.Group] = {}
    try:
        registry = discover()
    except RescoreError as exc:
        errors.print(f"warning: packs not loaded: {exc}", highlight=False, markup=False)
        return groups
    for name in registry.names:
        commands = registry[name].register_commands()
        if commands:
            group = click.Group(
                name, help=f"Commands of the {name} pack.", context_settings=CONTEXT
            )
            for command in commands:
                _show_env_vars(command)
                group.add_command(command)
            groups[name] = group
    return groups


@click.group(cls=RescoreGroup, context_settings=CONTEXT)
@click.version_option(package_name="rescore")
def main() -> None:
    """rescore keeps scores fresh.

    Business events go in (a payment, a default, a new payment plan); only the entities they
    touch are rescored, critical events at once and normal ones coalesced and batched. Every
    score is stored with its breakdown and the events that moved it.

    \b
    Start here:
      rescore demo                      the credit demo on a local SQLite file
      rescore init                      create the tables in --database-url
      rescore ingest events.jsonl       add events (JSON lines or CSV)
      rescore worker                    rescore queued work until Ctrl-C
      rescore explain credit 1006157869 why did this client's score change?
    """


@main.command()
@engine_options
@click.option(
    "--demo-data", is_flag=True, help="Fill each empty pack source with its demo data and score it."
)
@click.option("--seed", type=int, default=7, help="Seed of the demo data.")
def init(demo_data: bool, seed: int, **options: Any) -> None:
    """Create or upgrade rescore's tables, and the packs' source tables if missing."""
    settings = make_settings(**options)
    with opened(settings) as engine:
        console.print(f"database ready: {engine.db.url.render_as_string(hide_password=True)}")
        console.print(f"packs: {', '.join(engine.registry.names)}")
        if demo_data:
            from rescore.demo import prepare_pack

            for name in engine.registry.names:
                prepare_pack(engine, name, console, seed=seed)


@main.command()
@engine_options
@click.option("--seed", type=int, default=7, help="Seed of the demo data and event stream.")
@click.option("--clients", type=click.IntRange(1), default=1870, help="Demo clients to create.")
@click.option("--events", type=click.IntRange(0), default=2000, help="Events to replay.")
@click.option("--rate", type=click.FloatRange(1), default=200.0, help="Events per second.")
@click.option(
    "--flush-interval",
    type=click.FloatRange(0.01),
    default=1.0,
    help="Seconds between normal-lane flushes.",
    **env_var("flush_interval"),
)
@click.option("--keep-running", is_flag=True, help="Keep replaying events until Ctrl-C.")
@click.option("--keep-data", is_flag=True, help="Reuse the demo database instead of a fresh one.")
def demo(**options: Any) -> None:
    """Run the credit demo: 1,870 clients, a live event stream, latency per lane.

    Creates a SQLite file (.rescore/demo.db unless --database-url is given), fills it with the
    credit pack's demo clients, scores them all, then replays payments, defaults and new
    payment plans while the embedded runtime rescores the clients they touch. Shows who was
    rescored, by how much and why, and ends with a summary of latencies.
    """
    from rescore.demo import DemoOptions, run_demo

    run_demo(
        DemoOptions(
            database_url=options["database_url"] or "sqlite:///.rescore/demo.db",
            seed=options["seed"],
            clients=options["clients"],
            events=options["events"],
            rate=options["rate"],
            flush_interval=options["flush_interval"],
            keep_running=options["keep_running"],
            fresh=not options["keep_data"],
        ),
        console,
    )


@main.command()
@engine_options
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "csv"]),
    default="auto",
    help="File format; auto picks by extension (.csv is CSV, anything else JSON lines).",
)
def ingest(file: Any, fmt: str, **options: Any) -> None:
    """Add events from FILE (JSON lines or CSV; - for standard input).

    Each event is {event_id, type, entity, occurred_at, payload} (plus "pack" when two packs
    share a type). The whole file is validated first: one bad event and nothing is stored.
    Events already stored (same event_id) are acknowledged and not applied twice.
    """
    if fmt == "auto":
        fmt = "csv" if str(file.name).endswith(".csv") else "jsonl"
    parsed = read_events_file(file.read(), fmt)
    settings = make_settings(**options)
    with opened(settings) as engine:
        result = engine.ingest(parsed, tenant=settings.tenant)
    console.print(
        f"accepted {result.accepted}, duplicates {result.duplicates}; queued "
        f"{result.queued['critical']} critical and {result.queued['normal']} normal entities"
    )


@main.command()
@engine_options
@click.option("--once", is_flag=True, help="Process everything pending, then exit.")
@click.option(
    "--flush-interval",
    type=click.FloatRange(0.01),
    help="Seconds between normal-lane flushes.",
    **env_var("flush_interval"),
)
@click.option(
    "--flush-size",
    type=click.IntRange(1),
    help="Flush the normal lane early once this many entities wait.",
    **env_var("flush_size"),
)
@click.option(
    "--batch-size", type=click.IntRange(1), help="Entities per batch.", **env_var("batch_size")
)
@click.option("--celery", is_flag=True, help="Run a Celery worker (distributed runtime) instead.")
@click.option(
    "--beat", is_flag=True, help="With --celery: run the beat scheduler (exactly one, anywhere)."
)
@click.option(
    "--broker-url", help="Celery broker: amqp://... or redis://...", **env_var("broker_url")
)
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=1,
    help="With --celery: worker processes in this Celery worker.",
    envvar="RESCORE_WORKER_CONCURRENCY",
)
@click.option(
    "--queues",
    default="critical,normal",
    help="With --celery: the queues this worker consumes.",
    envvar="RESCORE_WORKER_QUEUES",
)
def worker(
    once: bool, celery: bool, beat: bool, concurrency: int, queues: str, **options: Any
) -> None:
    """Rescore queued work: critical at once, normal coalesced and flushed on an interval.

    With --celery, run a Celery worker on --broker-url instead (start several, on any
    machines) and, once, `rescore worker --celery --beat` for the flush clock and schedules.
    """
    if celery or beat:
        _celery(beat=beat, concurrency=concurrency, queues=queues, **options)
        return
    with opened(make_settings(**options)) as engine:
        runtime = EmbeddedRuntime(engine)
        if once:
            runtime.drain_all()
            console.print("pending work processed")
            return
        stop = stop_on_signals()
        with runtime:
            console.print(f"worker {runtime.name} running; Ctrl-C to stop")
            while not stop():
                time.sleep(0.2)
        console.print("worker stopped; claimed work was finished or released")


def _celery(*, beat: bool, concurrency: int, queues: str, **options: Any) -> None:
    from rescore.runtime.celery import create_celery

    settings = make_settings(**options)
    if not settings.broker_url:
        raise click.UsageError("--celery needs --broker-url (or RESCORE_BROKER_URL)")
    engine = Engine.from_settings(settings)
    try:
        engine.migrate()  # once here, not in every task
    finally:
        engine.close()
    app = create_celery(settings)
    if beat:
        schedule = Path(".rescore") / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        app.start(["beat", "--loglevel", "INFO", "--schedule", str(schedule)])
        return
    app.worker_main(
        [
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--queues",
            queues,
            "--hostname",
            f"rescore-{os.getpid()}@%h",  # unique per process: several workers on one host
            "--without-gossip",
            "--without-mingle",
        ]
    )


def progress_bar() -> Progress:
    """The progress bar long commands show (also used by packs' commands)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def stop_on_signals() -> Callable[[], bool]:
    flag = {"stop": False}

    def handler(_signum: int, _frame: Any) -> None:
        flag["stop"] = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return lambda: flag["stop"]


@main.group("dead-letter", context_settings=CONTEXT)
def dead_letter() -> None:
    """Entities whose rescoring failed max-attempts times: list and requeue them."""


@dead_letter.command("list")
@engine_options
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=100,
    help="Rows to show.",
    envvar="RESCORE_DEAD_LETTER_LIMIT",
)
def dead_list(limit: int, **options: Any) -> None:
    """List dead-lettered entities with their last error."""
    settings = make_settings(**options)
    with opened(settings) as engine, engine.db.read() as conn:
        rows = engine.queue.list(conn, state=DEAD, tenant=settings.tenant, limit=limit)
    if not rows:
        console.print("the dead letter is empty")
        return
    table = Table("pack", "entity", "attempts", "last error")
    for w in rows:
        table.add_row(w.pack, w.entity, str(w.attempts), w.last_error or "")
    console.print(table)


@dead_letter.command("requeue")
@engine_options
@click.option("--pack", "pack_name", help="Only this pack.", envvar="RESCORE_DEAD_LETTER_PACK")
@click.option("--entity", help="Only this entity.", envvar="RESCORE_DEAD_LETTER_ENTITY")
def dead_requeue(pack_name: str | None, entity: str | None, **options: Any) -> None:
    """Put dead-lettered entities back in the queue with fresh attempts."""
    settings = make_settings(**options)
    with opened(settings) as engine, engine.db.begin() as conn:
        count = engine.queue.requeue(
            conn, datetime.now(UTC), pack_name, entity, tenant=settings.tenant
        )
    scope = " ".join(f"{k} {v}" for k, v in (("pack", pack_name), ("entity", entity)) if v)
    where = f" ({scope})" if scope else ""
    console.print(f"requeued {count} entit{'y' if count == 1 else 'ies'}{where}")


@main.command()
@engine_options
def pending(**options: Any) -> None:
    """How much work waits, by lane, and how much is dead-lettered."""
    settings = make_settings(**options)
    with opened(settings) as engine, engine.db.read() as conn:
        counts = engine.queue.counts(conn, tenant=settings.tenant)
    console.print(", ".join(f"{k}: {v}" for k, v in counts.items()))


def _show_env_vars(command: click.Command) -> None:
    """Make every option's --help name the variable it can be set from."""
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in ("help", "version"):
            param.show_envvar = True
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _show_env_vars(sub)


# Importing these registers their commands on ``main``.
from rescore.commands import ml, scores, service, sources  # noqa: E402, F401

_show_env_vars(main)
