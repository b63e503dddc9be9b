"""``rescore backup``, ``backup verify``, ``restore`` and the backup before ``migrate``, as a
user drives them: real processes, real SQLite files, one-line errors with exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import run
from rescore.db.engine import Database
from rescore.db.migrate import current_revision, head_revision, upgrade

pytestmark = pytest.mark.e2e

DB = "sqlite:///live.db"


def _backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("rescore-*"))


def test_backup_verify_restore_and_rotation(tmp_path: Path) -> None:
    run("--database-url", DB, "--packs", "credit", "init", "--demo-data", cwd=tmp_path)
    for _ in range(3):
        done = run("--database-url", DB, "backup", "--out", "bk", "--keep", "2", cwd=tmp_path)
        assert "rows" in done.stdout
    kept = _backups(tmp_path / "bk")
    assert len(kept) == 2
    done = run("backup", "verify", str(kept[-1]), cwd=tmp_path)
    assert "is sound" in done.stdout
    done = run("restore", str(kept[-1]), "--database-url", "sqlite:///copy.db", cwd=tmp_path)
    assert "every count and checksum equal to the manifest" in done.stdout
    again = run(
        "restore", str(kept[-1]), "--database-url", "sqlite:///copy.db", cwd=tmp_path, check=False
    )
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        "error: copy.db is not empty: restore into a new or empty database"
    ]


def test_a_damaged_backup_fails_verify_and_restore_in_one_line(tmp_path: Path) -> None:
    run("--database-url", DB, "--packs", "credit", "init", cwd=tmp_path)
    run("--database-url", DB, "backup", "--out", "bk", cwd=tmp_path)
    (made,) = _backups(tmp_path / "bk")
    data = made / "data.sqlite"
    data.write_bytes(data.read_bytes()[:-100])
    for args in (("backup", "verify", str(made)), ("restore", str(made), "--database-url", DB)):
        done = run(*args, cwd=tmp_path, check=False)
        assert done.returncode == 1
        (line,) = done.stderr.strip().splitlines()
        assert "the file is damaged or not this backup's" in line


def _revision(folder: Path) -> str | None:
    db = Database(f"sqlite:///{folder / 'live.db'}", create=False)
    try:
        return current_revision(db)
    finally:
        db.dispose()


def _old_database(path: Path) -> None:
    db = Database(f"sqlite:///{path}")
    upgrade(db, "0001")
    with db.begin() as conn:
        conn.execute(sa.text("CREATE TABLE business (id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(sa.text("INSERT INTO business (v) VALUES ('keep me'), ('and me')"))
    db.dispose()


def test_migrate_backs_up_first_and_refuses_when_it_cannot(tmp_path: Path) -> None:
    _old_database(tmp_path / "live.db")
    (tmp_path / "bk").write_text("a file where the backup folder should be")
    env = {"RESCORE_BACKUP_DIR": "bk"}
    refused = run("--database-url", DB, "migrate", cwd=tmp_path, env=env, check=False)
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: refusing to migrate: the backup before migrating failed")
    assert "--no-backup" in line
    assert _revision(tmp_path) == "0001"

    env = {"RESCORE_BACKUP_DIR": "backups"}
    done = run("--database-url", DB, "migrate", cwd=tmp_path, env=env)
    assert "backed up before migrating" in done.stdout
    (made,) = _backups(tmp_path / "backups")
    assert '"business"' in (made / "manifest.json").read_text()
    assert _revision(tmp_path) == head_revision()


def test_no_backup_is_the_explicit_opt_out(tmp_path: Path) -> None:
    _old_database(tmp_path / "live.db")
    (tmp_path / "bk").write_text("not a folder")
    env = {"RESCORE_BACKUP_DIR": "bk"}
    run("--database-url", DB, "migrate", "--no-backup", cwd=tmp_path, env=env)
    assert _revision(tmp_path) == head_revision()


def test_a_new_database_is_created_without_a_backup(tmp_path: Path) -> None:
    done = run("--database-url", DB, "--packs", "credit", "init", cwd=tmp_path)
    assert "backed up" not in done.stdout
    assert not (tmp_path / ".rescore" / "backups").exists()
