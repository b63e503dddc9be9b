"""Dumping and loading a whole database, one class per dialect, with the native tools.

Each :class:`Dumper` writes one file and the per-table counts and checksums that describe
**exactly** that file (see ``rescore.db.checksum``), even while other processes write:

- **SQLite**: the online backup API (``sqlite3.Connection.backup``) copies the database in one
  step under one read transaction; the checksums are computed on the copy.
- **PostgreSQL**: ``pg_dump --format=custom --snapshot=ID`` dumps the snapshot that a
  REPEATABLE READ transaction exported with ``pg_export_snapshot()``, while that same
  transaction computes the checksums; both read the same rows by construction.
- **MariaDB/MySQL**: ``mariadb-dump --single-transaction`` (gzip-compressed) cannot share its
  snapshot, so the dump is loaded into a scratch database and the checksums are computed
  there: what the manifest says is what the file restores to (ADR 0012).

Loading always goes into an empty target; :meth:`Dumper.stage` refuses one that holds tables.
Passwords reach the client tools through the environment or a private option file, never the
command line, and are never logged.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from rescore.boundary import converted
from rescore.db.checksum import (
    Progress,
    TableSum,
    differences,
    mariadb_sums,
    postgres_sums,
    sqlite_sums,
)
from rescore.exceptions import BackupError, BackupMismatch, ConfigurationError

__all__ = ["Dumper", "dumper_for", "find_tool"]

CHUNK = 1 << 20


def find_tool(*names: str, package: str) -> str:
    """The path of the first of ``names`` on PATH; a one-line error naming the Debian package
    that provides it when none is."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigurationError(
        f"{names[0]} is not installed: install it (Debian: apt-get install {package})"
    )


def _version(tool: str) -> str:
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else tool


def _failed(what: str, stderr: IO[bytes]) -> BackupError:
    stderr.seek(0)
    lines = [ln for ln in stderr.read().decode(errors="replace").splitlines() if ln.strip()]
    return BackupError(f"{what} failed: {lines[-1].strip() if lines else 'no output'}")


def _run(cmd: list[str], what: str, *, env: dict[str, str] | None = None) -> str:
    with tempfile.TemporaryFile() as stderr:
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=stderr, check=False)
        if done.returncode != 0:
            raise _failed(what, stderr)
    return done.stdout.decode(errors="replace")


class Dumper(ABC):
    """One dialect's way to dump, check, load and checksum a database."""

    dialect = ""
    filename = ""

    @abstractmethod
    def dump(self, url: URL, dest: Path, progress: Progress) -> tuple[dict[str, TableSum], str]:
        """Write the database to ``dest``; return the checksums of what was written and the
        tool that wrote it."""

    @abstractmethod
    def check(self, file: Path, tables: dict[str, TableSum], progress: Progress) -> None:
        """Read ``file`` without restoring it; raise :class:`BackupMismatch` if it is not a
        readable archive holding ``tables``."""

    @abstractmethod
    def stage(self, file: Path, target: URL, progress: Progress) -> URL:
        """Load ``file`` into the empty ``target`` (or a staging place beside it); return
        where the loaded data can be checksummed."""

    @abstractmethod
    def sums(self, url: URL, progress: Progress) -> dict[str, TableSum]:
        """The counts and checksums of every table at ``url`` (a staged copy)."""

    def publish(self, staged: URL, target: URL) -> None:  # noqa: B027 - an optional hook
        """Make verified staged data the target (a no-op where it was loaded in place)."""

    def discard(self, staged: URL, target: URL) -> str:
        """Deal with staged data that failed verification; say what was left where."""
        return f"the unverified data is in {_safe(target)}: drop it before trying again"


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def dumper_for(dialect: str) -> Dumper:
    """The dumper for a SQLAlchemy backend name (``sqlite``, ``postgresql``, ``mysql``,
    ``mariadb``)."""
    if dialect == "sqlite":
        return SqliteDumper()
    if dialect == "postgresql":
        return PostgresDumper()
    if dialect in ("mysql", "mariadb"):
        return MariaDbDumper()
    raise ConfigurationError(
        f"cannot back up a {dialect} database: use sqlite, postgresql or mysql"
    )


# SQLite ---------------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if url.database in (None, "", ":memory:"):
        raise ConfigurationError("an in-memory SQLite database cannot be backed up or restored")
    return Path(str(url.database))


def _sqlite_tables(path: Path) -> int:
    with converted(where=str(path)), _sqlite(path) as conn:
        found = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        return int(found.fetchone()[0])


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


class SqliteDumper(Dumper):
    dialect = "sqlite"
    filename = "data.sqlite"

    def dump(self, url: URL, dest: Path, progress: Progress) -> tuple[dict[str, TableSum], str]:
        source = _sqlite_path(url)
        if not source.exists():
            raise ConfigurationError(f"no database at {source}")
        progress("copying with SQLite's online backup API")
        with converted(where=str(source)), _sqlite(source) as src, _sqlite(dest) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            sums = sqlite_sums(dst, progress)
        return sums, f"SQLite {sqlite3.sqlite_version} online backup API"

    def check(self, file: Path, tables: dict[str, TableSum], progress: Progress) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / file.name
            shutil.copyfile(file, copy)  # integrity_check may write; never touch the backup
            progress("PRAGMA integrity_check")
            with converted(where=str(file)), _sqlite(copy) as conn:
                result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
                if result != ["ok"]:
                    raise BackupMismatch(f"{file}: integrity check failed: {result[0]}")
                found = sqlite_sums(conn, progress)
        problems = differences(tables, found)
        if problems:
            raise BackupMismatch(f"{file}: " + "; ".join(problems))

    def stage(self, file: Path, target: URL, progress: Progress) -> URL:
        path = _sqlite_path(target)
        if path.exists() and path.stat().st_size and _sqlite_tables(path):
            raise ConfigurationError(f"{path} is not empty: restore into a new or empty database")
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.restoring")
        staged.unlink(missing_ok=True)
        progress(f"copying into {staged}")
        with converted(where=str(path)), _sqlite(file) as src, _sqlite(staged) as dst:
            src.backup(dst)
        return target.set(database=str(staged))

    def sums(self, url: URL, progress: Progress) -> dict[str, TableSum]:
        with converted(where=str(url.database)), _sqlite(_sqlite_path(url)) as conn:
            return sqlite_sums(conn, progress)

    def publish(self, staged: URL, target: URL) -> None:
        os.replace(_sqlite_path(staged), _sqlite_path(target))

    def discard(self, staged: URL, target: URL) -> str:
        _sqlite_path(staged).unlink(missing_ok=True)
        return f"nothing was written to {_sqlite_path(target)}"


# PostgreSQL -----------------------------------------------------------------------------------

_PG_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "host": "PGHOST",
}


def _pg_env(url: URL) -> dict[str, str]:
    env = dict(os.environ)  # PGSSLROOTCERT and the like still apply; the URL's parts win
    settings = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    env.update({k: str(v) for k, v in settings.items() if v})
    for key, value in url.query.items():
        if key in _PG_QUERY_ENV:
            env[_PG_QUERY_ENV[key]] = str(value if isinstance(value, str) else value[0])
    return env


def _pg_connect(url: URL, **kwargs: Any) -> Any:
    import psycopg

    with converted(where=_safe(url)):
        return psycopg.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False), **kwargs
        )


class PostgresDumper(Dumper):
    dialect = "postgresql"
    filename = "data.dump"

    def dump(self, url: URL, dest: Path, progress: Progress) -> tuple[dict[str, TableSum], str]:
        from psycopg import IsolationLevel

        pg_dump = find_tool("pg_dump", package="postgresql-client")
        conn = _pg_connect(url)
        try:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            cmd = [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dest}"]
            with tempfile.TemporaryFile() as stderr:
                progress("pg_dump running; checksums in the same snapshot")
                proc = subprocess.Popen(cmd, env=_pg_env(url), stderr=stderr)
                try:
                    sums = postgres_sums(conn, progress)
                    progress("waiting for pg_dump")
                finally:
                    returncode = proc.wait()  # the snapshot lives until pg_dump is done
                if returncode != 0:
                    raise _failed("pg_dump", stderr)
        finally:
            conn.rollback()
            conn.close()
        return sums, _version(pg_dump)

    def check(self, file: Path, tables: dict[str, TableSum], progress: Progress) -> None:
        pg_restore = find_tool("pg_restore", package="postgresql-client")
        progress("pg_restore --list, then every data block read through pg_restore")
        try:
            listing = _run([pg_restore, "--list", str(file)], f"pg_restore --list {file}")
            _run([pg_restore, "--file=/dev/null", str(file)], f"reading {file}")
        except BackupError as exc:
            raise BackupMismatch(f"not a readable archive: {exc}") from exc
        listed = set()
        for line in listing.splitlines():
            match = re.search(r"\d+ \d+ TABLE (\S+) (\S+) ", line)
            if match and not line.startswith(";"):
                schema, name = match.groups()
                listed.add(name if schema == "public" else f"{schema}.{name}")
        missing = sorted(set(tables) - listed)
        if missing:
            raise BackupMismatch(f"{file}: the archive lacks tables {', '.join(missing)}")

    def stage(self, file: Path, target: URL, progress: Progress) -> URL:
        _pg_create_if_missing(target)
        with _pg_connect(target, autocommit=True) as conn:
            count = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' "
                "AND n.nspname NOT LIKE 'pg\\_%'"
            ).fetchone()[0]
        if count:
            raise ConfigurationError(
                f"{_safe(target)} is not empty ({count} tables): restore into an empty database"
            )
        pg_restore = find_tool("pg_restore", package="postgresql-client")
        progress("pg_restore running")
        jobs = str(max(1, min(4, os.cpu_count() or 1)))
        cmd = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--jobs", jobs]
        _run([*cmd, f"--dbname={target.database}", str(file)], "pg_restore", env=_pg_env(target))
        return target

    def sums(self, url: URL, progress: Progress) -> dict[str, TableSum]:
        from psycopg import IsolationLevel

        conn = _pg_connect(url)
        try:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            return postgres_sums(conn, progress)
        finally:
            conn.rollback()
            conn.close()


def _pg_create_if_missing(url: URL) -> None:
    with _pg_connect(url.set(database="postgres"), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
        if found.fetchone() is None:
            from psycopg import sql

            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(url.database))))


# MariaDB / MySQL ------------------------------------------------------------------------------


def _option_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def _my_options(url: URL) -> Iterator[str]:
    """A private client option file: the password never appears on a command line."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "client.cnf"
        lines = ["[client]", f"host={url.host or 'localhost'}", f"port={url.port or 3306}"]
        if url.username:
            lines.append(f"user={_option_value(url.username)}")
        if url.password:
            lines.append(f"password={_option_value(str(url.password))}")
        path.touch(mode=0o600)
        path.write_text("\n".join(lines) + "\n")
        yield f"--defaults-extra-file={path}"


def _my_connect(url: URL, *, database: bool = True) -> Any:
    import pymysql  # type: ignore[import-untyped]

    with converted(where=_safe(url)):
        return pymysql.connect(
            host=url.host or "localhost",
            port=url.port or 3306,
            user=url.username or "",
            password=str(url.password or ""),
            database=url.database if database else None,
            charset="utf8mb4",
        )


def _my_admin(url: URL, statement: str) -> None:
    conn = _my_connect(url, database=False)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


def _my_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MariaDbDumper(Dumper):
    dialect = "mariadb"
    filename = "data.sql.gz"

    def dump(self, url: URL, dest: Path, progress: Progress) -> tuple[dict[str, TableSum], str]:
        tool = find_tool("mariadb-dump", "mysqldump", package="mariadb-client")
        flags = ["--single-transaction", "--quick", "--hex-blob", "--skip-dump-date"]
        flags += ["--default-character-set=utf8mb4", "--no-tablespaces", "--triggers"]
        progress("mariadb-dump --single-transaction running")
        with _my_options(url) as options, tempfile.TemporaryFile() as stderr:
            command = [tool, options, *flags, str(url.database)]
            with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr) as proc:
                assert proc.stdout is not None
                with gzip.open(dest, "wb", compresslevel=5) as out:
                    shutil.copyfileobj(proc.stdout, out, CHUNK)
            if proc.returncode != 0:
                raise _failed("mariadb-dump", stderr)
        return self._scratch_sums(dest, url, progress), _version(tool)

    def _scratch_sums(self, dump: Path, url: URL, progress: Progress) -> dict[str, TableSum]:
        """Load the dump into a scratch database and checksum it there (ADR 0012)."""
        scratch = url.set(database=f"rescore_verify_{secrets.token_hex(6)}")
        progress(f"loading the dump into the scratch database {scratch.database}")
        try:
            self._load(dump, scratch)
            return self.sums(scratch, progress)
        finally:
            _my_admin(url, f"DROP DATABASE IF EXISTS {_my_name(str(scratch.database))}")

    def check(self, file: Path, tables: dict[str, TableSum], progress: Progress) -> None:
        progress("decompressing and reading the dump")
        created: set[str] = set()
        last = ""
        try:
            with gzip.open(file, "rt", encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    if line.startswith("CREATE TABLE `"):
                        created.add(line.split("`")[1])
                    if line.strip():
                        last = line.strip()
        except (OSError, EOFError) as exc:
            raise BackupMismatch(f"{file}: not a readable gzip dump ({exc})") from exc
        if not last.startswith("-- Dump completed"):
            raise BackupMismatch(f"{file}: the dump is truncated (no 'Dump completed' trailer)")
        missing = sorted(set(tables) - created)
        if missing:
            raise BackupMismatch(f"{file}: the dump lacks tables {', '.join(missing)}")

    def stage(self, file: Path, target: URL, progress: Progress) -> URL:
        _my_admin(
            target,
            f"CREATE DATABASE IF NOT EXISTS {_my_name(str(target.database))} CHARACTER SET utf8mb4",
        )
        conn = _my_connect(target)
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
                )
                count = cursor.fetchone()[0]
        finally:
            conn.close()
        if count:
            raise ConfigurationError(
                f"{_safe(target)} is not empty ({count} tables): restore into an empty database"
            )
        progress("loading the dump")
        self._load(file, target)
        return target

    def _load(self, file: Path, target: URL) -> None:
        _my_admin(
            target,
            f"CREATE DATABASE IF NOT EXISTS {_my_name(str(target.database))} CHARACTER SET utf8mb4",
        )
        client = find_tool("mariadb", "mysql", package="mariadb-client")
        with _my_options(target) as options, tempfile.TemporaryFile() as stderr:
            command = [client, options, "--binary-mode", str(target.database)]
            with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=stderr) as proc:
                assert proc.stdin is not None
                # a broken pipe means the client stopped on an error: its stderr says which
                with contextlib.suppress(BrokenPipeError):
                    with gzip.open(file, "rb") as dump:
                        shutil.copyfileobj(dump, proc.stdin, CHUNK)
                    proc.stdin.close()
            if proc.returncode != 0:
                raise _failed("loading the MariaDB dump", stderr)

    def sums(self, url: URL, progress: Progress) -> dict[str, TableSum]:
        conn = _my_connect(url)
        try:
            return mariadb_sums(conn, progress)
        finally:
            conn.close()


def parse_url(url: str) -> URL:
    """A SQLAlchemy URL, or a one-line configuration error."""
    try:
        return make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"{url!r} is not a database URL") from exc
