"""Commands that run and measure the HTTP service: serve, keys, bench."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

__all__ = ["bench", "keys", "serve"]

log = logging.getLogger("rescore.serve")


@click.command()
@setting_option("--host", setting="host", help="Address to listen on. [default: 127.0.0.1]")
@setting_option(
    "--port",
    setting="port",
    type=click.IntRange(1, 65535),
    help="Port to listen on. [default: 8000]",
)
@click.option("--no-workers", is_flag=True, help="Serve only; rescoring runs in other workers.")
@pass_session
def serve(session: Session, /, no_workers: bool, **options: Any) -> None:
    """Run the HTTP API (and, unless --no-workers, the embedded workers) under uvicorn.

    Every endpoint but /healthz and /readyz needs an API key: make one with
    `rescore keys create --scope admin`. OpenAPI docs at /docs, Prometheus metrics at
    /metrics. Log lines follow rescore's --log-format and --log-level (uvicorn's too). Ctrl-C
    (or SIGTERM) stops gracefully: requests in flight finish and claimed work is handed back.
    """
    import uvicorn

    from rescore.api import create_app

    settings = session.settings(**options)
    session.require_database(**options)
    app = create_app(settings, workers=not no_workers, companion=settings.split_workers)
    log.info(
        "serving http://%s:%d (workers: %s) on %s; cache: %s; broker: %s",
        settings.host,
        settings.port,
        _workers_where(no_workers, settings.split_workers),
        settings.database_url,  # the log handler masks its password (rescore.logs)
        settings.cache_url or "in-process",
        settings.broker_url or "none",
    )
    # log_config=None: uvicorn's loggers go through rescore's handler (format, redaction)
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_config=None, log_level=settings.log_level
    )


def _workers_where(no_workers: bool, split: bool) -> str:
    if no_workers:
        return "elsewhere"
    return "critical here, the rest in a companion process" if split else "embedded"


@click.command()
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
@click.option(
    "--readme",
    "readme_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Rewrite the performance table in this README (between its bench-table markers) "
    "from this run, with the machine it ran on.",
)
def bench(
    quick: bool,
    json_path: Path | None,
    only: str | None,
    full_population: bool,
    readme_path: Path | None,
) -> None:
    """Measure the performance goals on the embedded default and print them.

    \b
    P1 critical event -> score visible over HTTP, p50/p95/p99 under 500 normal events/s
    P2 sustained normal-lane throughput (events/s, lane lag, coalescing ratio)
    P3 synchronous batch rescore of 500 credit clients (/update-batch)
    P4 leads population rescoring at 1M and 10M contacts (--quick: 1M; 31.8M on request)
    P4S the leads population into the score store, first and unchanged (SQLite, PostgreSQL)
    P5 lookup API under load from a separate process (wrk if installed)
    P5F the same lookups beside Feast's feature server (when Feast is installed)
    P6 backup + verified restore of 1M history rows on PostgreSQL (not in --quick)
    P7 HTTP ingest throughput, batches of 500 normal events, and the stream to fresh scores
    T2 tender alerts: semantic vs keyword recall/precision on a labelled set (per embedder)
    T3 tender alerts: match throughput against 10,000 subscriber profiles (usearch HNSW)
    T4 tender win probability: accuracy and AUC on generated history, trained by time

    Each builds a scratch SQLite deployment and prints its method beside its numbers.
    """
    from rescore import bench as benchmarks

    wanted = [p.strip().upper() for p in only.split(",")] if only else []
    unknown = [w for w in wanted if w not in benchmarks.BENCHMARKS]
    if unknown:
        known = ", ".join(benchmarks.BENCHMARKS)
        raise click.UsageError(f"unknown benchmark(s) {', '.join(unknown)}; known: {known}")
    if readme_path is not None and benchmarks.TABLE_START not in readme_path.read_text():
        raise click.UsageError(f"{readme_path} has no bench-table block to rewrite")
    started = benchmarks.machine()
    with console().status("benchmarking...") as status:
        results = benchmarks.run(
            benchmarks.BenchOptions(
                quick=quick,
                population_sizes=(1_000_000, 10_000_000)
                + ((31_800_000,) if full_population else ()),
            ),
            wanted,
            progress=lambda name: status.update(f"running {name}..."),
        )
    benchmarks.print_table(console(), results)
    data = benchmarks.as_data(results, started)
    if json_path is not None:
        from rescore.boundary import converted

        with converted(where=str(json_path)):
            benchmarks.write_json(json_path, data)
        echo(f"wrote {json_path}")
    if readme_path is not None:
        table = benchmarks.markdown(data)
        readme_path.write_text(benchmarks.replace_table(readme_path.read_text(), table))
        echo(f"rewrote the performance table in {readme_path}")


@click.group(context_settings=CONTEXT)
def keys() -> None:
    """API keys of the HTTP service: create, list, revoke."""


@keys.command("create")
@click.option(
    "--scope",
    type=click.Choice(["read", "write", "admin"]),
    required=True,
    help="read: lookups; write: also ingest; admin: also the queue and dead letters.",
)
@click.option("--label", help="A note to recognise the key by.")
@pass_session
def keys_create(session: Session, scope: str, label: str | None) -> None:
    """Make an API key for the group's --tenant and print it (shown once, never stored)."""
    tenant = session.tenant
    with session.engine() as engine:
        key_id, key = engine.keys.create(tenant, scope, datetime.now(UTC), label)
    warn(f"key {key_id} for tenant {tenant!r}, scope {scope}:")
    click.echo(key)


@keys.command("list")
@pass_session
def keys_list(session: Session) -> None:
    """List API keys (ids, tenants, scopes; never the secrets)."""
    from rich.table import Table

    with session.engine() as engine:
        found = engine.keys.list()
    table = Table("key id", "tenant", "scope", "label", "created", "revoked")
    for k in found:
        revoked = f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        table.add_row(
            k.key_id, k.tenant, k.scope, k.label or "", f"{k.created_at:%Y-%m-%d %H:%M}", revoked
        )
    console().print(table)


@keys.command("revoke")
@click.argument("key_id")
@pass_session
def keys_revoke(session: Session, key_id: str) -> None:
    """Revoke a key by its id; it stops working within 30 seconds everywhere."""
    with session.engine() as engine:
        done = engine.keys.revoke(key_id, datetime.now(UTC))
    if not done:
        raise click.UsageError(f"no active key {key_id!r}: see `rescore keys list`")
    echo(f"revoked {key_id}")
