"""The backup drill, shared by the SQLite and the server suites: back up while one thread
ingests events (and changes the source rows they announce) and the embedded runtime's workers
rescore, restore into a fresh database, and compare every table with the manifest.

What it proves beyond "the restore verified": the copy is one consistent moment of a
database under write load (every history row's causing events are in the copy, no score
reflects an event the copy lacks) taken in the middle of the load (events were stored both
before and after it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from conftest import ToyPack, event, put_items
from rescore.backup import Backup, Restored, backup, restore
from rescore.db.dump import dumper_for, parse_url
from rescore.db.engine import Database
from rescore.db.schema import events, history, pending, scores
from rescore.engine import Engine
from rescore.plugins import PackRegistry
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.settings import Settings

__all__ = ["DrillResult", "run_drill"]

ITEMS = 300


@dataclass(frozen=True, kw_only=True)
class DrillResult:
    made: Backup
    restored: Restored
    events_before: int
    events_after: int


class _Load(threading.Thread):
    """Ingests batches of events without pause, each after the source change it announces."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="drill-load", daemon=True)
        self.engine = engine
        self.stop = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self._batch()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _batch(self) -> None:
        keys = [f"k{(self.sent + i) % ITEMS}" for i in range(20)]
        put_items(self.engine, **dict.fromkeys(keys[:5], (self.sent % 97, self.sent % 89)))
        kinds = ["a_changed", "b_changed", "b_changed", "noted"]
        batch = [event(f"load-{self.sent + i}", kinds[i % 4], key) for i, key in enumerate(keys)]
        self.engine.ingest(batch)
        self.sent += len(batch)


def _engine(url: str) -> Engine:
    settings = Settings(database_url=url, flush_interval=0.05, poll_interval=0.05)
    engine = Engine(Database(url), PackRegistry([ToyPack()]), settings)
    engine.migrate()
    return engine


def _count(engine: Engine) -> int:
    with engine.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


def run_drill(source_url: str, target_url: str, out: Path, *, seconds: float = 1.5) -> DrillResult:
    """The drill; raises if anything does not hold."""
    engine = _engine(source_url)
    put_items(engine, **{f"k{i}": (i % 100, i % 50) for i in range(ITEMS)})
    engine.ingest([event(f"seed-{i}", "a_changed", f"k{i}") for i in range(ITEMS)])
    load = _Load(engine)
    try:
        with EmbeddedRuntime(engine):
            load.start()
            time.sleep(seconds / 2)
            before = _count(engine)
            made = backup(source_url, out)
            time.sleep(seconds / 2)
            load.stop.set()
            load.join(30)
        after = _count(engine)
    finally:
        load.stop.set()
        engine.close()
    assert load.error is None, f"the load thread failed: {load.error!r}"
    restored = restore(made.path, target_url)
    _check_restored(made, target_url)
    return DrillResult(made=made, restored=restored, events_before=before, events_after=after)


def _check_restored(made: Backup, target_url: str) -> None:
    """Every table equals the manifest, counted again here; and the copy is consistent."""
    dumper = dumper_for(parse_url(target_url).get_backend_name())
    assert dumper.sums(parse_url(target_url), lambda _m: None) == made.manifest.tables
    db = Database(target_url, create=False)
    try:
        with db.read() as conn:
            for table in (events, history, pending, scores):
                found = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                assert found == made.manifest.tables[table.name].rows, table.name
            _check_consistent(conn)
    finally:
        db.dispose()


def _check_consistent(conn: sa.Connection) -> None:
    top = conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one()
    stored = set(conn.execute(sa.select(events.c.event_id)).scalars())
    for (ids,) in conn.execute(sa.select(history.c.event_ids)):
        assert set(ids) <= stored, f"history names events the copy lacks: {set(ids) - stored}"
    for table in (scores, pending):
        newest = conn.execute(sa.select(sa.func.max(table.c.watermark))).scalar_one()
        assert newest is None or newest <= top, f"{table.name} reflects events after the copy"
