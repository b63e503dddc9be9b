"""Leads pack at scale: the vectorized scorer's speed and end-to-end population rescoring.

Method (printed with the numbers):

1. **Scorer only**: one chunk of contacts and validations already in memory (read from the
   first Parquet files of the population), scored by ``score_frame`` five times; the median
   time gives contacts per second of the scorer alone (no I/O).
2. **End to end, Parquet only**: ``rescore_population`` from the Parquet population to a
   Parquet results folder, no score store (what ``rescore rescore leads --all --from-parquet
   DIR --out OUT --no-store`` does), wall-clock time including reading and writing.
3. **End to end with the store** (``--store``): the same into a fresh SQLite score store, then
   a second time over the unchanged data (no history rows written, scores only touched).

Generate a population once and reuse it::

    rescore leads generate --contacts 1000000 --out /tmp/leads1m --as-of 2026-01-23T12:00:00
    python benchmarks/leads_population.py /tmp/leads1m --store
    rescore leads generate --contacts 31800000 --out /tmp/leads32m --as-of 2026-01-23T12:00:00
    python benchmarks/leads_population.py /tmp/leads32m
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import polars as pl

from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.packs.leads import LeadsPack, score_frame
from rescore.packs.leads.loader import parquet_chunks, parquet_ladas
from rescore.plugins import PackRegistry
from rescore.population import ParquetSource, rescore_population
from rescore.settings import Settings


def scorer_only(pack: LeadsPack, path: Path, chunk: int) -> None:
    people, checks = next(parquet_chunks(path, chunk))
    ladas = parquet_ladas(path)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        score_frame(people, checks, as_of=pack.as_of(), ladas=ladas)
        times.append(time.perf_counter() - started)
    best = statistics.median(times)
    print(
        f"scorer only: {people.height:,} contacts, {checks.height:,} validations in memory; "
        f"median of 5 runs {best:.3f} s = {people.height / best:,.0f} contacts/s"
    )


def parquet_only(pack: LeadsPack, path: Path, chunk: int) -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as out:
        report = rescore_population(
            None, "leads", pack, ParquetSource(path), chunk_size=chunk, out=Path(out), store=False
        )
        size = sum(f.stat().st_size for f in Path(out).glob("*.parquet"))
    print(
        f"end to end, Parquet -> Parquet, no store: {report.entities:,} contacts in "
        f"{report.total_seconds:.1f} s = {report.rate:,.0f} contacts/s "
        f"(read+score {report.score_seconds:.1f} s, write {report.parquet_seconds:.1f} s; "
        f"results {size / 1e6:,.0f} MB)"
    )


def with_store(pack: LeadsPack, path: Path, chunk: int) -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as where:
        url = f"sqlite:///{where}/scores.db"
        engine = Engine(Database(url), PackRegistry([pack]), Settings(database_url=url))
        engine.migrate(source_tables=False)
        for label in ("first run (every score new)", "second run (nothing changed)"):
            report = rescore_population(
                engine, "leads", pack, ParquetSource(path), chunk_size=chunk, store=True
            )
            print(
                f"end to end into the SQLite score store, {label}: {report.entities:,} contacts "
                f"in {report.total_seconds:.1f} s = {report.rate:,.0f} contacts/s "
                f"(store {report.store_seconds:.1f} s, {report.changed:,} changed)"
            )
        engine.close()
        size = Path(f"{where}/scores.db").stat().st_size
        print(f"score store size: {size / 1e6:,.0f} MB ({size / report.entities:,.0f} B/contact)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "population", type=Path, help="a folder written by `rescore leads generate`"
    )
    parser.add_argument("--chunk-size", type=int, default=1_000_000)
    parser.add_argument("--store", action="store_true", help="also measure the SQLite store")
    parser.add_argument("--skip-parquet", action="store_true")
    args = parser.parse_args()
    meta = json.loads((args.population / "meta.json").read_text())
    pack = LeadsPack(as_of=lambda: datetime.fromisoformat(meta["as_of"]))
    print(__doc__.split("Generate")[0].strip(), "\n")
    print(
        f"population: {meta['contacts']:,} contacts, {meta['validations']:,} validations; "
        f"{os.cpu_count()} cores; chunk {args.chunk_size:,}; polars {pl.__version__}"
    )
    scorer_only(pack, args.population, args.chunk_size)
    if not args.skip_parquet:
        parquet_only(pack, args.population, args.chunk_size)
    if args.store:
        with_store(pack, args.population, args.chunk_size)


if __name__ == "__main__":
    main()
