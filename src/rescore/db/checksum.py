"""Row counts and checksums of every table, the way a backup's manifest records them.

A table's checksum is the SHA-256 of its rows in primary-key order (every column in turn
where a table has no primary key), so it depends on what the rows hold, never on where they
sit on disk: a restored copy, whose pages and row order differ, gives the same checksum when
and only when it holds the same rows. Each dialect encodes rows its own way, and a backup is
only ever compared with a database of its own dialect:

- **PostgreSQL**: the server's own text form of each row (``COPY (SELECT ... ORDER BY key) TO
  STDOUT``), with the settings that shape it pinned (UTC, ISO dates, shortest exact floats,
  hex bytea); text keys are ordered ``COLLATE "C"``, so a target database created with another
  default collation orders them alike. It runs in the caller's transaction, which is how a
  backup computes them in the very snapshot ``pg_dump`` dumps.
- **SQLite** and **MariaDB/MySQL**: the ``repr`` of each row tuple as the driver returns it
  (exact for floats, unambiguous for strings, bytes, ``None`` and datetimes).

Example::

    with sqlite3.connect("backup.sqlite") as conn:
        sums = sqlite_sums(conn)          # {"rescore_events": TableSum(rows=..., sha256=...)}
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Progress",
    "TableSum",
    "differences",
    "mariadb_sums",
    "postgres_sums",
    "sqlite_sums",
]

Progress = Callable[[str], None]

FETCH = 5000


@dataclass(frozen=True, kw_only=True, slots=True)
class TableSum:
    """A table's row count and checksum, and the columns its rows were ordered by."""

    rows: int
    sha256: str
    key: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.sha256, "key": list(self.key)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableSum:
        return cls(rows=int(data["rows"]), sha256=str(data["sha256"]), key=tuple(data["key"]))


def _quiet(_message: str) -> None:
    pass


class _Rows:
    """Feeds row batches into one hash and counts them."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.rows = 0

    def add(self, batch: Sequence[Sequence[Any]]) -> None:
        if batch:
            self.hash.update(("\n".join(map(repr, batch)) + "\n").encode("utf-8", "surrogatepass"))
            self.rows += len(batch)

    def result(self, key: Sequence[str]) -> TableSum:
        return TableSum(rows=self.rows, sha256=self.hash.hexdigest(), key=tuple(key))


# SQLite ---------------------------------------------------------------------------------------


def _sqlite_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_sums(conn: sqlite3.Connection, progress: Progress = _quiet) -> dict[str, TableSum]:
    """Counts and checksums of every table of a SQLite database (read in one transaction)."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]
    found: dict[str, TableSum] = {}
    conn.execute("BEGIN")
    try:
        for index, table in enumerate(tables, start=1):
            progress(f"checksums: {table} ({index}/{len(tables)})")
            found[table] = _sqlite_table(conn, table)
    finally:
        conn.execute("COMMIT")
    return found


def _sqlite_table(conn: sqlite3.Connection, table: str) -> TableSum:
    info = conn.execute(f"PRAGMA table_info({_sqlite_name(table)})").fetchall()
    key = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    order = key or [r[1] for r in info]
    query = f"SELECT * FROM {_sqlite_name(table)} ORDER BY " + ", ".join(  # noqa: S608
        _sqlite_name(c) for c in order
    )
    rows = _Rows()
    cursor = conn.execute(query)
    while batch := cursor.fetchmany(FETCH):
        rows.add(batch)
    return rows.result(key or ["*"])


# PostgreSQL -----------------------------------------------------------------------------------

#: Settings that shape PostgreSQL's text output; pinned so that two sessions print alike.
PG_OUTPUT_SETTINGS = (
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL IntervalStyle = 'postgres'",
    "SET LOCAL extra_float_digits = 1",
    "SET LOCAL bytea_output = 'hex'",
    "SET LOCAL client_encoding = 'UTF8'",
)

_PG_TABLES = """
SELECT n.nspname, c.relname, c.oid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2
"""

_PG_KEY = """
SELECT a.attname, t.typcategory = 'S'
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
JOIN pg_type t ON t.oid = a.atttypid
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY k.ord
"""


def postgres_sums(conn: Any, progress: Progress = _quiet) -> dict[str, TableSum]:
    """Counts and checksums of every table, in the transaction ``conn`` (psycopg) is in.

    The caller opens the transaction (REPEATABLE READ, to see one snapshot throughout)."""
    from psycopg import sql

    for statement in PG_OUTPUT_SETTINGS:
        conn.execute(statement)
    tables = conn.execute(_PG_TABLES).fetchall()
    found: dict[str, TableSum] = {}
    for index, (schema, table, oid) in enumerate(tables, start=1):
        name = table if schema == "public" else f"{schema}.{table}"
        progress(f"checksums: {name} ({index}/{len(tables)})")
        key = conn.execute(_PG_KEY, (oid,)).fetchall()
        relation = sql.Identifier(schema, table)
        order: Any = sql.SQL('r::text COLLATE "C"')
        if key:
            order = sql.SQL(", ").join(
                sql.SQL('{} COLLATE "C"' if text else "{}").format(sql.Identifier(col))
                for col, text in key
            )
        query = sql.SQL("COPY (SELECT * FROM {} AS r ORDER BY {}) TO STDOUT").format(
            relation, order
        )
        found[name] = _copy_sum(conn, query, [col for col, _text in key] or ["*"])
    return found


def _copy_sum(conn: Any, query: Any, key: list[str]) -> TableSum:
    digest = hashlib.sha256()
    rows = 0
    with conn.cursor() as cursor, cursor.copy(query) as copy:
        for chunk in copy:
            data = bytes(chunk)
            digest.update(data)
            rows += data.count(b"\n")  # COPY's text format escapes newlines inside values
    return TableSum(rows=rows, sha256=digest.hexdigest(), key=tuple(key))


# MariaDB / MySQL ------------------------------------------------------------------------------


def _my_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def mariadb_sums(conn: Any, progress: Progress = _quiet) -> dict[str, TableSum]:
    """Counts and checksums of every table of the connection's database (PyMySQL), read in one
    consistent-snapshot transaction."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        tables = [r[0] for r in cursor.fetchall()]
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
    found: dict[str, TableSum] = {}
    try:
        for index, table in enumerate(tables, start=1):
            progress(f"checksums: {table} ({index}/{len(tables)})")
            found[table] = _mariadb_table(conn, table)
    finally:
        conn.rollback()
    return found


def _mariadb_columns(conn: Any, table: str) -> tuple[list[str], list[str]]:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.key_column_usage "
            "WHERE table_schema = DATABASE() AND table_name = %s "
            "AND constraint_name = 'PRIMARY' ORDER BY ordinal_position",
            (table,),
        )
        key = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        columns = [r[0] for r in cursor.fetchall()]
    return key, columns


def _mariadb_table(conn: Any, table: str) -> TableSum:
    import pymysql.cursors  # type: ignore[import-untyped]

    key, columns = _mariadb_columns(conn, table)
    order = ", ".join(_my_name(c) for c in (key or columns))
    rows = _Rows()
    with conn.cursor(pymysql.cursors.SSCursor) as cursor:
        cursor.execute(f"SELECT * FROM {_my_name(table)} ORDER BY {order}")  # noqa: S608
        _drain(cursor, rows)
    return rows.result(key or ["*"])


def _drain(cursor: Any, rows: _Rows) -> None:
    while batch := cursor.fetchmany(FETCH):
        rows.add(batch)


def differences(expected: dict[str, TableSum], found: dict[str, TableSum]) -> list[str]:
    """Where ``found`` differs from ``expected``, one line per table (empty: identical)."""
    problems: list[str] = []
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        problems.extend(_difference(table, want, got))
    return problems


def _difference(table: str, want: TableSum | None, got: TableSum | None) -> Iterable[str]:
    if got is None:
        yield f"{table}: missing"
    elif want is None:
        yield f"{table}: not in the manifest"
    elif want.rows != got.rows:
        yield f"{table}: {got.rows} rows, the manifest says {want.rows}"
    elif want.sha256 != got.sha256:
        yield f"{table}: checksum differs from the manifest ({want.rows} rows)"
