"""Every dialect-specific statement lives here, and only here.

- inserting events while ignoring duplicate ``event_id`` and learning which rows were new;
- the coalescing upsert of pending work (priority and watermark only rise);
- the row lock taken when workers claim work (``FOR UPDATE SKIP LOCKED`` on PostgreSQL and
  MariaDB/MySQL; SQLite has one writer at a time, so a plain select inside ``BEGIN IMMEDIATE``
  suffices), and the plain row lock a worker takes on its own claims before it writes;
- waking workers in other processes (``pg_notify`` on PostgreSQL, committed with the work);
- bulk writes: ``COPY`` on PostgreSQL for big batches of events and history rows, and for the
  staging table of the score store's bulk path (its statements are in ``rescore.db.bulk``).
  MariaDB/MySQL need nothing here: PyMySQL already sends an ``executemany`` insert as
  multi-row ``INSERT`` statements, and SQLAlchemy batches ``INSERT ... RETURNING`` into
  multi-row statements too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection, Select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from rescore.db.schema import events, pending
from rescore.exceptions import InvalidInput

__all__ = [
    "COPY_THRESHOLD",
    "WAKE_CHANNEL",
    "bulk_insert",
    "copy_rows",
    "for_claim",
    "for_write",
    "insert_new_events",
    "notify",
    "upsert_pending",
]

#: Rows from which a PostgreSQL insert goes through COPY (below it, COPY's set-up costs more
#: than it saves; measured in ADR 0010).
COPY_THRESHOLD = 200

#: The PostgreSQL channel ingest notifies when it queues critical work.
WAKE_CHANNEL = "rescore_work"


def _insert(conn: Connection, table: sa.Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    if name in ("mysql", "mariadb"):
        return mysql.insert(table)
    raise InvalidInput(
        f"unsupported database {name!r}: use sqlite, postgresql or mysql", field="database_url"
    )


def insert_ignoring(
    conn: Connection, table: sa.Table, row: dict[str, Any], *, unique: Sequence[str]
) -> int | None:
    """Insert one row unless one with the same ``unique`` columns exists; the new row's
    primary key, or None when it was there already (idempotent writes: outbox firings,
    schedule runs)."""
    stmt = _insert(conn, table).values(**row)
    if conn.dialect.name in ("mysql", "mariadb"):
        stmt = stmt.prefix_with("IGNORE")
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(unique))
    key = next(iter(table.primary_key.columns))
    found = conn.execute(stmt.returning(key)).first()
    return None if found is None else found[0]


def insert_new_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert events, skipping any whose (tenant, ``event_id``) is stored; return
    {event_id: seq} of the new ones (a batch belongs to one tenant)."""
    if not rows:
        return {}
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        return _copy_new_events(conn, rows)
    if conn.dialect.name == "sqlite" and len(rows) * len(_EVENT_COLUMNS) <= _SQLITE_VARIABLES:
        return _sqlite_new_events(conn, rows)
    stmt = _insert(conn, events)
    if conn.dialect.name in ("mysql", "mariadb"):
        stmt = stmt.prefix_with("IGNORE")
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["tenant", "event_id"])
    stmt = stmt.returning(events.c.event_id, events.c.seq)
    result = conn.execute(stmt, list(rows))
    return dict(result.all())


def upsert_pending(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Coalesce work: one row per (pack, entity); priority and watermark only ever rise and
    ``first_seq`` only falls, so the row always covers every event not yet reflected."""
    if not rows:
        return
    # one order for every writer, so two transactions never lock the same rows crosswise
    rows = sorted(rows, key=lambda r: (r["tenant"], r["pack"], r["entity"]))
    stmt: Insert = _insert(conn, pending)
    sqlite_ = conn.dialect.name == "sqlite"
    hi: Any = sa.func.max if sqlite_ else sa.func.greatest  # SQLite's max(a, b) is scalar
    lo: Any = sa.func.min if sqlite_ else sa.func.least
    mysql_ = conn.dialect.name in ("mysql", "mariadb")
    new = stmt.inserted if mysql_ else stmt.excluded  # type: ignore[attr-defined]
    changes = {
        "priority": hi(pending.c.priority, new.priority),
        "first_seq": lo(pending.c.first_seq, new.first_seq),
        "watermark": hi(pending.c.watermark, new.watermark),
    }
    if conn.dialect.name in ("mysql", "mariadb"):
        stmt = stmt.on_duplicate_key_update(**changes)  # type: ignore[attr-defined]
    else:
        stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["tenant", "pack", "entity"], set_=changes
        )
    if sqlite_:  # one writer at a time: the driver's executemany, converted column-wise
        _execute_many(conn, pending, stmt, list(rows[0]), rows)
        return
    if conn.dialect.name == "postgresql":
        # one multi-row statement per chunk (psycopg's executemany sends a statement per row,
        # which held the rows' locks longer); rows are unique per key, as ON CONFLICT needs
        per = 60_000 // len(rows[0])  # under the protocol's 65,535 parameters
        for start in range(0, len(rows), per):
            conn.execute(stmt.values(list(rows[start : start + per])))
        return
    conn.execute(stmt, list(rows))  # PyMySQL's executemany rewrites it as one multi-row INSERT


def for_claim(conn: Connection, query: Select[Any]) -> Select[Any]:
    """Lock the selected pending rows for this worker, skipping rows other workers hold."""
    if conn.dialect.name == "sqlite":
        return query
    return query.with_for_update(skip_locked=True)


def for_write(conn: Connection, query: Select[Any]) -> Select[Any]:
    """Lock the selected rows until the transaction ends (waiting for other holders)."""
    if conn.dialect.name == "sqlite":
        return query
    return query.with_for_update()


def notify(conn: Connection, channel: str = WAKE_CHANNEL, payload: str = "") -> None:
    """Wake listeners in other processes when this transaction commits (PostgreSQL only;
    elsewhere workers poll)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(channel, payload)))


def bulk_insert(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows: ``COPY`` on PostgreSQL for big batches, ``executemany`` otherwise."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        columns = [c.name for c in table.columns if c.name in rows[0]]
        _copy(conn, table.name, columns, rows)
        return
    names = list(rows[0])
    if len(rows) < COPY_THRESHOLD or _python_defaults(table, names):
        conn.execute(table.insert(), list(rows))
        return
    _execute_many(conn, table, table.insert(), names, rows)


def _python_defaults(table: sa.Table, names: Sequence[str]) -> bool:
    """Whether a column the rows leave out has a default SQLAlchemy computes in Python (only
    its own ``insert()`` fills those in)."""
    return any(c.default is not None for c in table.columns if c.name not in names)


def _execute_many(
    conn: Connection,
    table: sa.Table,
    statement: sa.Insert,
    names: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> None:
    """``statement`` run by the driver's ``executemany`` over ``rows`` (dicts with the keys
    ``names``), compiled once and each column converted by its own SQLAlchemy type in one pass
    (column-wise). SQLAlchemy's per-row parameter processing cost more than the statement
    itself for a batch of history rows or of pending work."""
    compiled = statement.compile(dialect=conn.dialect, column_keys=list(names))
    columns = _converted(conn, table, names, rows)
    if compiled.positional:
        ordered = [columns[key] for key in compiled.positiontup or ()]
        conn.exec_driver_sql(compiled.string, list(zip(*ordered, strict=True)))
    else:
        keyed = [dict(zip(names, r, strict=True)) for r in zip(*columns.values(), strict=True)]
        conn.exec_driver_sql(compiled.string, keyed)


def _converted(
    conn: Connection, table: sa.Table, names: Sequence[str], rows: Sequence[dict[str, Any]]
) -> dict[str, list[Any]]:
    """The values of each column of ``names`` across ``rows``, as the driver takes them."""
    columns: dict[str, list[Any]] = {n: [row[n] for row in rows] for n in names}
    for name, values in columns.items():
        kind = table.c[name].type
        convert = kind.bind_processor(conn.dialect)
        if convert is None:
            continue
        keep_none = not kind.should_evaluate_none  # None stays NULL, unless JSON's 'null'
        if values and all(v is values[0] for v in values):  # one time for a batch: once
            first = values[0]
            columns[name] = [None if first is None and keep_none else convert(first)] * len(values)
        else:
            columns[name] = [None if v is None and keep_none else convert(v) for v in values]
    return columns


def _copy_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: rescore stores UTC-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, dict | list | tuple):
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return value


def _copy(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    # a column whose first value is a plain scalar holds plain scalars (or NULL): only the
    # others pay for a conversion (JSON, datetimes: a third of the columns of a history row)
    plain = frozenset(c for c in columns if rows and isinstance(rows[0][c], str | int | float))
    converted = (
        tuple(row[c] if c in plain else _copy_value(row[c]) for c in columns) for row in rows
    )
    copy_rows(conn, table, columns, converted)


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY`` rows into a PostgreSQL table: tuples in ``columns`` order, each value as
    ``COPY`` takes it (JSON as text, UTC datetimes naive)."""
    names = ", ".join(f'"{c}"' for c in columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


_EVENT_COLUMNS = (
    "event_id",
    "tenant",
    "pack",
    "type",
    "entity",
    "lane",
    "occurred_at",
    "received_at",
    "payload",
    "digest",
)


#: Bound variables one SQLite statement may hold (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
_SQLITE_VARIABLES = 32_766


def _sqlite_new_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` built for the batch's size,
    its values converted column-wise (what SQLAlchemy's insertmanyvalues does, without its
    per-row parameter processing); rows are inserted, and numbered, in the batch's order."""
    columns = _converted(conn, events, _EVENT_COLUMNS, rows)
    marks = "(" + ", ".join("?" * len(_EVENT_COLUMNS)) + ")"
    sql = (
        f"INSERT INTO rescore_events ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
        f"VALUES {', '.join([marks] * len(rows))} "
        "ON CONFLICT (tenant, event_id) DO NOTHING RETURNING event_id, seq"
    )
    flat = tuple(v for row in zip(*columns.values(), strict=True) for v in row)
    return dict(conn.exec_driver_sql(sql, flat).all())


def _copy_new_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """COPY into a session-local staging table, then one ``INSERT ... SELECT`` that skips
    stored ids; ``ord`` keeps the batch's order in the sequence numbers."""
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS rescore_events_in ("
        "ord integer, event_id text, tenant text, pack text, type text, entity text, "
        "lane text, occurred_at timestamp, received_at timestamp, payload json, digest text"
        ") ON COMMIT DELETE ROWS"
    )
    staged = [{"ord": i} | dict(row) for i, row in enumerate(rows)]
    _copy(conn, "rescore_events_in", ("ord", *_EVENT_COLUMNS), staged)
    names = ", ".join(_EVENT_COLUMNS)
    result = conn.exec_driver_sql(
        f"INSERT INTO rescore_events ({names}) SELECT {names} FROM rescore_events_in "  # noqa: S608
        "ORDER BY ord ON CONFLICT (tenant, event_id) DO NOTHING RETURNING event_id, seq"
    )
    new: dict[str, int] = dict(result.all())
    conn.exec_driver_sql("TRUNCATE rescore_events_in")
    return new
