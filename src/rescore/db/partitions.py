"""Monthly partitions of ``rescore_history`` on PostgreSQL (seed 001 partitions its 10.6M
history rows the same way); every statement of it lives here. See ADR 0012.

The table is ``PARTITION BY RANGE (changed_at)``: one partition per calendar month (UTC),
named ``rescore_history_YYYY_MM``, plus ``rescore_history_default``, which takes any row whose
month has no partition yet, so an insert never fails. :func:`maintain` (run by the scheduled
job) creates the current month and the next ones ahead of time and moves rows that reached the
default partition into their month's own partition. Retention removes whole months at once
with :func:`detach` or :func:`drop`.

The primary key is ``(id, changed_at)``: PostgreSQL wants the partition key in every unique
constraint. Ids still come from the one sequence ``rescore_history_id_seq``, so they stay
unique and ordered. Each partition carries the parent's indexes (PostgreSQL creates them on
every partition): the primary key and ``ix_rescore_history_entity``.

DDL cannot take bound parameters: every name and bound written into it below is derived from a
``datetime`` this module computed (never from a caller's string) and checked by
:data:`MONTHLY`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.exceptions import ConfigurationError, RescoreError

__all__ = [
    "DEFAULT_PARTITION",
    "HISTORY",
    "MONTHLY",
    "Converted",
    "Partition",
    "add_months",
    "convert",
    "detach",
    "drop",
    "include_name",
    "is_partitioned",
    "maintain",
    "month_of",
    "partition_name",
    "partitions",
    "remove",
    "require_partitioned",
    "revert",
    "serialize",
]

log = logging.getLogger(__name__)

HISTORY = "rescore_history"
DEFAULT_PARTITION = f"{HISTORY}_default"
#: A monthly partition's name, attached or detached.
MONTHLY = re.compile(rf"^{HISTORY}_(\d{{4}})_(\d{{2}})$")
#: The old table while :func:`convert` copies it.
_OLD = f"{HISTORY}_unpartitioned"
_SEQUENCE = f"{HISTORY}_id_seq"
_ENTITY_INDEX = "ix_rescore_history_entity"


@dataclass(frozen=True, kw_only=True, slots=True)
class Partition:
    """One partition: its name, its month's bounds (None for the default) and its rows."""

    name: str
    lower: datetime | None
    upper: datetime | None
    rows: int | None = None

    @property
    def is_default(self) -> bool:
        return self.lower is None


@dataclass(frozen=True, kw_only=True, slots=True)
class Converted:
    """What :func:`convert` did: rows moved, months created, and how long it took."""

    rows: int
    months: int
    seconds: float


def month_of(at: datetime) -> datetime:
    """The first instant (UTC) of the month ``at`` falls in."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def add_months(month: datetime, count: int) -> datetime:
    """``month`` (a month's first instant) moved by ``count`` months, either way."""
    index = month.year * 12 + month.month - 1 + count
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"{HISTORY}_{month.year:04d}_{month.month:02d}"


def include_name(name: str | None, type_: str, _parents: object = None) -> bool:
    """Alembic's ``include_name``: partitions are not model tables (nor their indexes)."""
    if type_ == "table" and name is not None:
        return name != DEFAULT_PARTITION and name != _OLD and not MONTHLY.match(name)
    return True


def is_partitioned(conn: Connection) -> bool:
    """True on PostgreSQL once ``rescore_history`` is a partitioned table."""
    if conn.dialect.name != "postgresql":
        return False
    query = sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:name)")
    return conn.execute(query, {"name": HISTORY}).scalar() == "p"


def require_partitioned(conn: Connection, where: str) -> None:
    """Refuse, with what to do, a database whose history is not partitioned."""
    if conn.dialect.name != "postgresql":
        raise ConfigurationError(
            f"{where}: history partitions are a PostgreSQL feature ({conn.dialect.name} keeps "
            "one history table)"
        )
    if not is_partitioned(conn):
        raise ConfigurationError(f"{where}: the history is not partitioned: run `rescore migrate`")


# reading -----------------------------------------------------------------------------------

_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


def _bounds(expr: str) -> tuple[datetime | None, datetime | None]:
    found = _BOUNDS.search(expr)
    if found is None:  # DEFAULT
        return None, None
    low, high = (datetime.fromisoformat(v).replace(tzinfo=UTC) for v in found.groups())
    return low, high


def partitions(conn: Connection, *, count: bool = False) -> list[Partition]:
    """The attached partitions, oldest month first and the default last; ``count=True`` adds
    each one's exact row count (a scan of each: meant for operators, not hot paths)."""
    query = sa.text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:name)"
    )
    found = []
    for name, bound in conn.execute(query, {"name": HISTORY}):
        low, high = _bounds(bound)
        rows = _count(conn, name) if count else None
        found.append(Partition(name=name, lower=low, upper=high, rows=rows))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(found, key=lambda p: (p.lower or far, p.name))


def _quote(conn: Connection, name: str) -> str:
    if name not in (DEFAULT_PARTITION, HISTORY, _OLD) and not MONTHLY.match(name):
        raise ValueError(f"not a history partition: {name!r}")
    return str(conn.dialect.identifier_preparer.quote(name))


def _table(conn: Connection, name: str) -> sa.TableClause:
    """A lightweight table of ``name`` with its live columns (quoting is SQLAlchemy's)."""
    _quote(conn, name)
    return sa.table(name, *(sa.column(c) for c in _column_names(conn, name)))


def _count(conn: Connection, name: str) -> int:
    _quote(conn, name)
    return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())


# creating ----------------------------------------------------------------------------------


def _range(month: datetime) -> str:
    end = add_months(month, 1)
    return f"FROM ('{month:%Y-%m-%d} 00:00:00') TO ('{end:%Y-%m-%d} 00:00:00')"


def _column_names(conn: Connection, table: str) -> list[str]:
    query = sa.text(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum"
    )
    return list(conn.execute(query, {"t": table}).scalars())


def _in_month(table: sa.TableClause, month: datetime) -> sa.ColumnElement[bool]:
    low, high = month.replace(tzinfo=None), add_months(month, 1).replace(tzinfo=None)
    return sa.and_(table.c.changed_at >= low, table.c.changed_at < high)


def _create_month(conn: Connection, month: datetime) -> None:
    """Create the month's partition; rows of that month already in the default partition are
    moved into it first (PostgreSQL refuses a new partition the default holds rows of)."""
    name, parent = partition_name(month), _quote(conn, HISTORY)
    table = _quote(conn, name)
    default = _table(conn, DEFAULT_PARTITION)
    waiting = conn.execute(
        sa.select(sa.func.count()).select_from(default).where(_in_month(default, month))
    ).scalar_one()
    if not waiting:
        conn.execute(
            sa.text(f"CREATE TABLE {table} PARTITION OF {parent} FOR VALUES {_range(month)}")
        )
        return
    conn.execute(sa.text(f"CREATE TABLE {table} (LIKE {parent} INCLUDING DEFAULTS)"))
    moved = sa.delete(default).where(_in_month(default, month)).returning(*default.c).cte("moved")
    names = [c.name for c in default.c]
    conn.execute(sa.insert(_table(conn, name)).from_select(names, sa.select(*moved.c)))
    conn.execute(
        sa.text(f"ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES {_range(month)}")
    )
    log.info("history: moved %d rows of %s out of the default partition", waiting, name)


#: Key of the transaction-scoped advisory lock that serializes partition changes: several
#: runtimes (one per ``rescore worker`` process) may run the hourly job at the same moment.
_LOCK_KEY = 0x7265_7363_6F72_6500  # "rescore\0"


def serialize(conn: Connection) -> None:
    """Wait for, then hold until the transaction ends, the lock on partition changes."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def ensure_months(conn: Connection, months: Iterable[datetime]) -> list[str]:
    """Create the partitions of ``months`` that do not exist yet; return their names."""
    have = {p.name for p in partitions(conn)}
    made = []
    for month in sorted({month_of(m) for m in months}):
        if partition_name(month) not in have:
            _create_month(conn, month)
            made.append(partition_name(month))
    return made


def _months_in(conn: Connection, name: str) -> list[datetime]:
    _quote(conn, name)
    table = sa.table(name, sa.column("changed_at"))
    query = sa.select(sa.func.date_trunc("month", table.c.changed_at)).distinct()
    return [m.replace(tzinfo=UTC) for m in conn.execute(query).scalars()]


def maintain(conn: Connection, now: datetime, ahead: int) -> list[str]:
    """Create this month's and the next ``ahead`` months' partitions, and give every month
    that has rows in the default partition its own (moving those rows). Idempotent; returns
    the partitions created."""
    serialize(conn)
    month = month_of(now)
    wanted = [add_months(month, n) for n in range(ahead + 1)]
    return ensure_months(conn, [*wanted, *_months_in(conn, DEFAULT_PARTITION)])


def remove(conn: Connection, names: Iterable[str], action: str, *, wait: float = 5.0) -> None:
    """Detach or drop partitions, in the caller's transaction. Both briefly lock the whole
    table; waiting longer than ``wait`` seconds for that lock (behind a long query) fails
    rather than stall every writer queued behind it (the next scheduled run tries again)."""
    serialize(conn)
    conn.execute(
        sa.text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{wait * 1000:.0f}ms"}
    )
    for name in names:
        (detach if action == "detach" else drop)(conn, name)


def detach(conn: Connection, name: str) -> None:
    """Take a partition out of the table, keeping it as a plain table (reversible)."""
    conn.execute(
        sa.text(f"ALTER TABLE {_quote(conn, HISTORY)} DETACH PARTITION {_quote(conn, name)}")
    )


def drop(conn: Connection, name: str) -> None:
    """Delete a partition and its rows for good."""
    conn.execute(sa.text(f"DROP TABLE {_quote(conn, name)}"))


# converting an existing table (migration 0005) ----------------------------------------------


def convert(conn: Connection, *, now: datetime, ahead: int = 3, batch: int = 50_000) -> Converted:
    """Turn a plain ``rescore_history`` into the partitioned table, in the caller's
    transaction (all or nothing): rename the old table, create the partitioned one with the
    same columns and defaults (the id keeps its sequence), create a partition for every month
    that has rows and for ``ahead`` months from ``now``, copy the rows in id ranges of
    ``batch``, check the count, drop the old table. A no-op when already partitioned."""
    started = time.monotonic()
    if is_partitioned(conn):
        return Converted(rows=0, months=0, seconds=0.0)
    conn.execute(sa.text(f"LOCK TABLE {HISTORY} IN EXCLUSIVE MODE"))  # readers may go on
    _set_aside(conn)
    _create_partitioned(conn)
    months = _months_in(conn, _OLD)
    made = maintain(conn, now, ahead)
    made += ensure_months(conn, months)
    rows = _copy_rows(conn, batch)
    conn.execute(sa.text(f"DROP TABLE {_OLD}"))
    conn.execute(sa.text(f"ALTER SEQUENCE {_SEQUENCE} OWNED BY {HISTORY}.id"))
    conn.execute(sa.text(f"ANALYZE {HISTORY}"))
    return Converted(rows=rows, months=len(made), seconds=time.monotonic() - started)


def _set_aside(conn: Connection) -> None:
    """Rename the old table and free its names (the sequence must outlive it)."""
    conn.execute(sa.text(f"ALTER SEQUENCE {_SEQUENCE} OWNED BY NONE"))
    conn.execute(sa.text(f"ALTER TABLE {HISTORY} RENAME TO {_OLD}"))
    conn.execute(sa.text(f"ALTER TABLE {_OLD} RENAME CONSTRAINT {HISTORY}_pkey TO {_OLD}_pkey"))
    conn.execute(sa.text(f"DROP INDEX IF EXISTS {_ENTITY_INDEX}"))


def _create_partitioned(conn: Connection) -> None:
    conn.execute(
        sa.text(
            f"CREATE TABLE {HISTORY} (LIKE {_OLD} INCLUDING DEFAULTS) "
            "PARTITION BY RANGE (changed_at)"
        )
    )
    conn.execute(
        sa.text(f"ALTER TABLE {HISTORY} ADD CONSTRAINT {HISTORY}_pkey PRIMARY KEY (id, changed_at)")
    )
    conn.execute(
        sa.text(f"CREATE INDEX {_ENTITY_INDEX} ON {HISTORY} (tenant, pack, entity, changed_at)")
    )
    conn.execute(sa.text(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {HISTORY} DEFAULT"))


def _copy_rows(conn: Connection, batch: int) -> int:
    old = _table(conn, _OLD)
    low, high, expected = conn.execute(
        sa.select(sa.func.min(old.c.id), sa.func.max(old.c.id), sa.func.count())
    ).one()
    names = [c.name for c in old.c]
    target = sa.table(HISTORY, *(sa.column(n) for n in names))
    start = low
    while low is not None and start <= high:
        rows = sa.select(*old.c).where(old.c.id >= start, old.c.id < start + batch)
        conn.execute(sa.insert(target).from_select(names, rows))
        start += batch
    moved = conn.execute(sa.select(sa.func.count()).select_from(target)).scalar_one()
    if moved != expected:
        raise RescoreError(f"{HISTORY}: copied {moved} rows of {expected}; nothing was changed")
    return moved


def revert(conn: Connection, *, batch: int = 50_000) -> int:
    """Undo :func:`convert` (migration 0005's downgrade): one plain table again, same ids and
    sequence, every attached partition's rows copied back. Returns the rows copied."""
    if not is_partitioned(conn):
        return 0
    conn.execute(sa.text(f"LOCK TABLE {HISTORY} IN EXCLUSIVE MODE"))
    conn.execute(sa.text(f"ALTER SEQUENCE {_SEQUENCE} OWNED BY NONE"))
    conn.execute(sa.text(f"ALTER TABLE {HISTORY} RENAME TO {_OLD}"))
    conn.execute(sa.text(f"ALTER INDEX {_ENTITY_INDEX} RENAME TO {_ENTITY_INDEX}_old"))
    conn.execute(sa.text(f"ALTER TABLE {_OLD} RENAME CONSTRAINT {HISTORY}_pkey TO {_OLD}_pkey"))
    conn.execute(sa.text(f"CREATE TABLE {HISTORY} (LIKE {_OLD} INCLUDING DEFAULTS)"))
    conn.execute(sa.text(f"ALTER TABLE {HISTORY} ADD CONSTRAINT {HISTORY}_pkey PRIMARY KEY (id)"))
    conn.execute(
        sa.text(f"CREATE INDEX {_ENTITY_INDEX} ON {HISTORY} (tenant, pack, entity, changed_at)")
    )
    rows = _copy_rows(conn, batch)
    conn.execute(sa.text(f"DROP TABLE {_OLD}"))  # its partitions go with it
    conn.execute(sa.text(f"ALTER SEQUENCE {_SEQUENCE} OWNED BY {HISTORY}.id"))
    return rows
