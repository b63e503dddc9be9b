"""Crash recovery: workers beat in the database; a dead or stalled one is pruned and its claims
are given back within seconds, not after the claim lease; lag counts claimed work by age."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import Clock, event, make_engine, put_items
from rescore.db.schema import pending, workers
from rescore.engine import Engine
from rescore.exceptions import ConfigurationError
from rescore.routing import Lane
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.runtime.heartbeat import Heartbeat, pid_alive
from rescore.settings import settings_from

HOST = socket.gethostname()


def dead_pid() -> int:
    """The pid of a process of this host that has exited (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def queue_critical(engine: Engine, count: int) -> list[str]:
    keys = [f"k{i:03d}" for i in range(count)]
    put_items(engine, **dict.fromkeys(keys, (10, 20)))
    engine.ingest([event(f"e-{k}", "a_changed", k) for k in keys])
    return keys


def claim_as(engine: Engine, worker: str, *, process: str, pid: int, host: str = HOST) -> int:
    """Register ``worker`` for a process and claim every critical row for it, as a worker
    that is then killed (or stalls) with the claims in hand."""
    engine.register_workers(process=process, host=host, pid=pid, names=[worker])
    with engine.db.begin() as conn:
        return len(engine.queue.claim(conn, worker, engine.clock(), lane=Lane.CRITICAL, limit=999))


def claimed_by(engine: Engine) -> dict[str | None, int]:
    with engine.db.read() as conn:
        query = sa.select(pending.c.claimed_by, sa.func.count()).group_by(pending.c.claimed_by)
        return {k: n for k, n in conn.execute(query)}  # noqa: C416


@pytest.fixture
def live(engine: Engine) -> Iterator[Heartbeat]:
    heartbeat = Heartbeat(engine, process="live")
    heartbeat.claimant("critical")
    yield heartbeat
    heartbeat.stop()


def test_lag_counts_work_claimed_by_a_dead_worker(engine: Engine, clock: Clock) -> None:
    queue_critical(engine, 3)
    assert claim_as(engine, "ghost-critical", process="ghost", pid=1, host="elsewhere") == 3
    clock.advance(6)
    assert engine.lane_lag()["critical"] == 6.0, "claimed work is work not done"


def test_dead_letters_and_retry_backoff_do_not_count_as_lag(engine: Engine, clock: Clock) -> None:
    put_items(engine, bad=(-1, 0))
    engine.ingest([event("e1", "a_changed", "bad")])
    engine.work("w", Lane.CRITICAL)  # fails: retried after a 10 s backoff
    clock.advance(6)
    assert engine.lane_lag()["critical"] == 0.0, "not due yet: a retry in backoff is not lag"
    clock.advance(5)
    assert engine.lane_lag()["critical"] == 1.0, "due and not picked up: that is lag"
    engine.ingest([event("e2", "a_changed", "nobody")])
    engine.work("w", only=[("default", "toy", "nobody")])
    assert engine.pending_counts()["dead"] == 1
    clock.advance(60)
    assert engine.lane_lag()["critical"] == 61.0  # only the retrying row, never the dead one


def test_a_stalled_worker_is_pruned_and_its_claims_given_back(
    engine: Engine, clock: Clock, live: Heartbeat
) -> None:
    keys = queue_critical(engine, 5)
    live.start()
    claim_as(engine, "ghost-critical", process="ghost", pid=1, host="elsewhere")
    clock.advance(engine.settings.worker_stale_after - 1)
    live.beat()
    assert claimed_by(engine) == {"ghost-critical": 5}, "not stale yet: left alone"
    clock.advance(2)
    live.beat()
    assert claimed_by(engine) == {None: 5}
    assert live.taken_back == 5
    with engine.db.read() as conn:
        assert sorted(conn.execute(sa.select(workers.c.process)).scalars()) == ["live"]
    report = engine.work(live.claimant("critical"), Lane.CRITICAL)
    assert sorted(o.entity for o in report.outcomes) == keys


def test_a_worker_that_beats_keeps_its_claims(engine: Engine, clock: Clock) -> None:
    queue_critical(engine, 2)
    first = Heartbeat(engine, process="first")
    worker = first.claimant("critical")
    first.start()
    with engine.db.begin() as conn:
        engine.queue.claim(conn, worker, clock(), lane=Lane.CRITICAL, limit=10)
    other = Heartbeat(engine, process="other")
    other.start()
    for _ in range(5):  # 20 s pass, both beat every 4 s: nobody is stale
        clock.advance(4)
        first.beat()
        other.beat()
    assert claimed_by(engine) == {worker: 2}
    other.stop()
    first.stop()


def test_a_restart_takes_back_its_dead_predecessors_claims_at_once(engine: Engine) -> None:
    queue_critical(engine, 4)
    pid = dead_pid()
    assert not pid_alive(pid)
    claim_as(engine, "old-critical", process="old", pid=pid)
    heartbeat = Heartbeat(engine, process="new")
    heartbeat.start()  # no time passes: the pid is gone, so is the worker
    assert claimed_by(engine) == {None: 4}
    assert heartbeat.taken_back == 4
    heartbeat.stop()


def test_a_predecessor_with_this_very_pid_is_dead(engine: Engine) -> None:
    queue_critical(engine, 2)
    claim_as(engine, "same-pid-critical", process="same-pid", pid=os.getpid())
    heartbeat = Heartbeat(engine, process="me")
    heartbeat.start()
    assert claimed_by(engine) == {None: 2}
    heartbeat.stop()


def test_a_live_process_of_this_host_is_left_alone(engine: Engine) -> None:
    queue_critical(engine, 2)
    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        claim_as(engine, "sibling-critical", process="sibling", pid=sibling.pid)
        heartbeat = Heartbeat(engine, process="me")
        heartbeat.start()
        assert claimed_by(engine) == {"sibling-critical": 2}
        heartbeat.stop()
    finally:
        sibling.kill()
        sibling.wait()


def test_a_worker_pruned_while_stalled_registers_again(engine: Engine, clock: Clock) -> None:
    slow = Heartbeat(engine, process="slow")
    slow.claimant("critical")
    slow.start()
    clock.advance(engine.settings.worker_stale_after + 1)
    engine.prune_workers(stalled_after=engine.settings.worker_stale_after)
    with engine.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(workers)).scalar() == 0
    slow.beat()
    with engine.db.read() as conn:
        assert list(conn.execute(sa.select(workers.c.name)).scalars()) == ["slow-critical"]
    slow.stop()
    with engine.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(workers)).scalar() == 0


def test_a_restarted_runtime_rescores_the_dead_ones_critical_work_at_once(
    tmp_path: Path,
) -> None:
    engine = make_engine(tmp_path / "r.db", poll_interval=30.0, snapshot_cron="")
    keys = queue_critical(engine, 50)
    claim_as(engine, "dead-critical", process="dead", pid=dead_pid())
    started = time.monotonic()
    with EmbeddedRuntime(engine):  # polls every 30 s: only the take-back can wake it
        while engine.pending_counts()["critical"] and time.monotonic() - started < 20:
            time.sleep(0.01)
        elapsed = time.monotonic() - started
    assert engine.pending_counts()["critical"] == 0
    # well before the first poll (30 s): about 1-2 s, more on a slow or busy machine
    assert elapsed < 10.0, f"took {elapsed:.2f} s"
    assert {k for k in keys if engine.current("toy", k)} == set(keys)
    engine.close()


def test_a_stall_threshold_within_two_heartbeats_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"--worker-stale-after: .*heartbeat"):
        settings_from({"heartbeat_interval": 2.0, "worker_stale_after": 3.0})
    assert settings_from({"worker_stale_after": 4.5}).worker_stale_after == 4.5
