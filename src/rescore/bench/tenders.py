"""T1: seed 001's price analysis on 10.6M historical quote lines in PostgreSQL, p95 under 1 s.

The tenders pack's generator writes 48 monthly open-data files (``COT_YYYY-MM.zip``, in the temp
folder) and its importer loads them into a database of their own on the local PostgreSQL
(``COPY`` into month partitions); both happen once and are reused by later runs, which measure
the analysis only. The pack is reached through the plugin registry (the core imports no pack):
it offers ``bench_history`` and ``bench_price`` (:class:`_PriceBench`).
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa

from rescore.bench.report import Measurement
from rescore.exceptions import RescoreError
from rescore.plugins import discover

__all__ = ["BENCH_DATABASE", "GOAL_MS", "price_analysis"]

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DATABASE = "rescore_bench_tenders"
GOAL_MS = 1000.0
TITLE = "tenders price analysis on 10.6M quote lines in PostgreSQL, cold and warm"


@runtime_checkable
class _PriceBench(Protocol):
    """What the tenders pack offers this benchmark (``TendersPack.bench_*``)."""

    def bench_history(self, url: str, folder: Path, rows: int) -> dict[str, Any]: ...

    def bench_price(self, url: str) -> dict[str, float]: ...


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _database() -> str:
    """The benchmark's own database (created once, kept for the next run)."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": BENCH_DATABASE}
            ).first()
            if found is None:
                conn.execute(sa.text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
    finally:
        admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DATABASE}"


def price_analysis(rows: int = 10_600_000) -> Measurement:
    """Make (or reuse) the history and measure the analysis; skipped without PostgreSQL."""
    if not _reachable(5432):
        return Measurement(id="T1", title=TITLE, method="", skipped="PostgreSQL is not reachable")
    try:
        pack = discover(["tenders"])["tenders"]
    except RescoreError as exc:
        return Measurement(id="T1", title=TITLE, method="", skipped=f"no tenders pack ({exc})")
    if not isinstance(pack, _PriceBench):
        return Measurement(id="T1", title=TITLE, method="", skipped="the pack has no benchmark")
    url = _database()
    folder = Path(tempfile.gettempdir()) / "rescore-bench-tenders"
    made = pack.bench_history(url, folder, rows)
    numbers = {**{k: float(v) for k, v in made.items() if isinstance(v, int | float)}}
    numbers.update(pack.bench_price(url))
    return Measurement(
        id="T1",
        title=TITLE,
        method=(
            f"{int(numbers['rows']):,} quote lines in {int(numbers['files'])} monthly files "
            f"(generator seed 1, {folder}), imported with COPY into month partitions of "
            f"database {BENCH_DATABASE} ({made['made']}); "
            f"{int(numbers['questions'])} free-text questions (a third with a buyer or a "
            "region), each asked cold (result cache empty) then warm (cached in process); "
            "p50/p95 of the wall time of each analysis"
        ),
        numbers=numbers,
        goal=f"p95 cold < {GOAL_MS:g} ms",
        met=numbers["cold_p95_ms"] < GOAL_MS,
    )
