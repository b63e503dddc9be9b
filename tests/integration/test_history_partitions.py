"""History partitioned by month on a real PostgreSQL: migrating a populated table, the default
partition and the job that empties it, query plans (each month read through its index, months
outside a time bound never read), and retention that waits for a verified backup."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import servers
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Connection, event

from rescore.cli.app import main
from rescore.db.engine import Database
from rescore.db.migrate import MIGRATIONS, downgrade, upgrade
from rescore.db.partitions import (
    DEFAULT_PARTITION,
    add_months,
    include_name,
    is_partitioned,
    month_of,
    partition_name,
)
from rescore.db.schema import metadata
from rescore.engine import Engine
from rescore.retention import maintain_history
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database

NOW = datetime.now(UTC)
BEFORE = ScriptDirectory(str(MIGRATIONS)).get_revision("0005").down_revision
assert isinstance(BEFORE, str)

#: ``:n`` history rows of ``:entities`` entities and 3 scorers, spread evenly over the
#: ``:days`` days before ``:end``; ids in insertion order, as the sequence gives them.
FILL = """
INSERT INTO rescore_history (tenant, pack, entity, scorer, version, before_value, after_value,
  deltas, components, reasons, event_ids, watermark, changed_at)
SELECT 'default', 'credit', 'e' || (g % :entities), 's' || (g % 3), '1', g, g + 1,
  '{"a": 1.0}', '{"a": 1.0}', '["r"]', CAST('["ev-' || g || '"]' AS json), g,
  CAST(:end AS timestamp) - (:n - g) * (:days * interval '1 day') / :n
FROM generate_series(1, :n) g
"""

CHECKSUM = (
    "SELECT count(*), max(id), md5(string_agg(id || '|' || changed_at || '|' || entity || '|' "
    "|| scorer || '|' || after_value || '|' || event_ids::text, ';' ORDER BY id)) "
    "FROM rescore_history"
)


def _fill(db: Database, rows: int, *, entities: int, days: int, end: datetime) -> None:
    params = {"n": rows, "entities": entities, "days": days, "end": end.replace(tzinfo=None)}
    with db.begin() as conn:
        conn.execute(sa.text(FILL), params)


def _by_partition(conn: Connection) -> dict[str, int]:
    query = "SELECT tableoid::regclass::text, count(*) FROM rescore_history GROUP BY 1"
    return {name: int(count) for name, count in conn.execute(sa.text(query))}


@pytest.fixture
def pg(make_database: servers.MakeDatabase) -> Iterator[Database]:
    db = Database(make_database("postgresql"))
    yield db
    db.dispose()


# migrating -------------------------------------------------------------------------------------


def test_migrating_a_populated_history_keeps_every_row_its_id_and_the_sequence(
    pg: Database,
) -> None:
    upgrade(pg, BEFORE)
    _fill(pg, 50_000, entities=2_500, days=180, end=NOW - timedelta(minutes=5))
    with pg.read() as conn:
        before = conn.execute(sa.text(CHECKSUM)).one()
        months = {
            month_of(m.replace(tzinfo=UTC))
            for m in conn.execute(
                sa.text("SELECT DISTINCT date_trunc('month', changed_at) FROM rescore_history")
            ).scalars()
        }
    assert len(months) in (6, 7)  # 180 days cross six or seven calendar months

    started = time.monotonic()
    upgrade(pg)
    seconds = time.monotonic() - started
    print(f"\nmigration 0005: 50,000 rows over {len(months)} months in {seconds:.2f} s")

    with pg.read() as conn:
        assert is_partitioned(conn)
        assert conn.execute(sa.text(CHECKSUM)).one() == before
        counts = _by_partition(conn)
        assert sum(counts.values()) == 50_000
        assert set(counts) == {partition_name(m) for m in months}  # the default stays empty
        for ahead in range(4):  # this month and the next three exist, empty or not
            assert conn.execute(
                sa.text("SELECT to_regclass(:n) IS NOT NULL"),
                {"n": partition_name(add_months(month_of(NOW), ahead))},
            ).scalar()
        opts = {"compare_type": True, "include_name": include_name}
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), metadata) == []
    with pg.begin() as conn:  # the sequence goes on where the old table left it
        new_id = conn.execute(
            sa.text(
                "INSERT INTO rescore_history (tenant, pack, entity, scorer, version, "
                "after_value, deltas, components, reasons, event_ids, watermark, changed_at) "
                "VALUES ('default', 'credit', 'new', 's0', '1', 1, '{}', '{}', '[]', '[]', 1, "
                "now() AT TIME ZONE 'utc') RETURNING id"
            )
        ).scalar_one()
    assert new_id == before[1] + 1
    upgrade(pg)  # idempotent


def test_downgrading_gives_one_plain_table_with_the_same_rows(pg: Database) -> None:
    upgrade(pg, BEFORE)
    _fill(pg, 5_000, entities=100, days=90, end=NOW)
    with pg.read() as conn:
        before = conn.execute(sa.text(CHECKSUM)).one()
    upgrade(pg)
    downgrade(pg, BEFORE)
    with pg.read() as conn:
        assert not is_partitioned(conn)
        assert conn.execute(sa.text(CHECKSUM)).one() == before
    upgrade(pg)
    with pg.read() as conn:
        assert is_partitioned(conn)
        assert conn.execute(sa.text(CHECKSUM)).one() == before


# the default partition and the job -----------------------------------------------------------


def _engine(db: Database, tmp_path: Path, clock: datetime = NOW, **settings: Any) -> Engine:
    url = db.url.render_as_string(hide_password=False)
    values = {"database_url": url, "backup_dir": tmp_path / "backups", **settings}
    return Engine.from_settings(Settings(**values), create=False, clock=lambda: clock)


def test_a_row_whose_month_has_no_partition_is_kept_and_the_job_gives_it_one(
    pg: Database, tmp_path: Path
) -> None:
    upgrade(pg)
    far = add_months(month_of(NOW), 30) + timedelta(days=3)
    _fill(pg, 10, entities=2, days=1, end=far)  # no partition that far ahead: never an error
    with pg.read() as conn:
        assert _by_partition(conn) == {DEFAULT_PARTITION: 10}
    engine = _engine(pg, tmp_path, history_partitions_ahead=5)
    made = engine.maintain_history()
    assert partition_name(month_of(far)) in made
    assert partition_name(add_months(month_of(NOW), 5)) in made
    with pg.read() as conn:
        assert _by_partition(conn) == {partition_name(month_of(far)): 10}
    assert engine.maintain_history() == []  # idempotent
    engine.close()


def test_two_processes_running_the_job_at_once_both_succeed(pg: Database, tmp_path: Path) -> None:
    upgrade(pg)
    engines = [_engine(pg, tmp_path, history_partitions_ahead=24) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            made = list(pool.map(lambda e: e.maintain_history(), engines))
        assert sorted(len(m) for m in made) == [0, 21]  # months 4..24 ahead, created once
        assert len(engines[0].history_partitions()) == 1 + 25  # the default and 25 months
    finally:
        for engine in engines:
            engine.close()


# query plans ------------------------------------------------------------------------------------


def _plans(db: Database, call: Callable[[], object]) -> list[dict[str, Any]]:
    """EXPLAIN ANALYZE of every statement on rescore_history that ``call`` runs, with the
    parameters it ran with."""
    seen: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, params: Any, *_rest: Any) -> None:
        if "rescore_history" in statement:
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    plans = []
    with db.read() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for statement, params in seen:
            with raw.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
                plans.append(cursor.fetchone()[0][0]["Plan"])
    return plans


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "Relation Name" in plan:
        yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


@pytest.fixture
def history_db(pg: Database) -> Database:
    """History of 120,000 rows of 3,000 entities over the last six months, partitioned by the
    migration and analyzed, and a current score for entity e7 (explain wants one)."""
    upgrade(pg, BEFORE)
    _fill(pg, 120_000, entities=3_000, days=180, end=NOW - timedelta(minutes=1))
    upgrade(pg)
    with pg.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO rescore_scores (tenant, pack, entity, scorer, version, value, "
                "components, reasons, features, watermark, changed_at, computed_at) VALUES "
                "('default', 'credit', 'e7', 's0', '1', 1, '{}', '[]', '{}', 1, :t, :t)"
            ),
            {"t": NOW.replace(tzinfo=None)},
        )
    with pg.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE rescore_history"))
    return pg


def _assert_indexed(plans: list[dict[str, Any]], db: Database) -> set[str]:
    with db.read() as conn:
        filled = {n for n, c in _by_partition(conn).items() if c}
    touched = set()
    for plan in plans:
        for scan in _scans(plan):
            name = scan["Relation Name"]
            if scan.get("Actual Loops", 1) and name in filled:
                assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), (name, scan)
            touched.add(name)
    return touched


def test_as_of_reads_each_month_through_its_index_and_never_a_later_month(
    history_db: Database, tmp_path: Path
) -> None:
    engine = _engine(history_db, tmp_path)
    at = add_months(month_of(NOW), -3) + timedelta(days=10)
    found: dict[str, Any] = {}
    plans = _plans(engine.db, lambda: found.update(engine.as_of("credit", "e7", at)))
    assert found
    assert all(e.changed_at <= at for e in found.values())
    touched = _assert_indexed(plans, history_db)
    later = {partition_name(add_months(month_of(at), n)) for n in range(1, 8)}
    assert not touched & later, f"as-of at {at:%Y-%m-%d} read {sorted(touched & later)}"
    assert partition_name(month_of(at)) in touched
    print(f"\nas_of at {at:%Y-%m-%d} read: {sorted(touched)}")
    engine.close()


def test_history_and_explain_read_each_month_through_its_index(
    history_db: Database, tmp_path: Path
) -> None:
    engine = _engine(history_db, tmp_path)
    rows: list[Any] = []
    plans = _plans(engine.db, lambda: rows.extend(engine.history("credit", "e7", limit=10)))
    assert len(rows) == 10
    assert [r.changed_at for r in rows] == sorted((r.changed_at for r in rows), reverse=True)
    assert len(plans) == 1
    assert _assert_indexed(plans, history_db)
    explained: list[Any] = []
    plans = _plans(engine.db, lambda: explained.append(engine.explain("credit", "e7", limit=5)))
    assert len(explained[0].changes) == 5
    assert len(plans) == 1
    assert _assert_indexed(plans, history_db)
    engine.close()


# retention ------------------------------------------------------------------------------------


def write_backup(
    backup_dir: Path, db: Database, created_at: datetime, *, damage: bool = False
) -> Path:
    """A backup as ``rescore backup`` leaves it: a folder with the dump and manifest.json."""
    folder = backup_dir / f"rescore-{created_at:%Y%m%dT%H%M%S}Z"
    folder.mkdir(parents=True)
    data = b"a pg_dump archive stands here"
    (folder / "data.dump").write_bytes(data)
    manifest = {
        "format": 1,
        "created_at": created_at.isoformat(),
        "dialect": "postgresql",
        "database": db.url.render_as_string(hide_password=True),
        "revision": "0005",
        "file": "data.dump",
        "bytes": len(data),
        "sha256": hashlib.sha256(data + (b"x" if damage else b"")).hexdigest(),
        "tool": "pg_dump (PostgreSQL) 15",
        "seconds": 0.1,
        "tables": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def aged_db(pg: Database) -> Database:
    """Rows in each of the last eight months (this one included)."""
    upgrade(pg)
    start = add_months(month_of(NOW), -7)
    for n in range(8):
        _fill(pg, 100, entities=10, days=20, end=add_months(start, n) + timedelta(days=25))
    engine = _engine(pg, Path("/nonexistent"))
    engine.maintain_history()  # the older months' rows move out of the default partition
    engine.close()
    return pg


def test_retention_keeps_expired_months_until_a_verified_backup_covers_them(
    aged_db: Database, tmp_path: Path
) -> None:
    engine = _engine(aged_db, tmp_path, history_retention_months=5)
    expired = {partition_name(add_months(month_of(NOW), -n)) for n in (6, 7)}
    with aged_db.read() as conn:
        assert expired <= set(_by_partition(conn))

    def kept() -> set[str]:
        verdicts = maintain_history(engine)
        assert {v.partition.name for v in verdicts} == expired
        return {v.partition.name for v in verdicts if v.action == "keep"}

    assert kept() == expired  # no backup at all
    newest_end = add_months(month_of(NOW), -5)
    write_backup(tmp_path / "backups", aged_db, newest_end - timedelta(days=40))
    assert kept() == expired  # a backup, but from before those months ended
    write_backup(tmp_path / "backups", aged_db, NOW - timedelta(hours=2), damage=True)
    assert engine.last_verified_backup() is not None  # the older, intact one
    assert kept() == expired  # the newest backup's file does not match its manifest
    with aged_db.read() as conn:
        assert expired <= set(_by_partition(conn))

    dry = engine.prune_history(dry_run=True)
    assert all(v.action == "keep" for v in dry)
    good = write_backup(tmp_path / "backups", aged_db, NOW - timedelta(hours=1))
    assert engine.last_verified_backup().path == good  # type: ignore[union-attr]
    assert {v.action for v in engine.prune_history(dry_run=True)} == {"detach"}
    with aged_db.read() as conn:
        assert expired <= set(_by_partition(conn))  # a dry run removes nothing
    assert kept() == set()
    with aged_db.read() as conn:
        left = _by_partition(conn)
        assert not expired & set(left)
        assert sum(left.values()) == 600
        for name in expired:  # detached: a plain table, its rows still there
            rows = sa.select(sa.func.count()).select_from(sa.table(name))
            assert conn.execute(rows).scalar() == 100
    engine.close()


def test_retention_can_drop_and_never_touches_recent_months(
    aged_db: Database, tmp_path: Path
) -> None:
    engine = _engine(aged_db, tmp_path, history_retention_months=2, history_retention_action="drop")
    write_backup(tmp_path / "backups", aged_db, NOW - timedelta(minutes=5))
    verdicts = engine.prune_history()
    assert {v.partition.name for v in verdicts} == {
        partition_name(add_months(month_of(NOW), -n)) for n in range(3, 8)
    }
    with aged_db.read() as conn:
        assert sum(_by_partition(conn).values()) == 300
        for v in verdicts:
            assert (
                conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": v.partition.name}).scalar()
                is None
            )
    engine.close()


def test_a_backup_of_another_database_covers_nothing(aged_db: Database, tmp_path: Path) -> None:
    engine = _engine(aged_db, tmp_path, history_retention_months=5)
    other = Database(str(aged_db.url.set(database="another")), create=False)
    write_backup(tmp_path / "backups", other, NOW - timedelta(minutes=5))
    assert engine.last_verified_backup() is None
    assert {v.action for v in engine.prune_history()} == {"keep"}
    engine.close()


# the CLI ----------------------------------------------------------------------------------------


def test_cli_lists_partitions_and_says_what_prune_would_do(
    aged_db: Database, tmp_path: Path
) -> None:
    url = aged_db.url.render_as_string(hide_password=False)
    runner = CliRunner()
    listed = runner.invoke(main, ["--database-url", url, "history", "partitions"])
    assert listed.exit_code == 0, listed.output
    assert partition_name(month_of(NOW)) in listed.output
    assert "800 rows" in listed.output
    args = ["--database-url", url, "history", "prune", "--retention-months", "5"]
    backups = ["--backup-dir", str(tmp_path / "none")]
    dry = runner.invoke(main, [*args, *backups, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "no verified backup of this database" in dry.output
    assert "kept 2" in dry.output
    refused = runner.invoke(main, [*args, *backups])
    assert refused.exit_code == 1
    assert "back up the database" in refused.output
    write_backup(tmp_path / "ok", aged_db, NOW)
    dry = runner.invoke(main, [*args, "--backup-dir", str(tmp_path / "ok"), "--dry-run"])
    assert "would remove 2 partitions (200 rows)" in dry.output
