"""A transaction PostgreSQL picks as a deadlock victim is run again from the start
(``Database.retried``), so an ingest batch caught in a crosswise lock with a worker is stored
once instead of failing (CI's random-kill drill met exactly that)."""

from __future__ import annotations

import threading
import time

import pytest
import servers
import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.engine import Database

pytestmark = pytest.mark.integration

make_database = servers.make_database

ROWS = sa.text("UPDATE t SET n = n + :by WHERE id = :id")


def test_a_deadlock_victim_is_run_again_and_commits_once(
    make_database: servers.MakeDatabase,
) -> None:
    db = Database(make_database("postgresql"))
    with db.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    other_holds_2 = threading.Event()
    victim_holds_1 = threading.Event()
    attempts: list[int] = []

    def other() -> None:
        """Locks row 2, then waits for row 1; slow to check for deadlocks, so never the victim."""
        with db.begin() as conn:
            conn.execute(sa.text("SET LOCAL deadlock_timeout = '10s'"))
            conn.execute(ROWS, {"by": 1, "id": 2})
            other_holds_2.set()
            victim_holds_1.wait(5)
            conn.execute(ROWS, {"by": 1, "id": 1})

    def body(conn: Connection) -> str:
        """Locks row 1, then row 2: crosswise with ``other`` on the first attempt."""
        attempts.append(len(attempts) + 1)
        conn.execute(sa.text("SET LOCAL deadlock_timeout = '50ms'"))
        conn.execute(ROWS, {"by": 10, "id": 1})
        if len(attempts) == 1:
            other_holds_2.wait(5)
            victim_holds_1.set()
            time.sleep(0.2)  # let ``other`` block on row 1 first
        conn.execute(ROWS, {"by": 10, "id": 2})
        return "stored"

    thread = threading.Thread(target=other)
    thread.start()
    assert db.retried(body) == "stored"
    thread.join(10)
    assert attempts == [1, 2]
    with db.read() as conn:
        assert dict(conn.execute(sa.text("SELECT id, n FROM t")).all()) == {1: 11, 2: 11}
    db.engine.dispose()
