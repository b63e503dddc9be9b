"""Backups on SQLite: the manifest describes exactly the backup, verify and restore catch any
damage, restore refuses a non-empty target, rotation keeps the newest, and migrating an
existing database takes a backup first (or refuses to migrate)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from conftest import ToyPack, event, make_engine, put_items, toy_items, toy_metadata
from drill import run_drill
from rescore.backup import backup, backups, open_backup, restore, rotate, verify
from rescore.db.checksum import sqlite_sums
from rescore.db.engine import Database
from rescore.db.migrate import current_revision, head_revision, upgrade
from rescore.engine import Engine
from rescore.exceptions import BackupError, BackupMismatch, ConfigurationError
from rescore.plugins import PackRegistry
from rescore.routing import Lane
from rescore.settings import Settings


def _scored(engine: Engine, n: int = 20) -> None:
    put_items(engine, **{f"k{i}": (i, 2 * i) for i in range(n)})
    engine.ingest([event(f"e{i}", "a_changed", f"k{i}") for i in range(n)])
    engine.ingest([event(f"n{i}", "b_changed", f"k{i}") for i in range(n)])
    engine.work("w", Lane.CRITICAL)
    engine.work("w", Lane.NORMAL)


def _counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}  # noqa: S608


def test_the_manifest_counts_every_row_of_the_database(engine: Engine, tmp_path: Path) -> None:
    _scored(engine)
    made = backup(engine.settings.database_url, tmp_path / "out")
    counts = _counts(tmp_path / "toy.db")
    assert {t: s.rows for t, s in made.manifest.tables.items()} == counts
    assert counts["rescore_history"] == 60
    assert counts["toy_items"] == 20
    assert made.manifest.revision == head_revision()
    assert made.manifest.size == made.data.stat().st_size
    assert open_backup(made.path / "manifest.json").manifest == made.manifest


def test_restore_verifies_and_gives_the_same_rows(engine: Engine, tmp_path: Path) -> None:
    _scored(engine)
    made = backup(engine.settings.database_url, tmp_path / "out")
    assert verify(made.path).manifest == made.manifest
    done = restore(made.path, f"sqlite:///{tmp_path / 'copy' / 'r.db'}")
    assert done.rows == made.manifest.rows
    assert done.tables == len(made.manifest.tables)
    with sqlite3.connect(tmp_path / "copy" / "r.db") as conn:
        assert sqlite_sums(conn) == made.manifest.tables
    assert not list((tmp_path / "copy").glob(".*"))  # the staging file was renamed into place


def test_checksums_do_not_depend_on_the_physical_order(tmp_path: Path) -> None:
    sums = []
    for name, order in (("a.db", range(50)), ("b.db", reversed(range(50)))):
        with sqlite3.connect(tmp_path / name) as conn:
            conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, f REAL)")
            conn.execute("CREATE TABLE nokey (a TEXT, b INTEGER)")
            for i in order:
                conn.execute("INSERT INTO t VALUES (?, ?, ?)", (i, f"v{i}\n\t'", i / 3))
                conn.execute("INSERT INTO nokey VALUES (?, ?)", (f"x{i % 7}", i))
        with sqlite3.connect(tmp_path / name) as conn:
            sums.append(sqlite_sums(conn))
    assert sums[0] == sums[1]
    assert sums[0]["nokey"].key == ("*",)
    assert sums[0]["t"].key == ("k",)
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute("UPDATE t SET f = f + 1e-12 WHERE k = 7")  # a change at the 12th digit
    with sqlite3.connect(tmp_path / "b.db") as conn:
        changed = sqlite_sums(conn)
    assert changed["t"].rows == 50
    assert changed["t"].sha256 != sums[0]["t"].sha256


def test_verify_finds_a_damaged_file(engine: Engine, tmp_path: Path) -> None:
    _scored(engine)
    made = backup(engine.settings.database_url, tmp_path / "out")
    data = bytearray(made.data.read_bytes())
    data[len(data) // 2] ^= 0xFF
    made.data.write_bytes(bytes(data))
    with pytest.raises(BackupMismatch, match="damaged"):
        verify(made.path)
    with pytest.raises(BackupMismatch, match="damaged"):
        restore(made.path, f"sqlite:///{tmp_path / 'r.db'}")
    assert not (tmp_path / "r.db").exists()


def test_restore_refuses_data_that_differs_from_the_manifest(
    engine: Engine, tmp_path: Path
) -> None:
    """A manifest that says something else than the file (the same check catches a file that
    was replaced together with its checksum): nothing is published at the target."""
    _scored(engine)
    made = backup(engine.settings.database_url, tmp_path / "out")
    manifest = orjson.loads((made.path / "manifest.json").read_bytes())
    manifest["tables"]["rescore_history"]["rows"] = 59
    (made.path / "manifest.json").write_bytes(orjson.dumps(manifest))
    with pytest.raises(BackupMismatch, match="rescore_history: 60 rows, the manifest says 59"):
        restore(made.path, f"sqlite:///{tmp_path / 'r.db'}")
    with pytest.raises(BackupMismatch, match="rescore_history"):
        verify(made.path)
    assert not (tmp_path / "r.db").exists()
    assert not list(tmp_path.glob(".r.db*"))


def test_restore_refuses_a_target_that_holds_tables(engine: Engine, tmp_path: Path) -> None:
    _scored(engine)
    made = backup(engine.settings.database_url, tmp_path / "out")
    with pytest.raises(ConfigurationError, match="not empty"):
        restore(made.path, engine.settings.database_url)
    assert _counts(tmp_path / "toy.db")["rescore_history"] == 60
    (tmp_path / "empty.db").touch()  # an empty file is an empty database
    restore(made.path, f"sqlite:///{tmp_path / 'empty.db'}")


def test_a_manifest_that_is_not_one_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(ConfigurationError, match=r"has no manifest\.json"):
        verify(tmp_path / "b")
    (tmp_path / "b" / "manifest.json").write_text("{not json")
    with pytest.raises(BackupError, match="not a rescore backup manifest"):
        verify(tmp_path / "b")


def test_rotation_keeps_the_newest(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    start = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    made = [
        backup(
            engine.settings.database_url,
            out,
            keep=3,
            clock=lambda i=i: start + timedelta(days=i),  # type: ignore[misc]
        )
        for i in range(5)
    ]
    kept = backups(out)
    assert [b.path for b in kept] == [b.path for b in made[2:]]
    assert kept[0].path.name == "rescore-20260103T030000Z"
    assert rotate(out, 1) == [made[2].path, made[3].path]
    (out / "rescore-junk").mkdir()  # not a backup: never counted, never deleted
    assert [b.path for b in backups(out)] == [made[4].path]
    assert (out / "rescore-junk").exists()


def test_what_cannot_be_backed_up_is_a_one_line_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigurationError, match="no database at"):
        backup(f"sqlite:///{tmp_path / 'missing.db'}", out)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigurationError, match="is not a SQLite database"):
        backup(f"sqlite:///{tmp_path / 'junk.db'}", out)
    with pytest.raises(ConfigurationError, match="keep"):
        backup(f"sqlite:///{tmp_path / 'junk.db'}", out, keep=0)
    assert not out.exists() or list(out.iterdir()) == []


def _old_database(path: Path, backups_at: Path) -> Engine:
    """A database one migration behind, with data in it."""
    db = Database(f"sqlite:///{path}")
    upgrade(db, "0001")
    with db.begin() as conn:
        toy_metadata.create_all(conn)
        conn.execute(toy_items.insert(), [{"key": f"k{i}", "a": i, "b": i} for i in range(15)])
    settings = Settings(database_url=f"sqlite:///{path}", backup_dir=backups_at)
    return Engine(db, PackRegistry([ToyPack()]), settings)


def test_migrating_an_existing_database_backs_it_up_first(tmp_path: Path) -> None:
    engine = _old_database(tmp_path / "old.db", tmp_path / "backups")
    try:
        engine.migrate()
    finally:
        engine.close()
    (made,) = backups(tmp_path / "backups")
    assert made.manifest.revision == "0001"
    assert made.manifest.tables["toy_items"].rows == 15
    assert current_revision(engine.db) == head_revision()


def test_a_failed_backup_stops_the_migration(tmp_path: Path) -> None:
    (tmp_path / "backups").write_text("a file where the backup folder should be")
    engine = _old_database(tmp_path / "old.db", tmp_path / "backups")
    try:
        with pytest.raises(BackupError, match=r"refusing to migrate.*--no-backup"):
            engine.migrate()
        assert current_revision(engine.db) == "0001"
        engine.migrate(backup=False)  # the explicit opt-out
        assert current_revision(engine.db) == head_revision()
    finally:
        engine.close()


def test_a_new_database_needs_no_backup(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "new.db", backup_dir=tmp_path / "backups")
    engine.close()
    assert not (tmp_path / "backups").exists()


def test_an_up_to_date_database_needs_no_backup(engine: Engine, tmp_path: Path) -> None:
    _scored(engine, 3)
    engine.settings.backup_dir = tmp_path / "backups"
    engine.migrate()
    upgrade(engine.db)
    assert not (tmp_path / "backups").exists()


def test_drill_backup_under_write_load_restores_exactly(tmp_path: Path) -> None:
    result = run_drill(
        f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'copy.db'}", tmp_path / "out"
    )
    assert result.events_before <= result.made.manifest.tables["rescore_events"].rows
    assert result.made.manifest.tables["rescore_events"].rows < result.events_after
    assert result.restored.rows == result.made.manifest.rows
