"""Embedded engine on the credit pack: lane latency, normal-lane throughput, batch rescore.

Run: ``.venv/bin/python benchmarks/engine_lanes.py [--events 3000] [--rate 400]``

Method (printed with the numbers):
1. critical latency: the demo's simulator replays ``--events`` business changes at ``--rate``
   per second into a 1,870-client SQLite database while the embedded runtime runs (normal flush
   every second); latency = commit of the fresh score - ingest of the event, by the event's lane.
2. normal throughput: ``--burst`` payment events over ``--clients-touched`` clients are ingested
   in batches of 1,000 with no runtime, then one worker drains the normal lane; events/s is
   events / (ingest + drain) and the coalescing ratio is events per recompute.
3. batch rescore: ``Engine.recompute`` of 500 clients, every scorer, timed.
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rescore.demo import DemoRecorder, percentile
from rescore.engine import Engine
from rescore.routing import Lane
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.settings import Settings

PACK = "credit"


def fresh_engine(folder: Path, **settings: float) -> tuple[Engine, DemoRecorder]:
    recorder = DemoRecorder()
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = Engine.from_settings(
        Settings(database_url=url, packs=[PACK], **settings), observers=[recorder]
    )
    engine.migrate()
    with engine.source.begin() as conn:
        engine.registry[PACK].generate_demo_data(conn, seed=7)
    keys = list(engine.entity_keys(PACK))
    for start in range(0, len(keys), 500):
        engine.recompute(PACK, keys[start : start + 500])
    return engine, recorder


def lane_latency(events: int, rate: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine, recorder = fresh_engine(Path(folder), flush_interval=1.0)
        simulator = engine.registry[PACK].simulator(7)
        with EmbeddedRuntime(engine):
            started = time.perf_counter()
            for sent in range(1, events + 1):
                with engine.source.begin() as conn:
                    event = simulator.step(conn)
                engine.ingest([event])
                ahead = started + sent / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            achieved = events / (time.perf_counter() - started)
            time.sleep(2.5)
        engine.close()
    print(f"1. lane latency, {events} simulated events at {achieved:.0f}/s (asked {rate:.0f}/s)")
    for lane in (Lane.CRITICAL, Lane.NORMAL):
        values = recorder.latency_ms[lane]
        cells = "  ".join(f"p{q} {percentile(values, q):7.1f} ms" for q in (50, 95, 99))
        print(f"   {lane:8} n={len(values):5}  {cells}")


def normal_throughput(burst: int, touched: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine, _ = fresh_engine(Path(folder))
        rng = random.Random(3)
        keys = rng.sample(list(engine.entity_keys(PACK)), touched)
        now = datetime.now(UTC).isoformat()
        events = [
            {
                "event_id": f"b{i}",
                "type": "payment_made",
                "entity": rng.choice(keys),
                "occurred_at": now,
            }
            for i in range(burst)
        ]
        started = time.perf_counter()
        for start in range(0, burst, 1000):
            engine.ingest(events[start : start + 1000])
        ingested = time.perf_counter() - started
        recomputes = 0
        while report := engine.work("bench", Lane.NORMAL):
            if not report.claimed:
                break
            recomputes += len(report.outcomes)
        total = time.perf_counter() - started
        engine.close()
    print(f"2. normal lane: {burst} events over {touched} clients")
    print(
        f"   ingest {burst / ingested:,.0f} events/s; ingest + drain {burst / total:,.0f} events/s"
        f" ({total:.2f} s); {recomputes} recomputes, {burst / recomputes:.1f} events/recompute"
    )


def batch_rescore(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine, _ = fresh_engine(Path(folder))
        keys = list(engine.entity_keys(PACK))[:count]
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            engine.recompute(PACK, keys)
            timings.append(time.perf_counter() - started)
        engine.close()
    print(
        f"3. batch rescore of {count} clients, every scorer: best {min(timings) * 1000:.0f} ms,"
        f" median {sorted(timings)[2] * 1000:.0f} ms of 5"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--burst", type=int, default=20000)
    parser.add_argument("--clients-touched", type=int, default=1000)
    args = parser.parse_args()
    print(f"machine: {platform.node()} python {platform.python_version()}, embedded SQLite")
    lane_latency(args.events, args.rate)
    normal_throughput(args.burst, args.clients_touched)
    batch_rescore(500)


if __name__ == "__main__":
    main()
