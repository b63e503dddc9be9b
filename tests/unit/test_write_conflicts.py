"""Deadlock victims are a :class:`WriteConflict`, not "the database cannot be reached": the
boundary tells them apart, ``Database.retried`` replays them, and a conflict that outlasts
every attempt reaches the caller as a 503 that says nothing was written."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.boundary import convert
from rescore.db.engine import Database
from rescore.exceptions import StorageUnavailable, WriteConflict


def test_the_boundary_tells_a_deadlock_from_an_outage() -> None:
    pg = convert(psycopg.errors.DeadlockDetected("deadlock detected"), where="pg://x")
    maria = convert(pymysql.err.OperationalError(1213, "Deadlock found"), where="maria://x")
    down = convert(psycopg.OperationalError("connection refused"), where="pg://x")
    assert isinstance(pg, WriteConflict)
    assert isinstance(maria, WriteConflict)
    assert not isinstance(pg, StorageUnavailable)
    assert isinstance(down, StorageUnavailable)
    assert "nothing was written" in str(pg)
    assert pg.http_status == 503


def test_retried_replays_a_victim_and_gives_up_after_its_attempts(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    with db.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (n int)"))
    calls: list[int] = []

    def once_a_victim(conn: Connection) -> int:
        calls.append(1)
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        if len(calls) == 1:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return len(calls)

    assert db.retried(once_a_victim) == 2
    with db.read() as conn:  # the victim's insert was rolled back with it
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 1

    def always_a_victim(conn: Connection) -> None:
        calls.append(1)
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    calls.clear()
    with pytest.raises(WriteConflict):
        db.retried(always_a_victim, attempts=3)
    assert len(calls) == 3
