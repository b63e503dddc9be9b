"""Helpers for testing a pack: an engine on a scratch SQLite file, a clock you move by hand, and
the scorer contract every registered scorer must keep.

A pack author's test, with pytest::

    from rescore.testing import ManualClock, drain, scratch_engine

    def test_a_default_lowers_the_score(tmp_path):
        clock = ManualClock()
        with scratch_engine([MyPack()], tmp_path / "t.db", clock=clock) as engine:
            with engine.source.begin() as conn:      # the pack's own source tables
                conn.execute(my_clients.insert().values(key="c1", ...))
            engine.ingest([{"event_id": "e1", "type": "client_default", "entity": "c1",
                            "occurred_at": "2026-01-23T10:30:00Z"}])
            drain(engine)
            assert engine.current("mypack", "c1")["score"].value < 500

The engine is the real one (real SQLite, real migrations, the same write path as production),
so what passes here behaves the same way embedded or distributed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rescore.db.engine import Database
from rescore.engine import BatchReport, Engine, utcnow
from rescore.plugins import Pack, PackRegistry
from rescore.scoring import Inputs, ScorerGraph, check_result, evaluate
from rescore.settings import Settings

__all__ = ["ManualClock", "check_scorers", "drain", "scratch_engine"]


class ManualClock:
    """A clock that stands still until a test moves it (retries, leases, ``as_of``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 23, 10, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def scratch_engine(
    packs: Sequence[Pack], path: Path, *, clock: ManualClock | None = None, **settings: Any
) -> Iterator[Engine]:
    """A migrated engine on the SQLite file ``path`` with only ``packs`` loaded (their source
    tables created), no workers and no adapters; ``settings`` override :class:`Settings`
    (notifications to unconfigured channels go to an ``inbox`` folder beside ``path``)."""
    url = f"sqlite:///{path}"
    engine = Engine(
        Database(url),
        PackRegistry(packs),
        Settings(database_url=url, **({"channel_dir": path.parent / "inbox"} | settings)),
        clock=clock or utcnow,
    )
    try:
        engine.migrate()
        yield engine
    finally:
        engine.close()


def drain(engine: Engine, worker: str = "test") -> list[BatchReport]:
    """Process every pending entity now, in this thread, as a worker would."""
    reports: list[BatchReport] = []
    while True:
        report = engine.work(worker)
        if not report.claimed:
            return reports
        reports.append(report)


def check_scorers(graph: ScorerGraph, inputs: Inputs) -> None:
    """The contract, for one entity's inputs: every scorer runs, stays in its range, adds its
    components up to its value and gives the same result twice. Raises on a breach."""
    first = evaluate(graph, inputs)
    again = evaluate(graph, inputs)
    for name in graph.order:
        result = check_result(graph[name], first[name])
        if not graph[name].min_value <= result.value <= graph[name].max_value:
            raise AssertionError(f"{name} = {result.value} is outside its range")
        if again[name] != result:
            raise AssertionError(f"{name} is not deterministic: {result} then {again[name]}")
