"""``rescore loyalty automations``: seed 003's two modes side by side on the source database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
import orjson

from rescore.packs.sdk import Session, console, pass_session, source_read

if TYPE_CHECKING:
    from rescore.packs.loyalty.pack import LoyaltyPack

__all__ = ["commands"]


def commands(pack: LoyaltyPack) -> list[click.Command]:
    """The pack's CLI commands, bound to ``pack``."""

    @click.command("automations")
    @click.option("--business", help="One business id (default: every business).")
    @click.option("--at", "at", help="Evaluate at this time (ISO 8601; default: now, UTC).")
    @click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
    @pass_session
    def automations(session: Session, business: str | None, at: str | None, as_json: bool) -> None:
        """What the birthday, inactive and missing-fields rules act on now, found by the
        event-driven (indexed) queries and by the legacy full scan, with queries issued,
        rows read and time of each."""
        now = _utc(at) if at else pack.as_of()
        with session.engine() as engine, source_read(engine) as conn:
            found = [
                pack.automations(conn, mode, now=now, business_id=business)
                for mode in ("event-driven", "legacy")
            ]
        if as_json:
            rows = [
                {
                    "mode": r.mode,
                    "counts": r.counts(),
                    "queries": r.queries,
                    "rows_read": r.rows,
                    "milliseconds": round(r.seconds * 1000, 3),
                }
                for r in found
            ]
            click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            return
        from rich.table import Table

        table = Table(title=f"loyalty automations at {now.isoformat()}Z")
        for column in ("mode", "birthday", "inactive", "missing_fields", "queries", "rows", "ms"):
            table.add_column(column, justify="right")
        for r in found:
            counts = r.counts()
            table.add_row(
                r.mode,
                f"{counts['birthday']:,}",
                f"{counts['inactive']:,}",
                f"{counts['missing_fields']:,}",
                f"{r.queries:,}",
                f"{r.rows:,}",
                f"{r.seconds * 1000:,.1f}",
            )
        console().print(table)

    from rescore.packs.loyalty.demo import demo_command

    return [automations, demo_command(pack)]


def _utc(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--at") from exc
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
