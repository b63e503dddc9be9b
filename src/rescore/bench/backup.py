"""P6: a backup plus a verified restore of a PostgreSQL database with 1M history rows (seed 001
wants a restore "in under 5 minutes"; issue 10 sets backup plus verified restore under 5).

The database is filled server-side (``generate_series``): 1M history rows with their JSON
deltas, components, reasons and causing event ids, 500k events with payloads and 100k current
scores, about the shape the credit pack writes. Then, timed apart: ``backup`` (pg_dump with the
exported snapshot and the manifest's checksums), ``verify`` (file checksum, archive read
through), and ``restore`` into a new database including its verification of every table.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from rescore.bench.report import Measurement

T = TypeVar("T")

__all__ = ["backup_restore"]

POSTGRES = ("127.0.0.1", 5432)
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"

_HISTORY = """
INSERT INTO rescore_history (tenant, pack, entity, scorer, version, before_value, after_value,
  deltas, components, reasons, event_ids, watermark, changed_at)
SELECT 'default', 'credit', (1000000000 + i % 20000)::text,
  (ARRAY['platam', 'hybrid', 'payment_performance', 'payment_plan', 'deterioration'])[1 + i % 5],
  '1', (i % 1000)::float8 / 1.7, (i % 997)::float8 / 1.3,
  json_build_object('pattern', (i % 13)::float8 / 7, 'timeliness', -(i % 11)::float8 / 3),
  json_build_object('pattern', (i % 17)::float8 / 7, 'timeliness', (i % 19)::float8 / 3),
  json_build_array('payment made on time ' || i), json_build_array('ev-' || (i / 2)),
  i / 2, timestamp '2026-01-01' + i * interval '1 second'
FROM generate_series(1, :n) AS i
"""

_EVENTS = """
INSERT INTO rescore_events (event_id, tenant, pack, type, entity, lane, occurred_at,
  received_at, payload)
SELECT 'ev-' || i, 'default', 'credit', 'payment_made', (1000000000 + i % 20000)::text,
  'normal', timestamp '2026-01-01' + i * interval '2 second',
  timestamp '2026-01-01' + i * interval '2 second', json_build_object('payment_id', i,
  'amount', i * 10)
FROM generate_series(1, :n) AS i
"""

_SCORES = """
INSERT INTO rescore_scores (tenant, pack, entity, scorer, version, value, components, reasons,
  features, watermark, changed_at, computed_at)
SELECT 'default', 'credit', (1000000000 + i / 5)::text,
  (ARRAY['platam', 'hybrid', 'payment_performance', 'payment_plan', 'deterioration'])[1 + i % 5],
  '1', (i % 1000)::float8 / 1.3, json_build_object('pattern', (i % 17)::float8 / 7),
  json_build_array('because ' || i), json_build_object('days_late', i % 30), i,
  timestamp '2026-03-01', timestamp '2026-03-01'
FROM generate_series(0, :n - 1) AS i
"""


def _skip(reason: str) -> Measurement:
    return Measurement(id="P6", title="backup + verified restore", method="", skipped=reason)


def _admin(statement: str) -> None:
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        admin.dispose()


def _fill(url: str, history_rows: int) -> float:
    from rescore.db.engine import Database
    from rescore.db.migrate import upgrade

    db = Database(url)
    try:
        upgrade(db)
        with db.begin() as conn:
            conn.execute(sa.text(_HISTORY), {"n": history_rows})
            conn.execute(sa.text(_EVENTS), {"n": history_rows // 2})
            conn.execute(sa.text(_SCORES), {"n": history_rows // 10})
        with db.read() as conn:
            conn.execute(sa.text("ANALYZE"))
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())"))
            return float(size.scalar_one()) / 1e6
    finally:
        db.dispose()


def _timed(step: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = step()
    return result, time.perf_counter() - started


def backup_restore(history_rows: int = 1_000_000) -> Measurement:
    try:
        socket.create_connection(POSTGRES, timeout=1).close()
    except OSError:
        return _skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        return _skip("pg_dump/pg_restore are not installed (Debian: postgresql-client)")
    source, target = f"rescore_bench_bk_{os.getpid()}", f"rescore_bench_rs_{os.getpid()}"
    for name in (source, target):
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{source}"')
    try:
        return _measure(f"{BASE}/{source}", f"{BASE}/{target}", history_rows)
    finally:
        for name in (source, target):
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _measure(source: str, target: str, history_rows: int) -> Measurement:
    from rescore.backup import backup, restore, verify

    database_mb, fill_s = _timed(lambda: _fill(source, history_rows))
    with tempfile.TemporaryDirectory() as out:
        made, backup_s = _timed(lambda: backup(source, Path(out), keep=1))
        _, verify_s = _timed(lambda: verify(made.path))
        _, restore_s = _timed(lambda: restore(made.path, target))
    total = backup_s + restore_s
    label = f"{history_rows / 1e6:g}M"
    return Measurement(
        id="P6",
        title=f"backup + verified restore, {label} history rows on PostgreSQL",
        method=(
            f"a fresh PostgreSQL database filled server-side with {history_rows:,} history rows, "
            f"{history_rows // 2:,} events and {history_rows // 10:,} scores "
            f"({database_mb:.0f} MB on disk, filled in {fill_s:.1f} s); rescore.backup.backup "
            "(pg_dump custom format on the exported snapshot + manifest checksums in that "
            "snapshot), verify (file SHA-256, pg_restore --list and a full read), restore into a "
            "new database (pg_restore --jobs, then every table's count and checksum compared "
            "with the manifest); seconds of each, wall clock"
        ),
        numbers={
            "backup_s": backup_s,
            "verify_s": verify_s,
            "restore_verified_s": restore_s,
            "backup_plus_restore_s": total,
            "file_mb": made.manifest.size / 1e6,
            "database_mb": database_mb,
            "rows": float(made.manifest.rows),
        },
        goal="backup + verified restore < 300 s",
        met=total < 300,
    )
