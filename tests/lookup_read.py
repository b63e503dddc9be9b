"""The lookup's one-statement database read, checked against the two reads it replaced
(scores, then pending) on any database the engine runs on (unit: SQLite; integration:
PostgreSQL and MariaDB)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from conftest import event, put_items
from rescore.db.schema import pending
from rescore.engine import Engine
from rescore.exceptions import EntityNotFound

__all__ = ["assert_one_read_agrees"]


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine's reader sends to the database while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(engine.db.reader, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine.db.reader, "before_cursor_execute", record)


def two_reads(engine: Engine, entity: str, tenant: str) -> tuple[Any, bool] | None:
    """What the lookup used to read: scores, then (same snapshot) pending."""
    with engine.db.read() as conn:
        found = engine.store.current(conn, "toy", [entity], tenant=tenant).get(entity)
        waiting = sa.select(pending.c.entity).where(
            pending.c.tenant == tenant, pending.c.pack == "toy", pending.c.entity == entity
        )
        return None if not found else (found, conn.execute(waiting).first() is not None)


def one_read(engine: Engine, entity: str, tenant: str) -> tuple[Any, bool] | None:
    with statements(engine) as sent:
        try:
            found = engine.lookup("toy", entity, tenant=tenant)
        except EntityNotFound:
            found = None
    touching = [s for s in sent if "rescore_" in s]
    assert len(touching) == 1, touching
    return found


def assert_one_read_agrees(engine: Engine) -> None:
    """Scored and idle, scored with work pending, pending but never scored, unknown, and
    another tenant's: the one read answers what the two reads did."""
    put_items(engine, x=(10, 20), y=(1, 2), z=(3, 4))
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "a_changed", "y")])
    engine.work("w")
    put_items(engine, y=(5, 6))
    engine.ingest([event("e3", "a_changed", "y"), event("e4", "a_changed", "z")])
    cases = [("x", "default"), ("y", "default"), ("z", "default"), ("nobody", "default")]
    cases.append(("x", "other"))
    answers = {case: one_read(engine, *case) for case in cases}
    assert answers == {case: two_reads(engine, *case) for case in cases}
    waiting = {case: None if found is None else found[1] for case, found in answers.items()}
    assert list(waiting.values()) == [False, True, None, None, None]
