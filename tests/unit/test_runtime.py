"""The embedded runtime: critical work runs at once, normal work on interval or size."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import Clock, ToyPack, event, make_engine, put_items
from rescore.db.schema import pending
from rescore.engine import Engine, Observer, Outcome
from rescore.exceptions import EntityNotFound, PluginError
from rescore.routing import Lane
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.schedule import Schedule


def wait_until(predicate: object, timeout: float = 10.0) -> float:
    """Seconds until ``predicate()`` holds; fails the test after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.005)
    raise AssertionError(f"condition not met within {timeout} s")


def scored(engine: Engine, entity: str) -> bool:
    try:
        engine.current("toy", entity)
    except EntityNotFound:
        return False
    return True


def test_critical_event_is_rescored_without_polling_delay(tmp_path: Path) -> None:
    # Polls and flushes are an hour apart: only the wake-up can make this fast.
    engine = make_engine(tmp_path / "rt.db", poll_interval=3600, flush_interval=3600)
    put_items(engine, x=(10, 20))
    with EmbeddedRuntime(engine):
        time.sleep(0.1)  # let the workers settle into their waits
        engine.ingest([event("e1", "a_changed", "x")])
        assert wait_until(lambda: scored(engine, "x")) < 2.0
    engine.close()


def test_normal_lane_waits_for_its_flush_interval(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "rt.db", poll_interval=0.05, flush_interval=0.6)
    put_items(engine, y=(1, 2))
    with EmbeddedRuntime(engine):
        time.sleep(0.7)  # a flush just happened with nothing to do
        engine.ingest([event("e1", "b_changed", "y")])
        time.sleep(0.2)
        assert not scored(engine, "y"), "normal work must wait for the flush"
        waited = wait_until(lambda: scored(engine, "y"))
        assert waited < 1.5
    engine.close()


def test_normal_lane_flushes_early_when_it_passes_its_size(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "rt.db", poll_interval=3600, flush_interval=3600, flush_size=3)
    put_items(engine, a=(1, 1), b=(2, 2), c=(3, 3))
    with EmbeddedRuntime(engine):
        time.sleep(0.1)
        engine.ingest([event("e1", "b_changed", "a"), event("e2", "b_changed", "b")])
        time.sleep(0.3)
        assert not scored(engine, "a"), "below the size: still waiting"
        engine.ingest([event("e3", "b_changed", "c")])
        wait_until(lambda: all(scored(engine, k) for k in "abc"), timeout=5)
    engine.close()


def test_a_running_runtime_is_alive_after_its_packs_are_prepared(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "rt.db", poll_interval=3600, flush_interval=3600)
    with EmbeddedRuntime(engine) as runtime:
        for prepare in [t for t in threading.enumerate() if t.name == "rescore-prepare"]:
            prepare.join(10)
        assert runtime.alive, "the loops still run once preparing ends: /readyz must not 503"
    assert not runtime.alive
    engine.close()


def test_stop_releases_claimed_work(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "rt.db", poll_interval=3600, flush_interval=3600)
    runtime = EmbeddedRuntime(engine, name="me")
    runtime.start()
    engine.ingest([event("e1", "b_changed", "z")])
    with engine.db.begin() as conn:  # work claimed in the runtime's name, as if mid-batch
        engine.queue.claim(conn, "me-normal", engine.clock(), lane=None, limit=5)
    runtime.stop()
    assert not runtime.alive
    with engine.db.read() as conn:
        assert conn.execute(sa.select(pending.c.state)).scalars().all() == ["waiting"]
    engine.close()


def test_drain_all_processes_everything(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "rt.db")
    put_items(engine, x=(1, 1), y=(2, 2))
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "b_changed", "y")])
    EmbeddedRuntime(engine).drain_all()
    assert scored(engine, "x")
    assert scored(engine, "y")
    engine.close()


def test_schedules_run_when_due_and_failures_do_not_stop_them(tmp_path: Path) -> None:
    ran: list[str] = []

    def flaky(engine: Engine, due: datetime) -> None:
        ran.append("flaky")
        raise RuntimeError("boom")

    class Scheduled(ToyPack):
        def register_schedules(self) -> Sequence[Schedule]:
            return [
                Schedule(name="toy.tick", cron="* * * * *", run=lambda e, due: ran.append("tick")),
                Schedule(name="toy.flaky", cron="* * * * *", run=flaky),
            ]

    clock = Clock()
    clock.advance(20)  # 10:30:20: the 10:30 tick was due before the runtime started
    engine = make_engine(tmp_path / "rt.db", [Scheduled()], clock=clock, poll_interval=0.05)
    with EmbeddedRuntime(engine) as runtime:
        time.sleep(0.3)
        assert ran == []  # a fresh scheduler does not run ticks older than itself
        clock.advance(60)  # 10:31:20
        wait_until(lambda: ran.count("tick") == 1 and ran.count("flaky") == 1)
        time.sleep(0.3)
        assert ran.count("tick") == 1  # once per tick
    assert ("toy.flaky", False) in runtime.job_runs
    assert ("toy.tick", True) in runtime.job_runs
    runs = {r["name"]: r for r in engine.schedule_runs()}
    assert runs["toy.flaky"]["ok"] is False
    assert "boom" in runs["toy.flaky"]["error"]
    engine.close()


def test_a_cron_schedule_is_due_in_its_time_zone() -> None:
    job = Schedule(name="nightly", cron="0 9 * * *", timezone="America/Bogota", run=print)
    # 09:00 in Bogota (UTC-5) is 14:00 UTC
    assert job.next_run(datetime(2026, 1, 23, 13, 0, tzinfo=UTC)) == datetime(
        2026, 1, 23, 14, 0, tzinfo=UTC
    )
    assert job.latest(datetime(2026, 1, 23, 14, 0, tzinfo=UTC)) == datetime(
        2026, 1, 23, 14, 0, tzinfo=UTC
    )
    assert job.latest(datetime(2026, 1, 23, 13, 59, tzinfo=UTC)) == datetime(
        2026, 1, 22, 14, 0, tzinfo=UTC
    )
    with pytest.raises(PluginError, match="cron"):
        Schedule(name="bad", cron="every day", run=print)
    with pytest.raises(PluginError, match="IANA"):
        Schedule(name="bad", cron="0 9 * * *", timezone="Mars/Olympus", run=print)


def test_the_normal_flush_goes_in_slices_and_yields_to_critical_work(tmp_path: Path) -> None:
    sizes: list[int] = []

    class Sizes(Observer):
        def recomputed(self, outcomes: Sequence[Outcome]) -> None:
            sizes.append(len(outcomes))

    engine = make_engine(tmp_path / "rt.db", flush_slice=10, poll_interval=30.0)
    engine.observers.append(Sizes())
    put_items(engine, **{f"n{i}": (1, 1) for i in range(35)})
    engine.ingest([event(f"b{i}", "b_changed", f"n{i}") for i in range(35)])
    runtime = EmbeddedRuntime(engine)
    runtime._critical_idle.clear()  # as while the critical worker rescores
    flush = threading.Thread(target=runtime._drain, args=(Lane.NORMAL,))
    flush.start()
    time.sleep(0.2)
    assert sizes == []  # the flush waits for the critical work
    runtime._critical_idle.set()
    flush.join(5)
    assert sizes == [10, 10, 10, 5]  # one claim and one write per slice
    engine.close()


def test_settle_freezes_what_start_up_left_so_full_collections_skip_it() -> None:
    import gc

    from rescore.heap import settle

    try:
        frozen = settle()
        assert frozen == gc.get_freeze_count()
        assert frozen > 10_000  # the interpreter, the test run and rescore's modules
        assert gc.isenabled()  # collection goes on, for objects made from now on
    finally:
        gc.unfreeze()
