"""Commands that run and measure the HTTP service: serve, keys, bench."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from rescore.cli import (
    CONTEXT,
    console,
    engine_options,
    env_var,
    errors,
    main,
    make_settings,
    opened,
)


@main.command()
@engine_options
@click.option("--host", help="Address to listen on.", **env_var("host"))
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on.", **env_var("port"))
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
    settings = make_settings(**options)
    with opened(settings) as engine:
        key_id, key = engine.keys.create(settings.tenant, scope, datetime.now(UTC), label)
    errors.print(f"key {key_id} for tenant {settings.tenant!r}, scope {scope}:", highlight=False)
    click.echo(key)


@keys.command("list")
@engine_options
def keys_list(**options: Any) -> None:
    """List API keys (ids, tenants, scopes; never the secrets)."""
    with opened(make_settings(**options)) as engine:
        found = engine.keys.list()
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
    with opened(make_settings(**options)) as engine:
        done = engine.keys.revoke(key_id, datetime.now(UTC))
    if not done:
        raise click.UsageError(f"no active key {key_id!r}: see `rescore keys list`")
    console.print(f"revoked {key_id}")
