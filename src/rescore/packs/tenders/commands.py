"""``rescore tenders ...``: import monthly files, price analysis, search, storage, generate.

Every command reads and writes the pack's **source** database through the engine
(``source_read``/``source_write``); ``--json`` prints what the HTTP routes answer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from rescore.packs.sdk import Session, echo, pass_session, progress_bar, source_read, source_write
from rescore.packs.tenders import storage
from rescore.packs.tenders.analysis import PriceQuery
from rescore.packs.tenders.cotfile import file_month
from rescore.packs.tenders.demodata import DEMO_ROWS_PER_MONTH
from rescore.packs.tenders.inbox import Failed, import_paths
from rescore.packs.tenders.search import search
from rescore.packs.tenders.tiers import charged
from rescore.packs.tenders.tiers_commands import subscriber_option

if TYPE_CHECKING:
    from rescore.packs.tenders.importer import ImportReport
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["commands"]


def _print_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--as-of"
        ) from None


def commands(pack: TendersPack) -> list[click.Command]:
    """The pack's CLI commands, bound to ``pack``."""
    from rescore.packs.tenders.demo import demo_command

    return [
        _import_command(pack),
        _precio_command(pack),
        _search_command(),
        _storage_command(pack),
        _generate_command(),
        demo_command(pack),
    ]


def _import_command(pack: TendersPack) -> click.Command:
    @click.command("import")
    @click.argument(
        "files",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option("--json", "as_json", is_flag=True, help="Print each file's report as JSON.")
    @pass_session
    def import_(session: Session, files: tuple[Path, ...], as_json: bool) -> None:
        """Import monthly open-data files (COT_YYYY-MM.zip) into the history.

        Idempotent: a row already stored is counted as duplicate, never added twice. Each
        file is one transaction; rows refused are counted by reason.

        \b
        Example:
          rescore tenders import inbox/COT_2024-11.zip inbox/COT_2024-12.zip
        """
        now = datetime.now(UTC).replace(tzinfo=None)
        results: list[ImportReport | Failed] = []
        with session.engine() as engine, progress_bar() as bar:
            task = bar.add_task("importing", total=None)
            results = list(
                import_paths(
                    lambda: source_write(engine),
                    list(files),
                    now=now,
                    ahead=pack.settings.partitions_ahead,
                    on_progress=lambda n: bar.advance(task, n),
                )
            )
        _print_imports(results, as_json)
        if any(isinstance(r, Failed) for r in results):
            raise SystemExit(1)

    return import_


def _print_imports(results: list[ImportReport | Failed], as_json: bool) -> None:
    if as_json:
        _print_json(
            [
                r.as_dict() if not isinstance(r, Failed) else {"file": r.file, "error": r.error}
                for r in results
            ]
        )
        return
    for r in results:
        if isinstance(r, Failed):
            echo(f"{r.file}: FAILED, nothing imported: {r.error}")
            continue
        echo(
            f"{r.file}: {r.new:,} new, {r.duplicate:,} duplicate, {r.rejected:,} rejected "
            f"({r.rate:,.0f} rows/s)"
        )
        for reason, count in r.reasons.most_common():
            echo(f"  rejected {count:,}: {reason}")


def _precio_command(pack: TendersPack) -> click.Command:
    @click.command("precio")
    @click.argument("producto")
    @click.option("--organismo", help="Only this buyer (a part of its name).")
    @click.option("--region", help="Only this region (its full name, as in the history).")
    @click.option("--as-of", "as_of", help="Analyse as of this day (YYYY-MM-DD; default today).")
    @click.option("--json", "as_json", is_flag=True, help="Print the whole analysis as JSON.")
    @subscriber_option
    @pass_session
    def precio(
        session: Session,
        producto: str,
        organismo: str | None,
        region: str | None,
        as_of: str | None,
        as_json: bool,
        suscriptor: str | None,
    ) -> None:
        """Price analysis of PRODUCTO (seed 001's analizar_precio_optimo_v2): suggested (P40),
        competitive (P25) and safe (P60) unit prices of similar winning quotes of the last two
        years, insights and the most frequent competitors.

        \b
        Example:
          rescore tenders precio "notebook hp" --region "Región del Biobío"
        """
        query = _price_query(pack, producto, organismo, region, _day(as_of))
        with (
            session.engine() as engine,
            charged(engine, suscriptor, "price_analysis"),
            source_read(engine) as conn,
        ):
            found = pack.price_analysis(conn, query)
        if as_json:
            _print_json(found)
            return
        _print_analysis(found)

    return precio


def _price_query(
    pack: TendersPack, producto: str, organismo: str | None, region: str | None, as_of: date | None
) -> PriceQuery:
    if not producto.strip():
        raise click.BadParameter("give a product to analyse", param_hint="PRODUCTO")
    day = as_of or pack.as_of().date()
    return PriceQuery(
        producto=producto, organismo=organismo or None, region=region or None, as_of=day
    )


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def _print_analysis(found: dict[str, Any]) -> None:
    sample = found["muestra"]
    awards, quotes = sample["adjudicaciones"], sample["cotizaciones"]
    echo(f"{found['producto']}: {awards:,} awards among {quotes:,} quotes since {found['desde']}")
    names = ", ".join(p["producto"] for p in found["productos_similares"])
    echo(f"similar products: {names or 'none'}")
    echo(
        f"suggested {_money(found['precio_sugerido'])}  "
        f"competitive {_money(found['precio_competitivo'])}  "
        f"safe {_money(found['precio_seguro'])}"
    )
    for insight in found["insights"]:
        echo(f"- {insight['texto']}")
    for c in found["competidores_frecuentes"]:
        echo(
            f"  competitor {c['nombre']} ({c['rut']}): "
            f"{c['cotizaciones']} quotes, {c['adjudicaciones']} won"
        )


def _search_command() -> click.Command:
    @click.command("search")
    @click.argument("text")
    @click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
    @subscriber_option
    @pass_session
    def search_(
        session: Session, text: str, limit: int, as_json: bool, suscriptor: str | None
    ) -> None:
        """Product names in the history like TEXT (fuzzy: trigrams on PostgreSQL and SQLite,
        full-text prefixes on MariaDB), best first, with how often each was quoted.

        \b
        Example:
          rescore tenders search "guantes nitrilo"
        """
        if not text.strip():
            raise click.BadParameter("give something to search for", param_hint="TEXT")
        with (
            session.engine() as engine,
            charged(engine, suscriptor, "search"),
            source_read(engine) as conn,
        ):
            found = search(conn, text, limit)
        if as_json:
            _print_json(found)
            return
        for m in found["productos"]:
            echo(
                f"{m['similitud']:.2f}  {m['producto']}  [{m['categoria']}]  "
                f"{m['cotizaciones']:,} quotes, last {m['ultima_fecha']}"
            )

    return search_


def _storage_command(pack: TendersPack) -> click.Command:
    @click.command("storage")
    @pass_session
    def storage_(session: Session) -> None:
        """Run the history's storage steps now: month partitions ahead and trigram indexes on
        PostgreSQL, FTS5 trigram tables on SQLite, a trigram table on MariaDB. Safe to repeat
        and safe on a table that already holds data."""
        today = datetime.now(UTC).date()
        with session.engine() as engine, source_write(engine) as conn:
            done = storage.ensure(conn, today, pack.settings.partitions_ahead)
        echo("\n".join(done) if done else "nothing to do: every step was done already")

    return storage_


def _generate_command() -> click.Command:
    @click.command("generate")
    @click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
    @click.option("--months", type=click.IntRange(1, 240), default=24, show_default=True)
    @click.option(
        "--rows-per-month",
        type=click.IntRange(1, 10_000_000),
        default=DEMO_ROWS_PER_MONTH,
        show_default=True,
    )
    @click.option("--last-month", help="The newest month (YYYY-MM; default: last month).")
    @click.option("--seed", type=int, default=7, show_default=True)
    def generate(
        folder: Path, months: int, rows_per_month: int, last_month: str | None, seed: int
    ) -> None:
        """Write generated monthly files (COT_YYYY-MM.zip) into FOLDER, in the open-data
        layout, for `rescore tenders import`.

        \b
        Example:
          rescore tenders generate inbox --months 3 --last-month 2024-12
        """
        from rescore.packs.tenders.demodata import write_history

        last = _month(last_month)
        write_history(
            folder,
            seed=seed,
            last_month=last,
            months=months,
            rows_per_month=rows_per_month,
            on_month=lambda _m, path: echo(str(path)),
        )

    return generate


def _month(value: str | None) -> date:
    if value is None:
        today = datetime.now(UTC).date().replace(day=1)
        return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    found = file_month(Path(f"COT_{value}.zip"))
    if found is None:
        raise click.BadParameter(f"{value!r} is not a month (YYYY-MM)", param_hint="--last-month")
    return found
