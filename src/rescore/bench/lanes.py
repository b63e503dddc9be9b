"""P1 (critical event to fresh score over HTTP, under normal-lane load) and P2 (sustained
normal-lane throughput)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from datetime import UTC, datetime

import httpx

from rescore.bench.fixture import deployment
from rescore.bench.report import Measurement
from rescore.bench.server import serving
from rescore.engine import Engine, Observer, Outcome
from rescore.routing import Lane
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.settings import Settings
from rescore.stats import percentile

__all__ = ["critical_latency", "normal_throughput"]

NOW = datetime.now(UTC).isoformat()
_ids = itertools.count()


def _event(type_: str, entity: str) -> dict[str, str]:
    return {
        "event_id": f"bench-{next(_ids)}-{time.time_ns()}",
        "type": type_,
        "entity": entity,
        "occurred_at": NOW,
    }


class _Load(threading.Thread):
    """Posts ``rate`` payment events a second, in 10 batches a second, until stopped."""

    def __init__(self, url: str, key: str, cedulas: list[str], rate: int) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        self.cedulas = cedulas
        self.rate = rate
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(1)
        per_tick = max(1, self.rate // 10)
        tick = time.perf_counter()
        while not self.stop.is_set():
            batch = [_event("payment_made", rng.choice(self.cedulas)) for _ in range(per_tick)]
            self.client.post("/v1/events", json=batch).raise_for_status()
            self.sent += len(batch)
            tick += 0.1
            self.stop.wait(max(0.0, tick - time.perf_counter()))
        self.client.close()


def critical_latency(samples: int, load_rate: int = 500) -> Measurement:
    """P1: POST a critical event, poll the lookup API until its watermark moves."""
    with deployment() as dep:
        probes, others = list(dep.cedulas[:samples]), list(dep.cedulas[samples:])
        with serving(dep.folder, dep.env(RESCORE_FLUSH_INTERVAL="1.0")) as url:
            load = _Load(url, dep.key, others, load_rate)
            load.start()
            client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {dep.key}"})
            time.sleep(1.5)  # let the load reach its steady state
            started = time.perf_counter()
            latencies = [_probe(client, cedula) for cedula in probes]
            elapsed = time.perf_counter() - started
            load.stop.set()
            load.join()
            client.close()
    achieved = load.sent / (elapsed + 1.5)
    p99 = percentile(latencies, 99)
    return Measurement(
        id="P1",
        title="critical event -> score visible through the lookup API (HTTP)",
        method=(
            f"rescore serve (API and critical lane in one process, normal lane in its companion "
            f"process, SQLite, normal flush 1 s) with a "
            f"background load of {load_rate} normal events/s (achieved {achieved:.0f}/s) posted "
            f"in batches of {max(1, load_rate // 10)}; for each of {samples} clients: POST one "
            "critical event, then GET /v1/scores until its watermark moves; latency = POST "
            "start to the first GET that shows the fresh score"
        ),
        numbers={
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "p99_ms": p99,
            "max_ms": max(latencies),
            "samples": float(len(latencies)),
            "background_events_per_s": achieved,
        },
        goal="p99 <= 50 ms and p50 <= 15 ms (seed 000: < 5 s)",
        met=p99 <= 50 and percentile(latencies, 50) <= 15,
    )


def _probe(client: httpx.Client, cedula: str) -> float:
    before = client.get(f"/v1/scores/credit/{cedula}").json()["watermark"]
    started = time.perf_counter()
    client.post("/v1/events", json=_event("new_payment_plan", cedula)).raise_for_status()
    while True:
        view = client.get(f"/v1/scores/credit/{cedula}").json()
        if view["watermark"] > before and not view["stale"]:
            return (time.perf_counter() - started) * 1000
        if time.perf_counter() - started > 30:
            queue = client.get("/v1/pending", params={"limit": 1000}).json()
            mine = [i for i in queue["items"] if i["entity"] == cedula]
            raise RuntimeError(
                f"critical event for {cedula} not rescored within 30 s: last view "
                f"watermark {view['watermark']} (before {before}), stale {view['stale']}; "
                f"its pending work: {mine}; queue {queue['counts']}"
            )


class _Lag(Observer):
    def __init__(self) -> None:
        self.lag_ms: list[float] = []
        self.recomputes = 0
        self.last_commit = 0.0
        self.lock = threading.Lock()

    def recomputed(self, outcomes: list[Outcome]) -> None:  # type: ignore[override]
        with self.lock:
            for o in outcomes:
                if o.lane is None:
                    continue
                self.recomputes += 1
                self.last_commit = time.perf_counter()
                self.lag_ms.extend(
                    (o.committed_at - c.received_at).total_seconds() * 1000 for c in o.causes
                )


def normal_throughput(seconds: float, batch: int = 1000) -> Measurement:
    """P2: ingest normal events as fast as the engine takes them, runtime flushing."""
    with deployment() as dep:
        lag = _Lag()
        settings = Settings(
            database_url=dep.database_url,
            packs=["credit"],
            flush_interval=0.5,
            flush_size=1000,
            snapshot_cron="",
        )
        engine = Engine.from_settings(settings, observers=[lag])
        rng = random.Random(2)
        sent = 0
        with EmbeddedRuntime(engine) as runtime:
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                events = [_event("payment_made", rng.choice(dep.cedulas)) for _ in range(batch)]
                engine.ingest(events)
                sent += batch
            ingest_done = time.perf_counter()
            while _pending(engine) and time.perf_counter() - ingest_done < 60:
                time.sleep(0.05)
            runtime.drain_all([Lane.NORMAL])
        engine.close()
    total = max(lag.last_commit, ingest_done) - started
    rate = sent / total
    return Measurement(
        id="P2",
        title="sustained normal-lane throughput, events -> fresh scores (credit)",
        method=(
            f"in process, embedded SQLite: ingest payment_made events in batches of {batch} "
            f"over 1,870 clients for {seconds:g} s while the runtime flushes every 0.5 s (or at "
            "1,000 waiting); rate = events / (first ingest to last score committed); lag = "
            "event received to its score committed"
        ),
        numbers={
            "events_per_s": rate,
            "events": float(sent),
            "lag_p50_ms": percentile(lag.lag_ms, 50),
            "lag_p99_ms": percentile(lag.lag_ms, 99),
            "events_per_recompute": sent / max(1, lag.recomputes),
        },
        goal=">= 5,000 events/s on 2 cores",
        met=rate >= 5000,
    )


def _pending(engine: Engine) -> bool:
    counts = engine.pending_counts(tenant=None)
    return bool(counts["normal"] or counts["critical"])
