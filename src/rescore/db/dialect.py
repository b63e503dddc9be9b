"""Every dialect-specific statement lives here, and only here.

- inserting events while ignoring duplicate ``event_id`` and learning which rows were new;
- the coalescing upsert of pending work (priority and watermark only rise);
- the row lock taken when workers claim work (``FOR UPDATE SKIP LOCKED`` where the database has
  it; SQLite has one writer at a time, so a plain select inside ``BEGIN IMMEDIATE`` suffices).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from rescore.db.schema import events, pending
from rescore.exceptions import InvalidInput

__all__ = ["for_claim", "insert_new_events", "upsert_pending"]


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


def insert_new_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert events, skipping any whose (tenant, ``event_id``) is stored; return
    {event_id: seq} of the new ones (a batch belongs to one tenant)."""
    if not rows:
        return {}
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
    conn.execute(stmt, list(rows))


def for_claim(conn: Connection, query: Select[Any]) -> Select[Any]:
    """Lock the selected pending rows for this worker, skipping rows other workers hold."""
    if conn.dialect.name == "sqlite":
        return query
    return query.with_for_update(skip_locked=True)
