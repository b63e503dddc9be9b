"""The outbox poller on seed 000's MySQL ``events_queue``: two pollers at once ingest every
row exactly once and mark each processed; the credit pack reads its source tables from the
same MariaDB database while scores live in PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
import servers
import sqlalchemy as sa

from helpers import run
from rescore.db.engine import Database
from rescore.db.schema import events, pending
from rescore.engine import Engine
from rescore.outbox import EVENTS_QUEUE_DDL, OutboxPoller, PollResult
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database

ROWS = 3_000
TYPES = ["payment_made", "payment_late", "client_default", "new_loan", "limit_increase"]


def fill_queue(url: str, cedulas: list[str], rows: int, start: int = 0) -> int:
    """Insert rows as the business system does (seed 000's n8n workflow); return how many
    have a known type (one in every 100 gets an unknown type)."""
    rng = random.Random(start)
    values = []
    known = 0
    for n in range(start, start + rows):
        kind = "mystery_event" if n % 100 == 99 else rng.choice(TYPES)
        known += kind != "mystery_event"
        values.append({"c": rng.choice(cedulas), "t": kind, "d": f'{{"n": {n}}}'})
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO events_queue (cedula, event_type, event_data) VALUES (:c, :t, :d)"
            ),
            values,
        )
    engine.dispose()
    return known


def test_two_pollers_ingest_every_row_once(
    make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    source_url = make_database("mariadb")
    database_url = make_database("postgresql")
    env = {
        "RESCORE_DATABASE_URL": database_url,
        "RESCORE_SOURCE_URL": source_url,
        "RESCORE_PACKS": "credit",
    }
    # the credit source tables are created on MariaDB, filled and scored from there
    run("init", "--demo-data", "--seed", "4", cwd=tmp_path, env=env)
    source = Database(source_url)
    with source.begin() as conn:
        conn.exec_driver_sql(EVENTS_QUEUE_DDL)
        cedulas = list(conn.execute(sa.text("SELECT cedula FROM clients")).scalars())
    known = fill_queue(source_url, cedulas, ROWS)

    settings = Settings(database_url=database_url, source_url=source_url, packs=["credit"])
    results: list[list[PollResult]] = [[], []]
    ready = threading.Barrier(2)  # building an engine can outlast draining the whole queue

    def unprocessed() -> int:
        with source.read() as conn:
            query = "SELECT COUNT(*) FROM events_queue WHERE NOT processed"
            return int(conn.execute(sa.text(query)).scalar_one())

    def poller(n: int) -> None:
        engine = Engine.from_settings(settings)
        try:
            poll = OutboxPoller(engine, Database(source_url), batch_size=50)
            ready.wait(60)
            while True:
                result = poll.poll_once()
                if result.read:
                    results[n].append(result)
                elif not unprocessed():
                    return
                else:  # MariaDB's SKIP LOCKED can answer nothing while the other holds a batch
                    time.sleep(0.01)
        finally:
            engine.close()

    threads = [threading.Thread(target=poller, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(results), "both pollers took a share"
    every = results[0] + results[1]
    assert sum(r.read for r in every) == ROWS
    assert sum(r.accepted for r in every) == known
    assert sum(r.duplicates for r in every) == 0
    assert sum(r.unknown for r in every) == ROWS - known
    with source.read() as conn:
        left = conn.execute(
            sa.text("SELECT COUNT(*) FROM events_queue WHERE NOT processed OR processed_at IS NULL")
        ).scalar_one()
    assert left == 0
    check = Database(database_url)
    with check.read() as conn:
        ids = list(conn.execute(sa.select(events.c.event_id)).scalars())
    assert len(ids) == len(set(ids)) == known
    assert all(i.startswith("events_queue:") for i in ids)

    # re-reading a row (a crash between ingest and the processed mark) is harmless
    with source.begin() as conn:
        conn.execute(sa.text("UPDATE events_queue SET processed = FALSE WHERE id <= 10"))
    again = run("poll", "--source", source_url, "--once", cwd=tmp_path, env=env).stdout
    assert "read 10: accepted 0, duplicates 10" in again

    # new rows through the command, then a worker rescores from the MariaDB source
    fill_queue(source_url, cedulas[:5], 20, start=ROWS)
    out = run("poll", "--source", source_url, "--once", cwd=tmp_path, env=env).stdout
    assert "read 20" in out
    run("worker", "--once", cwd=tmp_path, env=env)
    with check.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(pending)).scalar_one() == 0
    shown = run("show", "credit", cedulas[0], "--json", cwd=tmp_path, env=env).stdout
    assert '"hybrid"' in shown
    check.dispose()
    source.dispose()
