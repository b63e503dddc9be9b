"""P4: the leads pack's vectorized population rescoring at 1M and 10M contacts (31.8M on
request), and the PostgreSQL write-back rate of its score store when PostgreSQL is reachable."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

from rescore.bench.report import Measurement
from rescore.bench.server import RESCORE, clean_env
from rescore.engine import Engine
from rescore.exceptions import RescoreError
from rescore.plugins import Pack, discover
from rescore.population import ParquetSource, rescore_population, vectorized
from rescore.settings import Settings

__all__ = ["population_rescore"]

POSTGRES = ("127.0.0.1", 5432)
WRITE_BACK_CONTACTS = 20_000


def _population(size: int) -> Path:
    """A generated population, made once per size and kept in the temp folder for reuse."""
    path = Path(tempfile.gettempdir()) / f"rescore-bench-leads-{size}"
    if not (path / "meta.json").exists():
        subprocess.run(
            [*RESCORE, "leads", "generate", "--contacts", str(size), "--out", str(path)],
            env=clean_env(),
            check=True,
            capture_output=True,
        )
    return path


def _label(size: int) -> str:
    return f"{size / 1e6:g}M"


def population_rescore(sizes: tuple[int, ...], chunk_size: int = 1_000_000) -> Measurement:
    try:
        pack = discover(["leads"])["leads"]
    except RescoreError as exc:
        return Measurement(
            id="P4",
            title="leads population rescoring",
            method="",
            skipped=f"the leads pack is not installed ({exc})",
        )
    assert vectorized(pack) is not None
    numbers: dict[str, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as out:
            report = rescore_population(
                None,
                "leads",
                pack,
                ParquetSource(_population(size)),
                chunk_size=chunk_size,
                out=Path(out),
                store=False,
            )
        numbers[f"contacts_per_s_{_label(size)}"] = report.rate
        numbers[f"seconds_{_label(size)}"] = report.total_seconds
        numbers[f"score_only_per_s_{_label(size)}"] = report.entities / report.score_seconds
    pg_note = _postgres_write_back(pack, numbers, chunk_size)
    slowest = min(v for k, v in numbers.items() if k.startswith("contacts_per_s"))
    return Measurement(
        id="P4",
        title="leads vectorized population rescoring",
        method=(
            "populations generated once by `rescore leads generate` (kept in the temp folder); "
            "rescore_population from Parquet to Parquet, no score store, chunks of "
            f"{chunk_size:,}: contacts/s end to end (read, score, write) and for reading + "
            f"scoring alone; {pg_note}"
        ),
        numbers=numbers,
        goal=">= 1M contacts/s",
        met=slowest >= 1_000_000,
    )


def _postgres_write_back(pack: Pack, numbers: dict[str, float], chunk_size: int) -> str:
    try:
        socket.create_connection(POSTGRES, timeout=1).close()
    except OSError:
        return "PostgreSQL write-back skipped (not reachable on 127.0.0.1:5432)"
    name = f"rescore_bench_{os.getpid()}"
    admin = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = Engine.from_settings(Settings(database_url=url, packs=["leads"]))
    try:
        engine.migrate(source_tables=False)
        report = rescore_population(
            engine,
            "leads",
            pack,
            ParquetSource(_population(WRITE_BACK_CONTACTS)),
            chunk_size=chunk_size,
            store=True,
        )
        numbers["postgres_write_back_per_s"] = report.entities / report.store_seconds
    finally:
        engine.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return (
        f"PostgreSQL write-back: {WRITE_BACK_CONTACTS:,} contacts into a fresh score store "
        "(current scores + history), rows/s of the store phase"
    )
