"""Celery workers on a real broker (RabbitMQ and Redis): critical work runs at once, normal
work on beat's flush, and a worker killed mid-run (SIGKILL, its whole process group) loses
nothing: after a restart every event is reflected and no pending row is left. The claim lease
is 300 s: the killed worker's claims come back through the heartbeats (pruned once 3 s stale,
or taken back by a process of this host at start), within a minute of the kill."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import servers
import sqlalchemy as sa

from helpers import RESCORE, clean_env, need_service, run
from rescore.db.schema import events, history, pending, scores

pytestmark = pytest.mark.integration

make_database = servers.make_database

BROKERS = {
    "rabbitmq": ("RabbitMQ", 5672, "amqp://guest:guest@127.0.0.1:5672//"),
    "redis": ("Redis", 6379, "redis://127.0.0.1:6379/11"),
}
EVENTS = 3_000


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*RESCORE, *args],
            cwd=log.parent,
            env=clean_env(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a kill takes the worker and its pool children
        )


def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    proc.wait(timeout=60)


def purge(broker_url: str) -> None:
    from celery import Celery

    app = Celery(broker=broker_url, set_as_current=False)
    with app.connection_for_write() as conn:
        for queue in ("critical", "normal"):
            channel = conn.channel()
            try:
                channel.queue_purge(queue)
            except Exception:
                channel = conn.channel()  # a queue not declared yet: nothing to purge
            channel.close()


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def pending_rows(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(pending)).scalar_one()
    engine.dispose()
    return int(count)


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_celery_workers_survive_a_kill(
    broker: str, make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    label, port, broker_url = BROKERS[broker]
    need_service(label, port)
    url = make_database("postgresql")
    env = {
        "RESCORE_DATABASE_URL": url,
        "RESCORE_BROKER_URL": broker_url,
        "RESCORE_PACKS": "credit",
        "RESCORE_LEASE_SECONDS": "300",
        "RESCORE_WORKER_STALE_AFTER": "3",
        "RESCORE_HEARTBEAT_INTERVAL": "0.5",
        "RESCORE_FLUSH_INTERVAL": "0.5",
        "RESCORE_BATCH_SIZE": "100",
        "RESCORE_SNAPSHOT_CRON": "",
    }
    run("init", "--demo-data", "--seed", "2", cwd=tmp_path, env=env)
    purge(broker_url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        cedulas = list(conn.execute(sa.text("SELECT cedula FROM clients")).scalars())
    procs = [start(["worker", "--celery"], env, tmp_path / f"w{n}.log") for n in range(2)]
    beat = start(["worker", "--celery", "--beat"], env, tmp_path / "beat.log")
    try:
        # critical: rescored by a worker with no beat flush needed
        one = [
            {
                "event_id": "c-0",
                "type": "client_default",
                "entity": cedulas[0],
                "occurred_at": "2026-01-23T10:30:00Z",
            }
        ]
        (tmp_path / "one.jsonl").write_text(json.dumps(one[0]) + "\n")
        run("ingest", "one.jsonl", cwd=tmp_path, env=env)
        wait_for(lambda: pending_rows(url) == 0, 60, "the critical event")

        rng = random.Random(3)
        lines = [
            json.dumps(
                {
                    "event_id": f"n-{i}",
                    "type": "client_default" if i % 10 == 0 else "payment_made",
                    "entity": rng.choice(cedulas),
                    "occurred_at": "2026-01-23T10:30:00Z",
                }
            )
            for i in range(EVENTS)
        ]
        half = EVENTS // 2
        (tmp_path / "a.jsonl").write_text("\n".join(lines[:half]) + "\n")
        (tmp_path / "b.jsonl").write_text("\n".join(lines[half:]) + "\n")
        run("ingest", "a.jsonl", cwd=tmp_path, env=env)
        time.sleep(0.5)
        kill(procs.pop(0))  # mid-run, holding claims and an unacked message
        killed = time.monotonic()
        run("ingest", "b.jsonl", cwd=tmp_path, env=env)
        procs.append(start(["worker", "--celery"], env, tmp_path / "w2.log"))
        wait_for(lambda: pending_rows(url) == 0, 60, "every pending row")
        print(f"{broker}: drained {time.monotonic() - killed:.1f} s after the kill")
    finally:
        for proc in [*procs, beat]:
            kill(proc, signal.SIGTERM)
    # each worker process loaded the PD model as it started, not on its first task
    assert "packs prepared in" in (tmp_path / "w1.log").read_text()

    with engine.connect() as conn:
        newest = dict(
            conn.execute(
                sa.select(events.c.entity, sa.func.max(events.c.seq)).group_by(events.c.entity)
            ).all()
        )
        reflected = dict(
            conn.execute(
                sa.select(scores.c.entity, sa.func.max(scores.c.watermark)).group_by(
                    scores.c.entity
                )
            ).all()
        )
        duplicates = conn.execute(
            sa.select(history.c.entity)
            .group_by(
                history.c.entity, history.c.scorer, history.c.watermark, history.c.after_value
            )
            .having(sa.func.count() > 1)
        ).all()
    engine.dispose()
    assert len(newest) > 1000
    assert {e: reflected.get(e) for e in newest} == newest
    assert duplicates == []
