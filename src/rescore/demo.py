"""``rescore demo``: the credit pack end to end on an embedded SQLite file.

It creates the demo clients, scores them all, starts the embedded runtime and replays a
business day (payments, late payments, defaults, new payment plans...) through the engine at a
steady rate, showing live which clients were rescored, by how much and why, and the
event-to-fresh-score latency of each lane. It ends by itself with a summary.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from sqlalchemy.engine import make_url

from rescore.bootstrap import open_engine
from rescore.engine import Engine, IngestResult, Observer, Outcome
from rescore.exceptions import ConfigurationError
from rescore.routing import Lane
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.settings import Settings
from rescore.stats import percentile

__all__ = [
    "DEMO_DATABASE_URL",
    "DemoOptions",
    "DemoRecorder",
    "is_demo_database",
    "percentile",
    "prepare_pack",
    "run_demo",
]

PACK = "credit"
DEMO_DATABASE_URL = "sqlite:///.rescore/demo.db"
#: SQLite's application_id of a database the demo created ("rscd").
DEMO_MARK = 0x72736364
HEADLINE = "hybrid"


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoOptions:
    database_url: str
    seed: int = 7
    clients: int = 1870
    events: int = 2000
    rate: float = 200.0
    flush_interval: float = 1.0
    keep_running: bool = False
    fresh: bool = True


class DemoRecorder(Observer):
    """Collects what the runtime did, for the live view and the summary. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency_ms: dict[Lane, list[float]] = {Lane.CRITICAL: [], Lane.NORMAL: []}
        self.events: Counter[str] = Counter()
        self.lanes: Counter[str] = Counter()
        self.recomputes: Counter[Lane] = Counter()
        self.recent: deque[Outcome] = deque(maxlen=12)
        self.movers: list[Outcome] = []
        self.firings: Counter[tuple[str, str]] = Counter()

    def ingested(self, result: IngestResult) -> None:
        with self.lock:
            for event in result.events:
                self.events[event.type] += 1
                self.lanes[event.lane] += 1

    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        with self.lock:
            for outcome in outcomes:
                if outcome.lane is None:
                    continue  # the initial population scoring, not a lane's work
                self.recomputes[outcome.lane] += 1
                for cause in outcome.causes:  # a normal event can ride a critical recompute
                    waited = outcome.committed_at - cause.received_at
                    self.latency_ms[cause.lane].append(waited.total_seconds() * 1000)
                if outcome.changes:
                    self.recent.appendleft(outcome)
                    self.movers.append(outcome)

    def fired(self, firings: Sequence[tuple[str, str]]) -> None:
        with self.lock:
            self.firings.update(firings)


def _headline(outcome: Outcome) -> tuple[float | None, float]:
    for change in outcome.changes:
        if change.scorer == HEADLINE:
            return change.before, change.after
    return None, math.nan


def _why(outcome: Outcome) -> str:
    """The sub-score that moved most, e.g. ``payment_plan -45``."""
    subs = [
        c for c in outcome.changes if c.scorer not in ("platam", HEADLINE) and c.before is not None
    ]
    if not subs:
        return ""
    top = max(subs, key=lambda c: abs(c.delta))
    return f"{top.scorer} {top.delta:+.0f}"


def _recent_table(recorder: DemoRecorder) -> Table:
    """Newest first; call with ``recorder.lock`` held."""
    table = Table(title="recently rescored clients", expand=True)
    for column in ("lane", "cédula", "events", f"{HEADLINE} score", "moved most", "latency"):
        table.add_column(column)
    for o in list(recorder.recent):
        before, after = _headline(o)
        types = Counter(c.type for c in o.causes)
        label = ", ".join(f"{t}×{n}" if n > 1 else t for t, n in types.items())
        score = f"{before:.0f} → {after:.0f} ({after - before:+.0f})" if before is not None else ""
        waited = max((o.committed_at - c.received_at).total_seconds() * 1000 for c in o.causes)
        style = "red" if o.lane is Lane.CRITICAL else ""
        table.add_row(str(o.lane), o.entity, label, score, _why(o), f"{waited:.0f} ms", style=style)
    return table


def _latency_table(recorder: DemoRecorder) -> Table:
    table = Table(
        title="event → fresh score latency (ms), by the event's lane",
        caption=f"none lane: {recorder.lanes['none']} events recorded, never rescored",
    )
    for column in ("lane", "events", "recomputes", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    for lane in (Lane.CRITICAL, Lane.NORMAL):
        values = recorder.latency_ms[lane]
        cells = [f"{percentile(values, q):.1f}" for q in (50, 95, 99, 100)]
        table.add_row(str(lane), str(len(values)), str(recorder.recomputes[lane]), *cells)
    return table


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "")


def is_demo_database(path: Path) -> bool:
    """True when ``path`` is a SQLite file the demo created (it carries the demo's mark)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            mark = conn.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError:
            return False  # not SQLite at all: certainly not ours
    return bool(mark == DEMO_MARK)


def _fresh_database(url: str) -> None:
    """Remove the previous demo database, and only a demo database: any other file at that
    path is the user's, so the demo refuses rather than deleting it."""
    path = _sqlite_path(url)
    if path is None or not path.exists():
        return
    if not is_demo_database(path):
        raise ConfigurationError(
            f"{path} exists and is not a rescore demo database; the demo never deletes a "
            f"database it did not create: pass another file, e.g. --database-url "
            f"{DEMO_DATABASE_URL}, or --keep-data to add the demo to it"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _mark_demo_database(url: str) -> None:
    """Stamp a SQLite file the demo created, so a later demo may replace it."""
    path = _sqlite_path(url)
    if path is not None:
        with closing(sqlite3.connect(path)) as conn:
            conn.execute(f"PRAGMA application_id = {DEMO_MARK}")


def run_demo(options: DemoOptions, console: Console) -> DemoRecorder:
    """Run the demo and print its summary; returns what was recorded (tests read it)."""
    created = options.fresh and _sqlite_path(options.database_url) is not None
    if options.fresh:
        _fresh_database(options.database_url)
    settings = Settings(
        database_url=options.database_url, flush_interval=options.flush_interval, packs=[PACK]
    )
    recorder = DemoRecorder()
    engine = open_engine(settings, observers=[recorder], create=True)
    try:
        engine.migrate()
        if created:
            _mark_demo_database(options.database_url)
        prepare_pack(engine, PACK, console, seed=options.seed, size=options.clients)
        with EmbeddedRuntime(engine) as runtime:
            _replay(engine, options, recorder, console)
            _wait_for_queue(engine, runtime, console)
        _summary(engine, options, recorder, console)
    finally:
        engine.close()
    return recorder


def prepare_pack(
    engine: Engine, pack: str, console: Console, *, seed: int, size: int | None = None
) -> None:
    """Fill an empty pack source with its demo data, then score every entity."""
    plugin = engine.registry[pack]
    label = plugin.entity_label
    if not any(True for _ in engine.entity_keys(pack)):
        started = time.perf_counter()
        with engine.source.begin() as conn:
            count = plugin.generate_demo_data(conn, seed=seed, size=size)
        elapsed = time.perf_counter() - started
        console.print(f"{pack}: created {count} demo entities ({label}) in {elapsed:.2f} s")
    keys = list(engine.entity_keys(pack))
    started = time.perf_counter()
    with console.status(f"{pack}: scoring all {len(keys)}..."):
        for start in range(0, len(keys), engine.settings.batch_size):
            engine.recompute(pack, keys[start : start + engine.settings.batch_size])
    elapsed = time.perf_counter() - started
    rate = len(keys) / elapsed if elapsed else 0.0
    console.print(f"{pack}: scored {len(keys)} in {elapsed:.2f} s ({rate:,.0f}/s)")


def _replay(engine: Engine, options: DemoOptions, recorder: DemoRecorder, console: Console) -> None:
    simulator = engine.registry[PACK].simulator(options.seed)
    total = "until Ctrl-C" if options.keep_running else f"{options.events} events"
    console.print(
        f"replaying {total} at up to {options.rate:.0f}/s; the normal lane flushes every "
        f"{options.flush_interval:g} s, critical events are rescored at once"
    )
    started = time.perf_counter()
    sent = 0
    with Live(console=console, refresh_per_second=4, transient=not console.is_terminal) as live:
        shown = started
        try:
            while options.keep_running or sent < options.events:
                with engine.source.begin() as conn:
                    event = simulator.step(conn)
                engine.ingest([event])
                sent += 1
                _pace(started, sent, options.rate)
                if time.perf_counter() - shown >= 1.0:
                    shown = time.perf_counter()
                    _show(live, console, recorder, sent, shown - started)
        except KeyboardInterrupt:
            console.print("stopping: letting the queue drain")
    elapsed = time.perf_counter() - started
    console.print(f"replayed {sent} events in {elapsed:.1f} s ({sent / elapsed:,.0f}/s)")


def _show(live: Live, console: Console, recorder: DemoRecorder, sent: int, elapsed: float) -> None:
    """Live tables on a terminal; one line a second (sent, latest mover) anywhere else."""
    with recorder.lock:
        if console.is_terminal:
            live.update(Group(_recent_table(recorder), _latency_table(recorder)))
            return
        latest = recorder.recent[0] if recorder.recent else None
        critical = percentile(recorder.latency_ms[Lane.CRITICAL], 50)
    line = f"{elapsed:4.0f} s {sent:6} sent, critical p50 {critical:4.1f} ms"
    if latest is not None:
        before, after = _headline(latest)
        causes = ",".join(sorted({c.type for c in latest.causes}))
        if before is not None:
            line += f" | {latest.entity} {before:.0f}→{after:.0f} {causes}"
    console.print(line, highlight=False)


def _pace(started: float, sent: int, rate: float) -> None:
    ahead = started + sent / rate - time.perf_counter()
    if ahead > 0:
        time.sleep(ahead)


def _wait_for_queue(engine: Engine, runtime: EmbeddedRuntime, console: Console) -> None:
    """Until every entity is rescored and every notification its rules fired is delivered."""
    deadline = time.monotonic() + engine.settings.flush_interval * 5 + 30
    while time.monotonic() < deadline:
        counts = engine.pending_counts(tenant=None)
        waiting = engine.delivery_counts(tenant=engine.settings.tenant).get("pending", 0)
        if counts["critical"] == 0 and counts["normal"] == 0 and not waiting:
            return
        time.sleep(0.05)
    console.print("[yellow]the queue did not drain in time; run `rescore worker` to finish[/]")


def _automations(
    engine: Engine, options: DemoOptions, recorder: DemoRecorder, console: Console
) -> None:
    """What the automation rules fired during the replay, and where their messages went."""
    with recorder.lock:
        fired = dict(recorder.firings)
    if not fired:
        return
    table = Table(title="automation rules fired")
    for column in ("rule", "fired", "throttled"):
        table.add_column(column)
    for rule in sorted({r for r, _ in fired}):
        table.add_row(
            rule, str(fired.get((rule, "fired"), 0)), str(fired.get((rule, "throttled"), 0))
        )
    console.print(table)
    sent = engine.deliveries(tenant=engine.settings.tenant, status="sent", limit=1)
    where = sent[0]["message"].get("via", "") if sent else ""
    counts = engine.delivery_counts(tenant=engine.settings.tenant)
    console.print(
        f"deliveries: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}"
        + (f"; the latest went to {where.removeprefix('file:')}" if where else ""),
        soft_wrap=True,
    )
    console.print(
        f"see them: [bold]rescore --database-url {options.database_url} automations "
        "deliveries[/bold]",
        soft_wrap=True,
    )


def _summary(
    engine: Engine, options: DemoOptions, recorder: DemoRecorder, console: Console
) -> None:
    console.print(_latency_table(recorder))
    drops = sorted(recorder.movers, key=lambda o: _headline(o)[1] - (_headline(o)[0] or 0))
    biggest = [o for o in drops if _headline(o)[0] is not None][:5]
    if biggest:
        table = Table(title=f"biggest {HEADLINE} drops")
        for column in ("cédula", "before", "after", "because", "moved most"):
            table.add_column(column)
        for o in biggest:
            before, after = _headline(o)
            causes = ", ".join(sorted({c.type for c in o.causes}))
            table.add_row(o.entity, f"{before:.0f}", f"{after:.0f}", causes, _why(o))
        console.print(table)
        console.print(
            f"why? [bold]rescore --database-url {options.database_url} explain {PACK} "
            f"{biggest[0].entity}[/bold]",
            soft_wrap=True,
        )
    _automations(engine, options, recorder, console)
    from rescore.snapshot import export_snapshot  # polars: only when exporting

    paths = export_snapshot(engine, engine.settings.snapshot_dir, pack=PACK)
    console.print("snapshot: " + ", ".join(str(p) for p in paths), soft_wrap=True)
