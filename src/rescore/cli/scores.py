"""Commands that rescore, show, explain and export scores."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rescore.cli.framework import (
    Session,
    console,
    echo,
    pass_session,
    progress_bar,
    setting_option,
    warn,
)

if TYPE_CHECKING:
    from rescore.settings import Settings

__all__ = ["IsoDateTime", "explain", "export", "reconcile", "rescore_cmd", "show"]

#: How explain words a change no event caused.
TRIGGERS = {
    "event": "manual rescore",
    "manual": "manual rescore",
    "population": "population rescoring",
    "reconciliation": "reconciliation (the stored score had drifted from a recompute)",
}


@click.command("rescore")
@click.argument("pack")
@click.argument("entities", nargs=-1)
@click.option("--all", "everyone", is_flag=True, help="Rescore every entity in the source.")
@setting_option(
    "--batch-size",
    setting="batch_size",
    type=click.IntRange(1),
    help="Entities per batch. [default: 500]",
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
    "--shards",
    type=click.IntRange(1),
    help="With --all and a vectorized pack: split the population into this many Celery tasks "
    "(needs RESCORE_BROKER_URL and workers consuming the 'population' queue).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1000),
    default=500_000,
    help="Entities scored at once by a vectorized pack.",
)
@pass_session
def rescore_cmd(
    session: Session,
    pack: str,
    entities: Sequence[str],
    everyone: bool,
    from_parquet: Path | None,
    out: Path | None,
    no_store: bool,
    chunk_size: int,
    batch_size: int | None,
    shards: int | None,
) -> None:
    """Rescore ENTITIES of PACK now (or --all of them), every scorer, with a progress bar.

    With --all, a pack that offers a vectorized form (leads) scores its whole population in
    chunks, from the source database or --from-parquet, and writes the score store (history
    only where a score changed) and/or Parquet files (--out; --no-store skips the store).
    """
    if bool(entities) == everyone:
        raise click.UsageError("name entities or pass --all (not both)")
    settings = session.settings(batch_size=batch_size)
    if shards is not None:
        if not everyone or out or no_store:
            raise click.UsageError("--shards needs --all and the store (not --out, --no-store)")
        _rescore_sharded(settings, pack, shards, chunk_size, from_parquet)
        return
    population = (from_parquet, out, no_store, chunk_size)
    if everyone and _rescore_population(session, settings, pack, *population):
        return
    if from_parquet or out or no_store:
        raise click.UsageError(
            "--from-parquet, --out and --no-store need --all and a vectorized pack"
        )
    with session.engine(batch_size=batch_size) as engine:
        keys = list(engine.entity_keys(pack)) if everyone else list(entities)
        changed = failed = 0
        with progress_bar() as progress:
            task = progress.add_task(f"rescoring {pack}", total=len(keys))
            for start in range(0, len(keys), settings.batch_size):
                report = engine.recompute(
                    pack, keys[start : start + settings.batch_size], tenant=settings.tenant
                )
                changed += sum(1 for o in report.outcomes if o.changes)
                failed += len(report.failures)
                for failure in report.failures[:5]:
                    warn(f"{failure.work.entity}: {failure.error}")
                progress.advance(task, report.claimed)
    echo(f"rescored {len(keys) - failed} of {len(keys)}; {changed} changed")
    if failed:
        raise SystemExit(1)


def _rescore_population(
    session: Session,
    settings: Settings,
    pack_name: str,
    from_parquet: Path | None,
    out: Path | None,
    no_store: bool,
    chunk_size: int,
) -> bool:
    """Rescore a vectorized pack's whole population; False if the pack has no such form."""
    from rescore.bootstrap import open_engine
    from rescore.boundary import converted
    from rescore.plugins import discover
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
        engine = open_engine(settings)
        engine.require_schema()
        source = ParquetSource(from_parquet) if from_parquet else DatabaseSource(engine.source)
    try:
        with converted(where=str(out or from_parquet or "")), progress_bar() as progress:
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
    echo(
        f"rescored {report.entities:,} in {seconds:.1f} s ({report.entities / seconds:,.0f}/s): "
        f"scoring {report.score_seconds:.1f} s, parquet {report.parquet_seconds:.1f} s, "
        f"store {report.store_seconds:.1f} s; {report.changed:,} changed"
        + (f", {report.stale:,} stale" if report.stale else "")
        + (f"; wrote {len(report.files)} files to {out}" if out else "")
    )
    return True


def _rescore_sharded(
    settings: Settings, pack: str, shards: int, chunk_size: int, parquet: Path | None
) -> None:
    """The population in ``shards`` Celery tasks; one line per finished shard, then the
    reconciliation count. Exits non-zero unless every entity was rescored and stored."""
    from rescore.bootstrap import open_engine
    from rescore.runtime.sharded import rescore_sharded

    if not settings.broker_url:
        raise click.UsageError("--shards needs a broker: set RESCORE_BROKER_URL")
    engine = open_engine(settings)
    try:
        engine.require_schema()
        done = rescore_sharded(
            engine,
            settings,
            pack,
            shards=shards,
            chunk_size=chunk_size,
            parquet=parquet,
            progress=lambda s: echo(
                f"shard {s['shard']:.0f}: {s['entities']:,.0f} rescored in "
                f"{s['total_seconds']:.1f} s, {s['changed']:,.0f} changed"
            ),
        )
    finally:
        engine.close()
    for index, why in sorted(done.failed.items()):
        warn(f"shard {index} failed: {why}")
    echo(
        f"{shards} shards rescored {done.entities:,} of {done.population:,} in "
        f"{done.seconds:.1f} s ({done.entities / max(done.seconds, 1e-9):,.0f}/s); "
        f"{done.changed:,} changed; the store holds scores for {done.stored_entities:,}"
    )
    if not done.complete:
        raise SystemExit(1)


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


@click.command()
@click.argument("pack")
@click.argument("entity")
@click.option(
    "--as-of", "as_of", type=IsoDateTime(), help="Show the scores in force then (ISO 8601)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_session
def show(session: Session, pack: str, entity: str, as_of: datetime | None, as_json: bool) -> None:
    """Show ENTITY's scores with their breakdown, now or --as-of a past time."""
    tenant = session.tenant
    with session.engine() as engine:
        if as_of is not None:
            rows = {
                n: (e.after, e.components, e.version)
                for n, e in engine.as_of(pack, entity, as_of, tenant=tenant).items()
            }
        else:
            rows = {
                n: (s.value, s.components, s.version)
                for n, s in engine.current(pack, entity, tenant=tenant).items()
            }
    if as_json:
        import orjson

        data = {n: {"value": v, "components": c, "version": ver} for n, (v, c, ver) in rows.items()}
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.table import Table

    table = Table(title=f"{pack} {entity}" + (f" as of {as_of}" if as_of else ""))
    for column in ("scorer", "value", "breakdown", "version"):
        table.add_column(column)
    for name, (value, components, version) in rows.items():
        parts = ", ".join(f"{k} {v:g}" for k, v in components.items())
        table.add_row(name, f"{value:g}", parts, version)
    console().print(table)


@click.command()
@click.argument("pack")
@click.argument("entity")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, help="Changes to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_session
def explain(session: Session, pack: str, entity: str, limit: int, as_json: bool) -> None:
    """Why did ENTITY's score change? Each change with its component deltas and events."""
    with session.engine() as engine:
        found = engine.explain(pack, entity, tenant=session.tenant, limit=limit)
    if as_json:
        import orjson

        click.echo(orjson.dumps(found.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    echo(f"{pack} {entity}: " + ", ".join(f"{n} {s.value:g}" for n, s in found.current.items()))
    for change in found.changes:
        before = "new" if change.before is None else f"{change.before:g}"
        moved = {k: v for k, v in change.deltas.items() if v}
        causes = [found.causes[i] for i in change.event_ids if i in found.causes]
        why = ", ".join(f"{c.type} ({c.occurred_at:%Y-%m-%d %H:%M})" for c in causes) or (
            TRIGGERS.get(change.trigger, change.trigger)
        )
        echo(
            f"{change.changed_at:%Y-%m-%d %H:%M:%S} {change.scorer}: {before} -> "
            f"{change.after:g}  [{', '.join(f'{k} {v:+g}' for k, v in moved.items())}]  "
            f"because: {why}"
        )


@click.command()
@setting_option(
    "--out",
    setting="snapshot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the snapshot files. [default: .rescore/snapshots]",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "both"]),
    default="both",
    help="Snapshot format.",
)
@click.option("--pack", help="Only this pack.")
@pass_session
def export(session: Session, snapshot_dir: Path | None, fmt: str, pack: str | None) -> None:
    """Export every current score to CSV and/or Parquet, one wide row per entity."""
    from rescore.boundary import converted
    from rescore.snapshot import FORMATS, export_snapshot  # polars: only when exporting

    out = session.settings(snapshot_dir=snapshot_dir).snapshot_dir
    formats = FORMATS if fmt == "both" else (fmt,)
    with session.engine() as engine, converted(where=str(out)):
        paths = export_snapshot(engine, out, formats=formats, pack=pack)
    if not paths:
        echo("no scores to export yet: run `rescore rescore PACK --all` or a worker first")
    for path in paths:
        echo(f"wrote {path}")


@click.command()
@click.argument("pack")
@click.option("--no-repair", is_flag=True, help="Only report the drift; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_session
def reconcile(session: Session, pack: str, no_repair: bool, as_json: bool) -> None:
    """Recompute PACK's whole population and compare it with the stored scores.

    Where they differ (the source changed in a way no event announced), the stored scores are
    repaired through the normal write path (history says "reconciliation"), and the drift is
    reported by scorer and by the event type that last touched each drifted entity: that type
    probably needs to route to the drifted scorer. Runs nightly in both runtimes too
    (RESCORE_RECONCILE_CRON).
    """
    from rescore.reconcile import reconcile as run_reconcile

    with session.engine() as engine:
        total = sum(1 for _ in engine.entity_keys(pack))
        with progress_bar() as progress:
            task = progress.add_task(f"reconciling {pack}", total=total)
            report = run_reconcile(
                engine,
                pack,
                tenant=session.tenant,
                repair=not no_repair,
                progress=lambda n: progress.advance(task, n),
            )
    if as_json:
        import orjson

        click.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    _print_reconcile(report, repaired=not no_repair)


def _print_reconcile(report: Any, *, repaired: bool) -> None:
    echo(
        f"{report.pack}: checked {report.checked:,}, {report.drifted_entities:,} drifted"
        + (f", {report.repaired:,} repaired" if repaired else " (not repaired: --no-repair)")
    )
    for scorer, count in report.by_scorer.most_common():
        echo(f"  scorer {scorer}: {count:,} entities differed from a recompute")
    for event_type, count in report.by_event_type.most_common():
        echo(f"  last touched by {event_type}: {count:,} (does its route name every scorer?)")
    for entity, error in list(report.failures.items())[:10]:
        warn(f"failed: {entity}: {error}")
