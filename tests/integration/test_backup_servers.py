"""Backups on PostgreSQL (pg_dump with the exported snapshot) and MariaDB (mariadb-dump
--single-transaction, checksummed in a scratch copy): verified restore into an empty database,
refusal of a non-empty one, damage found by verify, and the drill under write load."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import servers
import sqlalchemy as sa

from conftest import ToyPack, event, put_items
from drill import run_drill
from rescore.backup import backup, open_backup, restore, verify
from rescore.db.dump import dumper_for, parse_url
from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.exceptions import BackupMismatch, ConfigurationError
from rescore.plugins import PackRegistry
from rescore.routing import Lane
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database
server_url = servers.server_url

TOOLS = {
    "postgresql": ("pg_dump", "postgresql-client"),
    "mariadb": ("mariadb-dump", "mariadb-client"),
}


def _kind(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "mariadb"


def need_tools(url: str) -> None:
    """Skip without the database's client tools locally; under CI=true that is a failure."""
    tool, package = TOOLS[_kind(url)]
    if shutil.which(tool):
        return
    message = f"{tool} is not installed (Debian package {package}; `make tools` installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI=true requires it")
    pytest.skip(message)


def _filled(url: str, items: int = 40) -> None:
    engine = Engine(Database(url), PackRegistry([ToyPack()]), Settings(database_url=url))
    try:
        engine.migrate()
        put_items(engine, **{f"k{i}": (i, 3 * i) for i in range(items)})
        engine.ingest([event(f"e{i}", "a_changed", f"k{i}") for i in range(items)])
        engine.ingest([event(f"n{i}", "b_changed", f"k{i}") for i in range(items)])
        engine.work("w", Lane.CRITICAL)
        engine.work("w", Lane.NORMAL)
    finally:
        engine.close()


def _fresh_name(url: str, make: servers.MakeDatabase) -> str:
    """A database name that does not exist yet (restore creates it), dropped afterwards."""
    made = make(_kind(url))
    servers._drop(_kind(url), parse_url(made).database or "")
    return made


def test_backup_verify_and_restore(
    server_url: str, make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    need_tools(server_url)
    _filled(server_url)
    made = backup(server_url, tmp_path / "out")
    tables = made.manifest.tables
    assert tables["rescore_history"].rows == 120
    assert tables["toy_items"].rows == 40
    assert tables["rescore_scores"].key == ("tenant", "pack", "entity", "scorer")
    assert verify(made.path).manifest == made.manifest
    target = _fresh_name(server_url, make_database)
    done = restore(made.path, target)
    assert done.rows == made.manifest.rows
    assert dumper_for(_kind(target)).sums(parse_url(target), lambda _m: None) == tables
    with pytest.raises(ConfigurationError, match="not empty"):
        restore(made.path, target)
    with pytest.raises(ConfigurationError, match="not empty"):
        restore(made.path, server_url)


def test_the_password_is_never_written(make_database: servers.MakeDatabase, tmp_path: Path) -> None:
    """The local server trusts loopback, so a password in the URL is accepted and ignored:
    it must appear in neither the manifest nor the folder's files."""
    url = make_database("postgresql")
    need_tools(url)
    _filled(url, items=2)
    secret_url = url.replace("postgres@", "postgres:Sekrit-123@")
    made = backup(secret_url, tmp_path / "out")
    assert "Sekrit-123" not in (made.path / "manifest.json").read_text()
    assert made.manifest.database.startswith("postgresql+psycopg://postgres:***@")
    target = _fresh_name(url, make_database).replace("postgres@", "postgres:Sekrit-123@")
    done = restore(made.path, target)
    assert "Sekrit-123" not in done.target


def test_the_manifest_is_the_same_for_the_same_rows(
    server_url: str, make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    """A restored copy backed up again gives the same manifest (other pages, other order)."""
    need_tools(server_url)
    _filled(server_url)
    first = backup(server_url, tmp_path / "a")
    copy = _fresh_name(server_url, make_database)
    restore(first.path, copy)
    second = backup(copy, tmp_path / "b")
    assert second.manifest.tables == first.manifest.tables


def test_verify_finds_a_truncated_archive(server_url: str, tmp_path: Path) -> None:
    need_tools(server_url)
    _filled(server_url, items=5)
    made = backup(server_url, tmp_path / "out")
    data = made.data.read_bytes()
    made.data.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackupMismatch, match="damaged"):
        verify(made.path)
    # the same truncated file with a manifest rewritten to match it: the archive check finds it
    from rescore.backup import file_sha256

    size, digest = file_sha256(made.data)
    manifest = (made.path / "manifest.json").read_text()
    manifest = manifest.replace(made.manifest.sha256, digest)
    manifest = manifest.replace(f'"bytes": {made.manifest.size}', f'"bytes": {size}')
    (made.path / "manifest.json").write_text(manifest)
    assert open_backup(made.path).manifest.size == size
    with pytest.raises(BackupMismatch):
        verify(made.path)


def test_mariadb_leaves_no_scratch_database(
    make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    url = make_database("mariadb")
    need_tools(url)
    _filled(url, items=3)
    backup(url, tmp_path / "out")
    admin = sa.create_engine(servers.MARIA_ADMIN)
    with admin.connect() as conn:
        left = conn.execute(sa.text("SHOW DATABASES LIKE 'rescore\\_verify\\_%'")).all()
    admin.dispose()
    assert left == []


def test_drill_backup_under_write_load_restores_exactly(
    server_url: str, make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    need_tools(server_url)
    target = _fresh_name(server_url, make_database)
    result = run_drill(server_url, target, tmp_path / "out", seconds=3.0)
    rows = result.made.manifest.tables["rescore_events"].rows
    assert result.events_before <= rows < result.events_after
    assert result.restored.rows == result.made.manifest.rows
