"""Commands that feed and drain the queue: ``ingest``, ``worker``, ``pending``, ``dead-letter``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from rescore.cli.framework import (
    CONTEXT,
    GracefulStop,
    Session,
    console,
    echo,
    pass_session,
    setting_option,
    warn,
)

if TYPE_CHECKING:
    from rescore.engine import BatchReport, Engine

__all__ = ["dead_letter", "ingest", "pending", "worker"]


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "csv"]),
    default="auto",
    help="File format; auto picks by extension (.csv is CSV, anything else JSON lines).",
)
@pass_session
def ingest(session: Session, file: BinaryIO, fmt: str) -> None:
    """Add events from FILE (JSON lines or CSV, UTF-8; - for standard input).

    Each event is {event_id, type, entity, occurred_at, payload} (plus "pack" when two packs
    share a type). The whole file is validated first: one bad event and nothing is stored, and
    each problem is listed. Events already stored (same event_id) are acknowledged, not applied
    twice.
    """
    from rescore.boundary import converted
    from rescore.events import read_events_file

    name = getattr(file, "name", "-")
    if fmt == "auto":
        fmt = "csv" if str(name).endswith(".csv") else "jsonl"
    with converted(where=str(name)):
        text = file.read().decode("utf-8")
    parsed = read_events_file(text, fmt)
    with session.engine() as engine:
        result = engine.ingest(parsed, tenant=session.tenant)
    echo(
        f"accepted {result.accepted}, duplicates {result.duplicates}; queued "
        f"{result.queued['critical']} critical and {result.queued['normal']} normal entities"
    )
    for warning in getattr(result, "warnings", ()):
        warn(f"warning: {warning}")


@click.command()
@click.option("--once", is_flag=True, help="Process everything pending now, report it, then exit.")
@setting_option(
    "--flush-interval",
    setting="flush_interval",
    type=click.FloatRange(0.01),
    help="Seconds between normal-lane flushes. [default: 2.0]",
)
@setting_option(
    "--flush-size",
    setting="flush_size",
    type=click.IntRange(1),
    help="Flush the normal lane early once this many entities wait. [default: 1000]",
)
@setting_option(
    "--batch-size",
    setting="batch_size",
    type=click.IntRange(1),
    help="Entities per batch. [default: 500]",
)
@setting_option(
    "--metrics-port",
    setting="metrics_port",
    type=click.IntRange(0, 65535),
    help="Serve /metrics on this port (Celery: process N on port + N); 0: not served. [default: 0]",
)
@click.option("--celery", is_flag=True, help="Run a Celery worker (distributed runtime) instead.")
@click.option(
    "--beat", is_flag=True, help="With --celery: run the beat scheduler (exactly one, anywhere)."
)
@setting_option(
    "--broker-url", setting="broker_url", help="Celery broker: amqp://... or redis://..."
)
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=1,
    help="With --celery: worker processes in this Celery worker.",
)
@click.option(
    "--queues", default="critical,normal", help="With --celery: the queues this worker consumes."
)
@pass_session
def worker(session: Session, /, once: bool, celery: bool, beat: bool, **options: Any) -> None:
    """Rescore queued work: critical at once, normal coalesced and flushed on an interval.

    The first Ctrl-C (or SIGTERM) finishes the batch in hand and hands back claimed work; a
    second one kills. With --once, process what is pending and report it; the exit status is 1
    when any entity failed. With --celery, run a Celery worker on --broker-url instead (start
    several, on any machines) and, once, `rescore worker --celery --beat` for the flush clock.
    """
    concurrency, queues = options.pop("concurrency"), options.pop("queues")
    if celery or beat:
        _celery(session, beat=beat, concurrency=concurrency, queues=queues, **options)
        return
    with session.engine(**options) as engine:
        if once:
            _once(engine, session.tenant)
            return
        _run(engine)


def _run(engine: Engine) -> None:
    from rescore.metrics import serve_metrics
    from rescore.runtime.embedded import EmbeddedRuntime

    runtime = EmbeddedRuntime(engine)
    port = engine.settings.metrics_port
    exporter = serve_metrics(engine, engine.settings.metrics_host, port) if port else None
    try:
        with GracefulStop() as stop, runtime:
            echo(f"worker {runtime.name} running on {engine.db.where}; Ctrl-C to stop")
            if exporter is not None:
                echo(f"metrics on http://{exporter.address}/metrics")
            while not stop.wait(0.2):
                pass
    finally:
        if exporter is not None:
            exporter.close()
    echo("worker stopped; claimed work was finished or handed back")


@dataclass(kw_only=True)
class Drained:
    """What ``worker --once`` did."""

    rescored: int = 0
    changed: int = 0
    failures: list[str] = field(default_factory=list)
    dead: int = 0

    def add(self, report: BatchReport) -> None:
        self.rescored += len(report.outcomes)
        self.changed += sum(1 for o in report.outcomes if o.changes)
        self.dead += sum(1 for f in report.failures if f.dead)
        self.failures += [f"{f.work.pack} {f.work.entity}: {f.error}" for f in report.failures]


def _once(engine: Engine, tenant: str) -> None:
    """Drain the queue as a registered worker, so a --once killed mid-way has its claims given
    back by the others' heartbeats within seconds, not after the lease."""
    from rescore.routing import Lane
    from rescore.runtime.heartbeat import Heartbeat

    heartbeat = Heartbeat(engine)
    name = heartbeat.claimant("once")
    heartbeat.start()
    done = Drained()
    try:
        for lane in (Lane.CRITICAL, Lane.NORMAL):
            while (report := engine.work(name, lane)).claimed:
                done.add(report)
    finally:
        engine.release(name)
        heartbeat.stop()
    _report_once(done, engine.pending_counts(tenant=tenant), engine.next_retry(tenant=tenant))
    if done.failures:
        raise SystemExit(1)


def _report_once(done: Drained, counts: dict[str, int], retry: datetime | None) -> None:
    echo(f"rescored {done.rescored} entities, {done.changed} changed")
    for line in done.failures[:20]:
        warn(f"failed: {line}")
    if done.failures:
        echo(f"{len(done.failures)} failed, {done.dead} of them dead-lettered")
    waiting = counts["critical"] + counts["normal"]
    if waiting:
        when = f" until {retry:%Y-%m-%d %H:%M:%S} UTC" if retry else ""
        echo(f"{waiting} entities wait (retry backoff or claimed elsewhere){when}")
    if counts["dead"]:
        echo(f"{counts['dead']} dead-lettered in all: `rescore dead-letter list`")


def _celery(session: Session, *, beat: bool, concurrency: int, queues: str, **options: Any) -> None:
    from rescore.exceptions import ConfigurationError
    from rescore.runtime.celery import create_celery

    settings = session.settings(**options)
    if not settings.broker_url:
        raise ConfigurationError("--celery needs --broker-url (or RESCORE_BROKER_URL)")
    session.require_database(**options)
    app = create_celery(settings)
    app.conf.worker_hijack_root_logger = False  # rescore's handler: format and redaction
    # rescore's handler writes to the current sys.stderr; Celery's redirection would make that
    # a proxy that logs back into the same handler, which drops every record
    app.conf.worker_redirect_stdouts = False
    if beat:
        schedule = Path(".rescore") / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        app.start(["beat", "--loglevel", settings.log_level.upper(), "--schedule", str(schedule)])
        return
    app.worker_main(
        [
            "worker",
            "--loglevel",
            settings.log_level.upper(),
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


@click.command()
@pass_session
def pending(session: Session) -> None:
    """How much work waits, by lane, and how much is dead-lettered."""
    with session.engine() as engine:
        counts = engine.pending_counts(tenant=session.tenant)
    echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@click.group("dead-letter", context_settings=CONTEXT)
def dead_letter() -> None:
    """Entities whose rescoring failed max-attempts times: list and requeue them."""


@dead_letter.command("list")
@click.option("--limit", type=click.IntRange(1), default=100, help="Rows to show.")
@pass_session
def dead_list(session: Session, limit: int) -> None:
    """List dead-lettered entities with their last error."""
    from rich.table import Table

    with session.engine() as engine:
        rows = engine.pending_items(tenant=session.tenant, state="dead", limit=limit)
    if not rows:
        echo("the dead letter is empty")
        return
    table = Table("pack", "entity", "attempts", "last error")
    for w in rows:
        table.add_row(w.pack, w.entity, str(w.attempts), w.last_error or "")
    console().print(table)


@dead_letter.command("requeue")
@click.option("--pack", "pack_name", help="Only this pack.")
@click.option("--entity", help="Only this entity.")
@pass_session
def dead_requeue(session: Session, pack_name: str | None, entity: str | None) -> None:
    """Put dead-lettered entities back in the queue with fresh attempts."""
    with session.engine() as engine:
        count = engine.requeue_dead(tenant=session.tenant, pack=pack_name, entity=entity)
    scope = " ".join(f"{k} {v}" for k, v in (("pack", pack_name), ("entity", entity)) if v)
    where = f" ({scope})" if scope else ""
    echo(f"requeued {count} entit{'y' if count == 1 else 'ies'}{where}")
