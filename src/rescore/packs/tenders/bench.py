"""Benchmark T1's data and timing: 10.6M quote lines, generator -> monthly files -> importer.

The files are written once to a folder and the database filled once from them (both reused
when a marker says they are complete), so re-running the benchmark measures the analysis only.
The questions are free text as a subscriber types them (``"notebook hp"``, ``"guantes de
nitrilo"``), half with a buyer or a region; cold = the first time each is asked (the result
cache misses), warm = asked again (it hits), evicted = asked with the result cache empty just
after the machine's page cache was dropped (when the benchmark may drop it).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from rescore.packs.tenders.analysis import PriceQuery, analyze
from rescore.packs.tenders.cache import Analyzer, PriceCache
from rescore.packs.tenders.demodata import write_history
from rescore.packs.tenders.importer import import_file
from rescore.packs.tenders.schema import metadata

__all__ = ["BENCH_MONTHS", "BENCH_ROWS", "QUESTIONS", "BenchData", "ensure_history", "measure"]

BENCH_ROWS = 10_600_000
BENCH_MONTHS = 48
LAST_MONTH = date(2025, 12, 1)
AS_OF = date(2025, 12, 31)
SEED = 1
QUESTIONS: tuple[tuple[str, str | None, str | None], ...] = (
    ("notebook hp", None, None),
    ("computador portátil", "Municipalidad de Temuco", None),
    ("monitor 24 pulgadas", None, "Región del Biobío"),
    ("impresora láser", None, None),
    ("toner hp 85a", "Hospital Regional", None),
    ("resma papel carta", None, "Región Metropolitana de Santiago"),
    ("lápiz pasta azul", None, None),
    ("archivador palanca", "Municipalidad", None),
    ("cloro gel", None, "Región de Valparaíso"),
    ("papel higiénico jumbo", None, None),
    ("detergente líquido", "Servicio de Salud", None),
    ("guantes de nitrilo", None, "Región de Los Lagos"),
    ("mascarilla quirúrgica", None, None),
    ("jeringa 5 ml", "Hospital Regional de Talca", None),
    ("alcohol gel", None, None),
    ("café molido", None, "Región del Maule"),
    ("agua purificada bidón", None, None),
    ("coffee break", "Universidad de Chile", None),
    ("cemento saco", None, "Región de Antofagasta"),
    ("pintura látex galón", None, None),
    ("taladro percutor", "Ejército de Chile", None),
    ("ampolleta led", None, None),
    ("silla ergonómica", None, "Región de La Araucanía"),
    ("escritorio oficina", None, None),
    ("estante metálico", "Gendarmería de Chile", None),
    ("zapato de seguridad", None, None),
    ("chaleco reflectante", None, "Región de Atacama"),
    ("casco de seguridad", None, None),
    ("teclado y mouse inalámbrico", None, None),
    ("computador de escritorio", None, "Región de Coquimbo"),
)


@dataclass(slots=True)
class BenchData:
    """How the data came to be: rows, and the seconds each stage took in the run that made it
    (None: not known)."""

    rows: int = 0
    files: int = 0
    generate_seconds: float | None = None
    import_seconds: float | None = None
    import_rows: int = 0


def ensure_history(
    url: str,
    folder: Path,
    *,
    rows: int = BENCH_ROWS,
    months: int = BENCH_MONTHS,
    report: Callable[[str], None] = lambda _line: None,
) -> BenchData:
    """The files in ``folder`` and the history at ``url``, made now unless already made. The
    rates of the run that made them are kept in ``folder/made.json`` and reported again by the
    runs that reuse them."""
    found = _made_before(folder)
    marker = folder / f"ready-{rows}-{months}"
    if not marker.exists():
        started = time.perf_counter()
        write_history(
            folder,
            seed=SEED,
            last_month=LAST_MONTH,
            months=months,
            rows_per_month=rows // months,
            on_month=lambda month, _path: report(f"wrote {month:%Y-%m}"),
        )
        found.generate_seconds = time.perf_counter() - started
        marker.touch()
    paths = sorted(folder.glob("COT_*.zip"))
    found.files = len(paths)
    engine = sa.create_engine(url)
    try:
        _fill(engine, paths, found, report)
        with engine.connect() as conn:
            found.rows = conn.execute(
                sa.text("SELECT count(*) FROM historico_licitaciones")
            ).scalar_one()
    finally:
        engine.dispose()
    if found.import_seconds is not None and found.generate_seconds is not None:
        (folder / "made.json").write_text(json.dumps(asdict(found)))
    return found


def _made_before(folder: Path) -> BenchData:
    """What an earlier run recorded making, or nothing."""
    try:
        return BenchData(**json.loads((folder / "made.json").read_text()))
    except (OSError, ValueError, TypeError):
        return BenchData()


def _fill(
    engine: sa.Engine, paths: list[Path], found: BenchData, report: Callable[[str], None]
) -> None:
    with engine.begin() as conn:
        metadata.create_all(conn)
        done = set(conn.execute(sa.text("SELECT archivo FROM importaciones_historico")).scalars())
    todo = [p for p in paths if p.name not in done]
    if not todo:
        return
    started, found.import_rows = time.perf_counter(), 0
    for path in todo:
        with engine.begin() as conn:
            result = import_file(conn, path)
        found.import_rows += result.rows
        report(f"imported {path.name}: {result.new:,} new at {result.rate:,.0f} rows/s")
    found.import_seconds = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))


def measure(
    url: str,
    *,
    analyzer: Analyzer = analyze,
    repeats: int = 1,
    evict: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Cold and warm latencies of :data:`QUESTIONS` (milliseconds, p50 and p95), each analysis
    made by ``analyzer`` (the pack's: trigrams and meaning).

    With ``evict``, each question is then asked once more with the result cache empty and
    ``evict()`` called just before it (the benchmark passes one that drops the OS page cache):
    the analysis as a server that has just started would answer it, reading from disk."""
    engine = sa.create_engine(url)
    cache = PriceCache(ttl=3600.0, analyzer=analyzer)
    cold: list[float] = []
    warm: list[float] = []
    evicted: list[float] = []
    try:
        with engine.connect() as conn:
            for _ in range(repeats):
                cache.clear()
                cold += [_timed(cache, conn, q) for q in _queries()]
                warm += [_timed(cache, conn, q) for q in _queries()]
            if evict is not None:
                evicted = _evicted(cache, conn, evict)
    finally:
        engine.dispose()
    found = {
        "cold_p50_ms": statistics.median(cold),
        "cold_p95_ms": _p95(cold),
        "warm_p50_ms": statistics.median(warm),
        "warm_p95_ms": _p95(warm),
        "questions": float(len(cold)),
        "cache_hits": float(cache.hits),
        "cache_misses": float(cache.misses),
    }
    if evicted:
        found |= {"evicted_p50_ms": statistics.median(evicted), "evicted_p95_ms": _p95(evicted)}
    return found


def _evicted(cache: PriceCache, conn: sa.Connection, evict: Callable[[], None]) -> list[float]:
    cache.clear()
    timings = []
    for query in _queries():
        evict()
        timings.append(_timed(cache, conn, query))
    return timings


def _queries() -> list[PriceQuery]:
    return [PriceQuery(producto=p, organismo=o, region=r, as_of=AS_OF) for p, o, r in QUESTIONS]


def _timed(cache: PriceCache, conn: sa.Connection, query: PriceQuery) -> float:
    started = time.perf_counter()
    cache.analysis(conn, query)
    return (time.perf_counter() - started) * 1000


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
