"""``rescore leads generate`` and ``rescore leads analytics``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from rescore.packs.sdk import Session, console, echo, pass_session, progress_bar
from rescore.population import DatabaseSource, ParquetSource, Source

if TYPE_CHECKING:
    from rescore.packs.leads.pack import LeadsPack

__all__ = ["commands"]


def commands(pack: LeadsPack) -> list[click.Command]:
    """The pack's CLI commands, bound to ``pack``."""

    @click.command()
    @click.option("--contacts", type=click.IntRange(1), required=True, help="Contacts to create.")
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        required=True,
        help="Folder for contacts/, validations/ and ladas_reference.parquet.",
    )
    @click.option("--seed", type=int, default=2, help="Seed: the same seed, the same data.")
    @click.option(
        "--chunk-size",
        type=click.IntRange(1000),
        default=1_000_000,
        help="Contacts per Parquet file (what is held in memory at once).",
    )
    @click.option("--as-of", help="Reference time (ISO 8601, UTC); default: the pack's clock.")
    def generate(contacts: int, out: Path, seed: int, chunk_size: int, as_of: str | None) -> None:
        """Write a synthetic population of Mexican contacts and validations to Parquet."""
        from rescore.packs.leads.generator import write_parquet

        at = _as_of(as_of) if as_of else pack.as_of()
        with progress_bar() as progress:
            task = progress.add_task("generating contacts", total=contacts)
            counts = write_parquet(
                out,
                contacts_total=contacts,
                seed=seed,
                as_of=at,
                chunk_size=chunk_size,
                progress=lambda n: progress.advance(task, n),
            )
        echo(
            f"wrote {counts['contacts']:,} contacts and {counts['validations']:,} validations "
            f"to {out} (as of {at.isoformat()})"
        )

    @click.command("analytics")
    @click.option(
        "--from-parquet",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Read a Parquet population instead of the source database.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the JSON payload.")
    @pass_session
    def analytics_cmd(session: Session, from_parquet: Path | None, as_json: bool) -> None:
        """Score distribution, platform success rates, premium, validated and multi-platform
        counts, as the seed's dashboard shows them."""
        from rescore.packs.leads.analytics import BANDS, analytics

        if from_parquet is not None:
            found = analytics(pack, ParquetSource(from_parquet))
        else:
            with session.engine() as engine:
                source: Source = DatabaseSource(engine.source)
                found = analytics(pack, source)
        if as_json:
            click.echo(orjson.dumps(found.as_json(), option=orjson.OPT_INDENT_2).decode())
            return
        from rich.table import Table

        table = Table(title=f"lead scoring: {found.total_contacts:,} contacts")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for label, _, _ in BANDS:
            table.add_row(f"score {label}", f"{found.bands[label]:,}")
        for platform, rate in found.platform_success_rates.items():
            table.add_row(f"{platform} validation success", f"{rate:.2f}%")
        table.add_row("premium leads", f"{found.premium_leads_count:,}")
        table.add_row("average score", f"{found.average_score:.1f}")
        table.add_row("validated contacts", f"{found.validated_contacts_count:,}")
        table.add_row("multi-platform", f"{found.multi_platform_count:,}")
        console().print(table)

    return [generate, analytics_cmd]


def _as_of(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from exc
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
