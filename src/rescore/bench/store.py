"""P4S: the leads population into the score store through the bulk path, first run and an
unchanged re-run, on SQLite and (when reachable) PostgreSQL.

The goals are stated for the whole population (31.8M contacts into PostgreSQL in 5 minutes,
an unchanged re-run in a third of that, 1M into SQLite in 30 s). A run measures smaller
populations and extrapolates linearly at the measured rate: the store writes one transaction
per batch of contacts, each the same size, so the cost per contact does not grow with the
population as long as the database's indexes stay in memory (stated, not proven, past the
sizes measured). The load average is recorded with the numbers: other work on the machine
slows every number here.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from rescore.bench.population import generated, label, leads_pack
from rescore.bench.report import Measurement
from rescore.engine import Engine
from rescore.plugins import Pack
from rescore.population import ParquetSource, rescore_population
from rescore.settings import Settings

__all__ = ["GOALS", "store_rescore"]

POSTGRES = ("127.0.0.1", 5432)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FULL = 31_800_000
#: contacts/s each goal needs: 31.8M in 300 s, the re-run in 100 s, 1M into SQLite in 30 s
GOALS = {"postgres_first": FULL / 300, "postgres_rerun": FULL / 100, "sqlite_first": 1e6 / 30}


def store_rescore(pg_size: int, sqlite_size: int, chunk_size: int = 500_000) -> Measurement:
    pack = leads_pack("P4S", "leads population into the score store")
    if isinstance(pack, Measurement):
        return pack
    numbers: dict[str, float] = {"load_average_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as scratch:
        sqlite_url = f"sqlite:///{Path(scratch) / 'scores.db'}"
        _first_and_rerun(pack, sqlite_url, sqlite_size, chunk_size, "sqlite", numbers)
    if _reachable(POSTGRES):
        with _postgres_database() as url:
            _first_and_rerun(pack, url, pg_size, chunk_size, "postgres", numbers)
    numbers["load_average_after"] = os.getloadavg()[0]
    met = [numbers[f"{k}_per_s"] >= goal for k, goal in GOALS.items() if f"{k}_per_s" in numbers]
    return Measurement(
        id="P4S",
        title="leads population into the score store (bulk path)",
        method=(
            f"`rescore leads generate` populations, rescore_population from Parquet into a "
            f"fresh score store (chunks of {chunk_size:,}; the bulk path stages each store "
            "batch and writes only changed scores), then again over the same data (an "
            f"unchanged re-run); SQLite at {label(sqlite_size)}, PostgreSQL 127.0.0.1 at "
            f"{label(pg_size)}, minutes for 31.8M extrapolated linearly from the rate; "
            "PostgreSQL skipped when not reachable"
        ),
        numbers=numbers,
        goal="31.8M into PostgreSQL <= 5 min, unchanged re-run <= 100 s; 1M into SQLite <= 30 s",
        met=all(met) if len(met) == len(GOALS) else None,
    )


def _first_and_rerun(
    pack: Pack, url: str, size: int, chunk_size: int, name: str, numbers: dict[str, float]
) -> None:
    engine = Engine.from_settings(Settings(database_url=url, packs=["leads"]))
    try:
        engine.migrate(source_tables=False)
        source = ParquetSource(generated(size))
        for run in ("first", "rerun"):
            started = time.perf_counter()
            report = rescore_population(engine, "leads", pack, source, chunk_size=chunk_size)
            seconds = time.perf_counter() - started
            numbers[f"{name}_{run}_seconds_{label(size)}"] = seconds
            numbers[f"{name}_{run}_per_s"] = report.entities / seconds
            if name == "postgres":
                numbers[f"{name}_{run}_minutes_31.8M_extrapolated"] = FULL / (
                    60 * report.entities / seconds
                )
    finally:
        engine.close()


def _reachable(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=1).close()
    except OSError:
        return False
    return True


@contextmanager
def _postgres_database() -> Iterator[str]:
    name = f"rescore_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
