"""The ``rescore`` command. Every option can also come from the RESCORE_* variable it names."""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
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


def _env(name: str) -> dict[str, Any]:
    return {"envvar": f"RESCORE_{name.upper()}", "show_envvar": True}


def engine_options(func: F) -> F:
    """Options every command that touches the database takes."""
    options = [
        click.option(
            "--database-url",
            help="Where scores, events and pending work live (SQLAlchemy URL).",
            **_env("database_url"),
        ),
        click.option(
            "--source-url",
            help="The packs' source database, if not the same as --database-url.",
            **_env("source_url"),
        ),
        click.option(
            "--tenant",
            help="The tenant (business) to act on.",
            **_env("tenant"),
        ),
        click.option(
            "--packs",
            help="Comma-separated packs to load (default: every installed pack).",
            **_env("packs"),
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
    **_env("flush_interval"),
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
    **_env("flush_interval"),
)
@click.option(
    "--flush-size",
    type=click.IntRange(1),
    help="Flush the normal lane early once this many entities wait.",
    **_env("flush_size"),
)
@click.option(
    "--batch-size", type=click.IntRange(1), help="Entities per batch.", **_env("batch_size")
)
@click.option("--celery", is_flag=True, help="Run a Celery worker (distributed runtime) instead.")
@click.option(
    "--beat", is_flag=True, help="With --celery: run the beat scheduler (exactly one, anywhere)."
)
@click.option("--broker-url", help="Celery broker: amqp://... or redis://...", **_env("broker_url"))
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
        stop = _stop_on_signals()
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
    with opened(settings):
        pass  # migrate once here, not in every task
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


@main.command()
@engine_options
@click.option(
    "--source",
    "source_url",
    required=True,
    help="The database with seed 000's events_queue table (e.g. mysql+pymysql://...).",
    envvar="RESCORE_POLL_SOURCE",
)
@click.option("--interval", type=click.FloatRange(0.01), default=1.0, help="Seconds between polls.")
@click.option("--batch", type=click.IntRange(1), default=500, help="Rows per poll.")
@click.option("--once", is_flag=True, help="Poll until events_queue has no new row, then exit.")
@click.option("--create-table", is_flag=True, help="Create events_queue if missing (demos).")
def poll(
    source_url: str, interval: float, batch: int, once: bool, create_table: bool, **options: Any
) -> None:
    """Ingest new rows of a source database's events_queue table (seed 000's outbox).

    Rows are read with FOR UPDATE SKIP LOCKED, ingested as events (event_id
    events_queue:<id>), then marked processed = TRUE, processed_at = NOW(); several pollers can
    run at once. Run a worker beside it to rescore.
    """
    from rescore.db.engine import Database
    from rescore.outbox import EVENTS_QUEUE_DDL, OutboxPoller

    settings = make_settings(**options)
    source = Database(source_url)
    try:
        if create_table:
            with source.begin() as conn:
                conn.exec_driver_sql(EVENTS_QUEUE_DDL)
        with opened(settings) as engine:
            poller = OutboxPoller(engine, source, batch_size=batch)
            total = _poll_loop(poller, interval, once)
    finally:
        source.dispose()
    console.print(f"polled {total} rows")


def _poll_loop(poller: Any, interval: float, once: bool) -> int:
    stop = _stop_on_signals()
    total = 0
    while not stop():
        result = poller.poll_once()
        total += result.read
        if result.read:
            console.print(
                f"read {result.read}: accepted {result.accepted}, duplicates "
                f"{result.duplicates}, unknown types {result.unknown}",
                highlight=False,
            )
        elif once:
            break
        else:
            time.sleep(interval)
    return total


@main.command()
@engine_options
@click.option(
    "--nats",
    "servers",
    default="nats://127.0.0.1:4222",
    help="NATS server(s).",
    envvar="RESCORE_NATS_URL",
)
@click.option("--stream", default="RESCORE_EVENTS", help="JetStream stream (created if missing).")
@click.option("--subject", default="rescore.events", help="Subject to consume.")
@click.option("--durable", default="rescore", help="Durable consumer name (shared by replicas).")
@click.option("--batch", type=click.IntRange(1), default=200, help="Messages per fetch.")
@click.option("--once", is_flag=True, help="Consume until the stream has nothing new, then exit.")
def consume(
    servers: str, stream: str, subject: str, durable: str, batch: int, once: bool, **options: Any
) -> None:
    """Ingest events published to a NATS JetStream stream; ack only after they are stored."""
    import asyncio

    from rescore.bus import BusConsumer

    settings = make_settings(**options)
    with opened(settings) as engine:
        consumer = BusConsumer(
            engine, servers, stream=stream, subject=subject, durable=durable, batch_size=batch
        )
        total = asyncio.run(_consume_loop(consumer, once))
    console.print(f"consumed {total} messages")


async def _consume_loop(consumer: Any, once: bool) -> int:
    stop = _stop_on_signals()
    total = 0
    await consumer.connect()
    try:
        while not stop():
            result = await consumer.consume_once(timeout=1.0)
            total += result.messages
            if result.messages:
                console.print(
                    f"{result.messages} messages: accepted {result.accepted}, duplicates "
                    f"{result.duplicates}, refused {result.refused}",
                    highlight=False,
                )
            elif once:
                break
    finally:
        await consumer.close()
    return total


def _stop_on_signals() -> Callable[[], bool]:
    flag = {"stop": False}

    def handler(_signum: int, _frame: Any) -> None:
        flag["stop"] = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return lambda: flag["stop"]


@main.command("rescore")
@engine_options
@click.argument("pack")
@click.argument("entities", nargs=-1)
@click.option("--all", "everyone", is_flag=True, help="Rescore every entity in the source.")
@click.option(
    "--batch-size", type=click.IntRange(1), help="Entities per batch.", **_env("batch_size")
)
@click.option(
    "--from-parquet",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="With --all and a vectorized pack: read the population from this Parquet folder.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --all and a vectorized pack: write the scores to this Parquet folder.",
)
@click.option("--no-store", is_flag=True, help="With --out: skip writing the score store.")
@click.option(
    "--chunk-size",
    type=click.IntRange(1000),
    default=500_000,
    help="Entities scored at once by a vectorized pack.",
)
def rescore_cmd(
    pack: str,
    entities: Sequence[str],
    everyone: bool,
    from_parquet: Path | None,
    out: Path | None,
    no_store: bool,
    chunk_size: int,
    **options: Any,
) -> None:
    """Rescore ENTITIES of PACK now (or --all of them), every scorer, with a progress bar.

    With --all, a pack that offers a vectorized form (leads) scores its whole population in
    chunks, from the source database or --from-parquet, and writes the score store (history
    only where a score changed) and/or Parquet files (--out; --no-store skips the store).
    """
    if bool(entities) == everyone:
        raise click.UsageError("name entities or pass --all (not both)")
    settings = make_settings(**options)
    population = (from_parquet, out, no_store, chunk_size)
    if everyone and _rescore_population(settings, pack, *population):
        return
    if from_parquet or out or no_store:
        raise click.UsageError(
            "--from-parquet, --out and --no-store need --all and a vectorized pack"
        )
    with opened(settings) as engine:
        keys = list(engine.entity_keys(pack)) if everyone else list(entities)
        changed = failed = 0
        with _progress() as progress:
            task = progress.add_task(f"rescoring {pack}", total=len(keys))
            for start in range(0, len(keys), settings.batch_size):
                report = engine.recompute(
                    pack, keys[start : start + settings.batch_size], tenant=settings.tenant
                )
                changed += sum(1 for o in report.outcomes if o.changes)
                failed += len(report.failures)
                for failure in report.failures[:5]:
                    errors.print(f"{failure.work.entity}: {failure.error}", highlight=False)
                progress.advance(task, report.claimed)
    console.print(f"rescored {len(keys) - failed} of {len(keys)}; {changed} changed")
    if failed:
        sys.exit(1)


def _rescore_population(
    settings: Settings,
    pack_name: str,
    from_parquet: Path | None,
    out: Path | None,
    no_store: bool,
    chunk_size: int,
) -> bool:
    """Rescore a vectorized pack's whole population; False if the pack has no such form."""
    from rescore.population import (
        DatabaseSource,
        ParquetSource,
        Source,
        rescore_population,
        vectorized,
    )

    pack = discover(settings.packs)[pack_name]
    form = vectorized(pack)
    if form is None:
        return False
    if no_store and out is None:
        raise click.UsageError("--no-store needs --out (the scores must go somewhere)")
    started = time.perf_counter()
    if no_store and from_parquet is not None:
        engine = None
        source: Source = ParquetSource(from_parquet)
    else:
        engine = Engine.from_settings(settings)
        engine.migrate()
        source = ParquetSource(from_parquet) if from_parquet else DatabaseSource(engine.source)
    try:
        with _progress() as progress:
            task = progress.add_task(f"rescoring {pack_name}", total=form.population_size(source))
            report = rescore_population(
                engine,
                pack_name,
                pack,
                source,
                chunk_size=chunk_size,
                out=out,
                store=not no_store,
                tenant=settings.tenant,
                progress=lambda n: progress.advance(task, n),
            )
    finally:
        if engine is not None:
            engine.close()
    seconds = time.perf_counter() - started
    console.print(
        f"rescored {report.entities:,} in {seconds:.1f} s ({report.entities / seconds:,.0f}/s): "
        f"scoring {report.score_seconds:.1f} s, parquet {report.parquet_seconds:.1f} s, "
        f"store {report.store_seconds:.1f} s; {report.changed:,} changed"
        + (f", {report.stale:,} stale" if report.stale else "")
        + (f"; wrote {len(report.files)} files to {out}" if out else ""),
        highlight=False,
    )
    return True


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


class IsoDateTime(click.ParamType[datetime]):
    """An ISO 8601 time; without a zone it is taken as UTC."""

    name = "ISO-TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time, e.g. 2026-01-23T10:30:00Z", param, ctx)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@main.command()
@engine_options
@click.argument("pack")
@click.argument("entity")
@click.option(
    "--as-of", "as_of", type=IsoDateTime(), help="Show the scores in force then (ISO 8601)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def show(pack: str, entity: str, as_of: datetime | None, as_json: bool, **options: Any) -> None:
    """Show ENTITY's scores with their breakdown, now or --as-of a past time."""
    settings = make_settings(**options)
    with opened(settings) as engine:
        if as_of is not None:
            rows = {
                n: (e.after, e.components, e.version)
                for n, e in engine.as_of(pack, entity, as_of, tenant=settings.tenant).items()
            }
        else:
            rows = {
                n: (s.value, s.components, s.version)
                for n, s in engine.current(pack, entity, tenant=settings.tenant).items()
            }
    if as_json:
        data = {n: {"value": v, "components": c, "version": ver} for n, (v, c, ver) in rows.items()}
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(title=f"{pack} {entity}" + (f" as of {as_of}" if as_of else ""))
    for column in ("scorer", "value", "breakdown", "version"):
        table.add_column(column)
    for name, (value, components, version) in rows.items():
        parts = ", ".join(f"{k} {v:g}" for k, v in components.items())
        table.add_row(name, f"{value:g}", parts, version)
    console.print(table)


@main.command()
@engine_options
@click.argument("pack")
@click.argument("entity")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, help="Changes to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def explain(pack: str, entity: str, limit: int, as_json: bool, **options: Any) -> None:
    """Why did ENTITY's score change? Each change with its component deltas and events."""
    settings = make_settings(**options)
    with opened(settings) as engine:
        found = engine.explain(pack, entity, tenant=settings.tenant, limit=limit)
    if as_json:
        click.echo(orjson.dumps(found.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    console.print(
        f"[bold]{pack} {entity}[/bold]: "
        + ", ".join(f"{n} {s.value:g}" for n, s in found.current.items())
    )
    for change in found.changes:
        before = "new" if change.before is None else f"{change.before:g}"
        moved = {k: v for k, v in change.deltas.items() if v}
        causes = [found.causes[i] for i in change.event_ids if i in found.causes]
        why = (
            ", ".join(f"{c.type} ({c.occurred_at:%Y-%m-%d %H:%M})" for c in causes)
            or "manual rescore"
        )
        console.print(
            f"{change.changed_at:%Y-%m-%d %H:%M:%S} {change.scorer}: {before} -> "
            f"{change.after:g}  [{', '.join(f'{k} {v:+g}' for k, v in moved.items())}]  "
            f"because: {why}",
            highlight=False,
            markup=False,
        )


@main.command()
@engine_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the snapshot files.",
    **_env("snapshot_dir"),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "both"]),
    default="both",
    help="Snapshot format.",
)
@click.option("--pack", help="Only this pack.")
def export(out: Path | None, fmt: str, pack: str | None, **options: Any) -> None:
    """Export every current score to CSV and/or Parquet, one wide row per entity."""
    from rescore.snapshot import FORMATS, export_snapshot  # polars: only when exporting

    settings = make_settings(**options)
    formats = FORMATS if fmt == "both" else (fmt,)
    with opened(settings) as engine:
        paths = export_snapshot(engine, out or settings.snapshot_dir, formats=formats, pack=pack)
    if not paths:
        console.print("no scores to export yet: run `rescore rescore PACK --all` or a worker first")
    for path in paths:
        console.print(f"wrote {path}")


@main.command()
@engine_options
@click.option("--host", help="Address to listen on.", **_env("host"))
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on.", **_env("port"))
@click.option("--no-workers", is_flag=True, help="Serve only; rescoring runs in other workers.")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    help="uvicorn's log level.",
)
def serve(no_workers: bool, log_level: str, **options: Any) -> None:
    """Run the HTTP API (and, unless --no-workers, the embedded workers) under uvicorn.

    Every endpoint but /healthz and /readyz needs an API key: make one with
    `rescore keys create --tenant default --scope admin`. OpenAPI docs at /docs.
    """
    import uvicorn

    from rescore.api import create_app

    settings = make_settings(**options)
    app = create_app(settings, workers=not no_workers)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)


@main.command()
@click.option("--quick", is_flag=True, help="Short runs (about a minute in all).")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write machine, versions and numbers to this JSON file.",
)
@click.option("--only", help="Comma-separated benchmark ids, e.g. P1,P5 (default: all).")
@click.option(
    "--full-population",
    is_flag=True,
    help="P4 also rescores 31.8M contacts (generates 1.6 GB once, ~2 minutes).",
)
def bench(quick: bool, json_path: Path | None, only: str | None, full_population: bool) -> None:
    """Measure the performance goals on the embedded default and print them.

    \b
    P1 critical event -> score visible over HTTP, p50/p95/p99 under 500 normal events/s
    P2 sustained normal-lane throughput (events/s, lane lag, coalescing ratio)
    P3 synchronous batch rescore of 500 credit clients (/update-batch)
    P4 leads population rescoring at 1M and 10M contacts (--quick: 1M; 31.8M on request)
    P5 lookup API under load from a separate process (wrk if installed)

    Each builds a scratch SQLite deployment and prints its method beside its numbers.
    """
    from rescore import bench as benchmarks

    wanted = [p.strip().upper() for p in only.split(",")] if only else []
    unknown = [w for w in wanted if w not in benchmarks.BENCHMARKS]
    if unknown:
        known = ", ".join(benchmarks.BENCHMARKS)
        raise click.UsageError(f"unknown benchmark(s) {', '.join(unknown)}; known: {known}")
    with console.status("benchmarking...") as status:
        results = benchmarks.run(
            benchmarks.BenchOptions(
                quick=quick,
                population_sizes=(1_000_000, 10_000_000)
                + ((31_800_000,) if full_population else ()),
            ),
            wanted,
            progress=lambda name: status.update(f"running {name}..."),
        )
    benchmarks.print_table(console, results)
    if json_path is not None:
        benchmarks.write_json(json_path, results)
        console.print(f"wrote {json_path}")


@main.group(context_settings=CONTEXT)
def keys() -> None:
    """API keys of the HTTP service: create, list, revoke."""


@keys.command("create")
@engine_options
@click.option(
    "--scope",
    type=click.Choice(["read", "write", "admin"]),
    required=True,
    help="read: lookups; write: also ingest; admin: also the queue and dead letters.",
    envvar="RESCORE_KEYS_SCOPE",
)
@click.option("--label", help="A note to recognise the key by.", envvar="RESCORE_KEYS_LABEL")
def keys_create(scope: str, label: str | None, **options: Any) -> None:
    """Make an API key for --tenant and print it (it is shown once, never stored)."""
    from rescore.api.keys import KeyStore

    settings = make_settings(**options)
    with opened(settings) as engine:
        key_id, key = KeyStore(engine.db).create(settings.tenant, scope, datetime.now(UTC), label)
    errors.print(f"key {key_id} for tenant {settings.tenant!r}, scope {scope}:", highlight=False)
    click.echo(key)


@keys.command("list")
@engine_options
def keys_list(**options: Any) -> None:
    """List API keys (ids, tenants, scopes; never the secrets)."""
    from rescore.api.keys import KeyStore

    with opened(make_settings(**options)) as engine:
        found = KeyStore(engine.db).list()
    table = Table("key id", "tenant", "scope", "label", "created", "revoked")
    for k in found:
        revoked = f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        table.add_row(
            k.key_id, k.tenant, k.scope, k.label or "", f"{k.created_at:%Y-%m-%d %H:%M}", revoked
        )
    console.print(table)


@keys.command("revoke")
@engine_options
@click.argument("key_id")
def keys_revoke(key_id: str, **options: Any) -> None:
    """Revoke a key by its id; it stops working within 30 seconds everywhere."""
    from rescore.api.keys import KeyStore

    with opened(make_settings(**options)) as engine:
        done = KeyStore(engine.db).revoke(key_id, datetime.now(UTC))
    if not done:
        raise click.UsageError(f"no active key {key_id!r}: see `rescore keys list`")
    console.print(f"revoked {key_id}")


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


_show_env_vars(main)


@main.group("ml", context_settings=CONTEXT)
def ml() -> None:
    """Machine-learning models beside the rule-based scores (needs the ml extra)."""


@ml.command("train")
@engine_options
@click.argument("pack")
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where models are saved (default: the pack's setting, e.g. RESCORE_LEADS_MODELS_DIR).",
    envvar="RESCORE_MODELS_DIR",
)
@click.option(
    "--from-parquet",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Train on a Parquet population instead of the source database.",
)
@click.option(
    "--limit", type=click.IntRange(100), default=10_000, help="Training samples (first by key)."
)
def ml_train(
    pack: str, models_dir: Path | None, from_parquet: Path | None, limit: int, **options: Any
) -> None:
    """Train PACK's model (80/20 split), save it with skops and print its metrics."""
    from rescore.population import DatabaseSource, ParquetSource

    settings = make_settings(**options)
    found = discover(settings.packs)[pack]
    train = getattr(found, "train_model", None)
    if train is None:
        raise click.UsageError(f"pack {pack!r} has no model to train")
    if from_parquet is not None:
        result = train(ParquetSource(from_parquet), models_dir, limit=limit)
    else:
        with opened(settings) as engine:
            result = train(DatabaseSource(engine.source), models_dir, limit=limit)
    metrics = result["metrics"]
    console.print(
        f"trained {pack} model {result['version']} on {metrics['training_samples']} samples "
        f"(tested on {metrics['test_samples']}): MSE {metrics['mse']:.3f}, "
        f"R² {metrics['r2_score']:.4f}; saved {result['path']}",
        highlight=False,
    )
    top = sorted(metrics["feature_importance"].items(), key=lambda kv: -kv[1])[:8]
    table = Table("feature", "importance")
    for name, value in top:
        table.add_row(name, f"{value:.4f}")
    console.print(table)


_show_env_vars(ml)
