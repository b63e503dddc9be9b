"""Workers killed at random lose nothing and write nothing twice, on PostgreSQL and MariaDB.

4 worker processes (the embedded runtime, ``kill_worker.py``) rescore while 50,000 events over
2,000 entities arrive, each after the source change it announces (as a business system
writes). Every second one worker is SIGKILLed and a new one started. The claim lease is 300 s,
far beyond the test: a killed worker's claims come back only through the heartbeats (its
replacement on this host takes them back as it starts), and the backlog must drain within 30 s
of the last kill. Afterwards:

- nothing is lost: no pending row is left, and every entity's scores reflect its newest event
  (the highest watermark of its scores equals the sequence of its last event);
- the final scores equal a from-scratch recompute of the source data;
- no history row is duplicated: no two rows for the same (entity, scorer) share both the
  watermark and the value written (a claim retaken after its lease, then written by both the
  slow worker and its successor, would produce exactly that).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import servers
import sqlalchemy as sa

from conftest import ToyPack, toy_items
from helpers import clean_env
from rescore.db.engine import Database
from rescore.db.schema import events, history, pending, scores
from rescore.engine import Engine
from rescore.plugins import PackRegistry
from rescore.scoring import evaluate
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database

WORKERS = 4
ENTITIES = 2_000
EVENTS = int(os.environ.get("KILL_EVENTS", 50_000))
BATCH = 500
LEASE = 300.0  # never reached: recovery is the heartbeats' job
DRAIN_WITHIN = 30.0
WORKER = Path(__file__).with_name("kill_worker.py")


class Workers:
    """WORKERS processes; ``kill_one`` SIGKILLs a random one and starts a replacement."""

    def __init__(self, url: str, log_dir: Path) -> None:
        self.url = url
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self.kills = 0

    def start(self) -> None:
        self.started += 1
        with (self.log_dir / f"worker-{self.started}.log").open("wb") as log:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, str(WORKER), self.url, str(LEASE)],
                    env=clean_env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def kill_one(self, rng: random.Random) -> None:
        victim = self.procs.pop(rng.randrange(len(self.procs)))
        victim.kill()
        victim.wait()
        self.kills += 1
        self.start()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def feed(engine: Engine, rng: random.Random) -> dict[str, tuple[int, int]]:
    """Change the source, then ingest the events announcing it; return the final source."""
    items = {f"e{i:05d}": (rng.randrange(101), rng.randrange(101)) for i in range(ENTITIES)}
    with engine.db.begin() as conn:
        conn.execute(
            toy_items.insert(), [{"key": k, "a": a, "b": b} for k, (a, b) in items.items()]
        )
    for start in range(0, EVENTS, BATCH):
        changed: dict[str, tuple[int, int]] = {}
        batch = []
        for n in range(start, start + BATCH):
            key = f"e{rng.randrange(ENTITIES):05d}"
            a, b = changed.get(key, items[key])
            kind = rng.choice(["a_changed", "b_changed", "b_changed"])
            if kind == "a_changed":
                a = rng.randrange(101)
            else:
                b = rng.randrange(101)
            changed[key] = (a, b)
            batch.append(
                {"event_id": f"k{n}", "type": kind, "entity": key, "occurred_at": "2026-01-23"}
            )
        with engine.db.begin() as conn:
            conn.execute(
                toy_items.update()
                .where(toy_items.c.key == sa.bindparam("k"))
                .values(a=sa.bindparam("a"), b=sa.bindparam("b")),
                [{"k": k, "a": a, "b": b} for k, (a, b) in changed.items()],
            )
        items.update(changed)
        engine.ingest(batch)
        time.sleep(0.15)
    return items


def wait_drained(engine: Engine, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.db.read() as conn:
            left = conn.execute(sa.select(sa.func.count()).select_from(pending)).scalar_one()
        if left == 0:
            return
        time.sleep(0.5)
    with engine.db.read() as conn:
        sample = conn.execute(sa.select(pending).limit(5)).all()
    raise AssertionError(f"{left} pending rows left after {timeout} s, e.g. {sample}")


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_random_kills_lose_nothing_and_duplicate_nothing(
    kind: str, make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    url = make_database(kind)
    settings = Settings(database_url=url, lease_seconds=LEASE, snapshot_cron="")
    engine = Engine(Database(url), PackRegistry([ToyPack()]), settings)
    try:
        drill(kind, engine, url, tmp_path)
    finally:  # a failure must not leave a connection for the next test's garbage collection
        engine.close()


def drill(kind: str, engine: Engine, url: str, tmp_path: Path) -> None:
    """Feed the events while killing workers, then check every score against the source."""
    engine.migrate()
    rng = random.Random(5)
    workers = Workers(url, tmp_path)
    for _ in range(WORKERS):
        workers.start()
    done = threading.Event()

    def killer() -> None:
        while not done.wait(1.0):
            workers.kill_one(rng)

    started = time.monotonic()
    chaos = threading.Thread(target=killer)
    chaos.start()
    try:
        try:
            source = feed(engine, random.Random(11))
            time.sleep(2.0)  # keep killing while the backlog drains
        finally:
            done.set()
            chaos.join()
        calm = time.monotonic()
        wait_drained(engine, timeout=DRAIN_WITHIN)
        drained = time.monotonic() - calm
    finally:
        workers.stop()
    elapsed = time.monotonic() - started
    print(
        f"{kind}: {EVENTS} events, {ENTITIES} entities, {workers.kills} kills, {elapsed:.1f} s; "
        f"drained {drained:.1f} s after the last kill"
    )
    assert workers.kills >= 10

    with engine.db.read() as conn:
        stored: dict[str, dict[str, tuple[float, int]]] = {}
        for row in conn.execute(sa.select(scores)):
            stored.setdefault(row.entity, {})[row.scorer] = (row.value, row.watermark)
        newest = dict(
            conn.execute(
                sa.select(events.c.entity, sa.func.max(events.c.seq)).group_by(events.c.entity)
            ).all()
        )
        duplicates = conn.execute(
            sa.select(history.c.entity, history.c.scorer, sa.func.count())
            .group_by(
                history.c.tenant,
                history.c.pack,
                history.c.entity,
                history.c.scorer,
                history.c.watermark,
                history.c.after_value,
            )
            .having(sa.func.count() > 1)
        ).all()
        total = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    assert total == EVENTS
    assert duplicates == []
    graph = engine.registry.graph("toy")
    for key, (a, b) in source.items():
        if key not in newest:
            continue  # no event ever named it
        expected = evaluate(graph, {"item": {"a": a, "b": b}}, graph.order, {})
        got = stored[key]
        assert {n: v for n, (v, _) in got.items()} == {n: r.value for n, r in expected.items()}, key
        assert max(w for _, w in got.values()) == newest[key], key
