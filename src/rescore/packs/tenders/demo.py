"""``rescore tenders demo``: seed 001's data path end to end, offline, on SQLite.

Generated monthly files (``COT_YYYY-MM.zip``) are written to a folder and imported, one of
them twice to show that a re-import adds nothing; open tenders are added and scored; then a
new tender is published (its row written, ``tender_published`` ingested), the embedded
runtime rescores it on the critical lane, and its price analysis is printed.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import insert

from rescore.packs.sdk import (
    EmbeddedRuntime,
    Session,
    echo,
    pass_session,
    source_read,
    source_write,
)
from rescore.packs.tenders.demodata import (
    DEMO_MONTHS,
    DEMO_ROWS_PER_MONTH,
    tender_rows,
    write_history,
)
from rescore.packs.tenders.importer import ImportReport
from rescore.packs.tenders.inbox import Failed, import_paths
from rescore.packs.tenders.loader import price_query
from rescore.packs.tenders.schema import tenders

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["DEMO_DB", "demo_command"]

DEMO_DB = ".rescore/tenders-demo.db"
DEMO_FILES = Path(".rescore/tenders-demo-files")


def demo_command(pack: TendersPack) -> click.Command:
    """The ``demo`` command, bound to ``pack``."""

    @click.command("demo")
    @click.option("--months", type=click.IntRange(1, 120), default=DEMO_MONTHS, show_default=True)
    @click.option(
        "--rows-per-month",
        type=click.IntRange(100, 1_000_000),
        default=DEMO_ROWS_PER_MONTH,
        show_default=True,
    )
    @click.option("--seed", type=int, default=7, show_default=True)
    @pass_session
    def demo(session: Session, months: int, rows_per_month: int, seed: int) -> None:
        """Seed 001 offline: generate monthly open-data files, import them (twice, to show
        nothing is added again), publish a tender and show its price analysis."""
        url = session.options.get("database_url") or f"sqlite:///{DEMO_DB}"
        _fresh(url)
        now = pack.as_of().replace(microsecond=0)
        last = (now.date().replace(day=1) - timedelta(days=1)).replace(day=1)
        paths = write_history(
            DEMO_FILES, seed=seed, last_month=last, months=months, rows_per_month=rows_per_month
        )
        span = f"{paths[0].name} .. {paths[-1].name}"
        echo(f"wrote {len(paths)} monthly files to {DEMO_FILES}/ ({span})")
        with session.engine(create=True, database_url=url, packs=["tenders"]) as engine:
            _import(engine, paths, now, again=paths[-1])
            _open_tenders(engine, seed, now)
            with EmbeddedRuntime(engine):
                code = _publish(engine, seed, now)
                _settle(engine)
            _show(engine, pack, code)

    return demo


def _fresh(url: str) -> None:
    """Start from an empty file (only the demo's own default file is ever removed)."""
    if url == f"sqlite:///{DEMO_DB}":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)


def _import(engine: Engine, paths: list[Path], now: Any, *, again: Path) -> None:
    started = time.perf_counter()
    first = list(import_paths(lambda: source_write(engine), paths, now=now))
    new = sum(r.new for r in first if isinstance(r, ImportReport))
    echo(f"imported {new:,} quote lines in {time.perf_counter() - started:.1f} s")
    for r in list(import_paths(lambda: source_write(engine), [again], now=now)):
        if isinstance(r, Failed):
            raise click.ClickException(f"{r.file}: {r.error}")
        echo(f"re-imported {r.file}: {r.new} new, {r.duplicate:,} duplicate, {r.rejected} rejected")


def _open_tenders(engine: Engine, seed: int, now: Any) -> None:
    made = tender_rows(random.Random(seed + 1), 20, now)
    with source_write(engine) as conn:
        conn.execute(insert(tenders), made)
    engine.recompute("tenders", [str(m["codigo"]) for m in made])
    echo(f"{len(made)} open tenders added and scored")


def _publish(engine: Engine, seed: int, now: Any) -> str:
    tender = tender_rows(random.Random(seed + 99), 1, now)[0]
    tender.update(
        codigo=f"9999-1-COT{now.year % 100:02d}", fecha_publicacion=now, actualizado_en=now
    )
    with source_write(engine) as conn:
        conn.execute(insert(tenders).values(**tender))
    event = {
        "event_id": f"tenders:tender_published:{tender['codigo']}",
        "type": "tender_published",
        "entity": tender["codigo"],
        "occurred_at": now.isoformat() + "Z",
        "payload": {"producto": tender["producto"], "region": tender["region"]},
    }
    engine.ingest([event])
    echo(
        f"published {tender['codigo']}: {tender['cantidad']} x {tender['producto']} "
        f"for {tender['organismo']} ({tender['region']})"
    )
    return str(tender["codigo"])


def _settle(engine: Engine, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = engine.pending_counts(tenant=None)
        if not (waiting["critical"] or waiting["normal"]):
            return
        time.sleep(0.1)


def _show(engine: Engine, pack: TendersPack, code: str) -> None:
    score = engine.current("tenders", code)["price_analysis"]
    echo(f"price_analysis {score.value}: " + "; ".join(score.reasons))
    with source_read(engine) as conn:
        row = conn.execute(tenders.select().where(tenders.c.codigo == code)).mappings().one()
        found = pack.price_analysis(conn, price_query(dict(row)))
    echo("similar products: " + ", ".join(p["producto"] for p in found["productos_similares"]))
    for insight in found["insights"]:
        echo(f"- {insight['texto']}")
    echo("competitors: " + ", ".join(c["nombre"] for c in found["competidores_frecuentes"]))
