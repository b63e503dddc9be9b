"""P7: HTTP ingest throughput, batches of 500 normal events, and the stream to fresh scores."""

from __future__ import annotations

import itertools
import random
import threading
import time
from datetime import UTC, datetime

import httpx
import orjson

from rescore.bench.fixture import deployment
from rescore.bench.report import Measurement
from rescore.bench.server import serving
from rescore.stats import percentile

__all__ = ["http_ingest"]

BATCH = 500
NOW = datetime.now(UTC).isoformat()


def http_ingest(seconds: float, clients: int = 2) -> Measurement:
    """P7: ``clients`` threads POST batches of 500 payment events for ``seconds``."""
    ids = itertools.count()
    with deployment() as dep, serving(dep.folder, dep.env()) as url:
        headers = {"Authorization": f"Bearer {dep.key}", "Content-Type": "application/json"}
        sent: list[int] = []
        took: list[float] = []
        lock = threading.Lock()
        stop = time.perf_counter() + seconds

        def post(n: int) -> None:
            rng = random.Random(n)
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                while time.perf_counter() < stop:
                    batch = [
                        {"event_id": f"p7-{next(ids)}", "type": "payment_made",
                         "entity": rng.choice(dep.cedulas), "occurred_at": NOW}
                        for _ in range(BATCH)
                    ]  # fmt: skip
                    started = time.perf_counter()
                    client.post("/v1/events", content=orjson.dumps(batch)).raise_for_status()
                    with lock:
                        took.append((time.perf_counter() - started) * 1000)
                        sent.append(len(batch))

        started = time.perf_counter()
        threads = [threading.Thread(target=post, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        posted = time.perf_counter() - started
        fresh = _until_scored(url, headers) - started
    total = sum(sent)
    rate = total / posted
    return Measurement(
        id="P7",
        title="HTTP ingest, batches of 500 normal events (credit)",
        method=(
            f"rescore serve (API + embedded workers: critical lane beside the API, normal lane in "
            f"its companion process; SQLite) on the credit demo clients; "
            f"{clients} client threads in another process POST batches of {BATCH} payment_made "
            f"events for {seconds:g} s; accepted/s = events answered 200 / posting time; "
            "stream/s = events / (first POST to the queue empty, every score fresh)"
        ),
        numbers={
            "accepted_events_per_s": rate,
            "stream_events_per_s": total / fresh,
            "events": float(total),
            "post_p50_ms": percentile(took, 50),
            "post_p99_ms": percentile(took, 99),
        },
        goal=">= 10,000 events/s accepted",
        met=rate >= 10_000,
    )


def _until_scored(url: str, headers: dict[str, str], timeout: float = 120) -> float:
    """When the queue was first seen empty (every event's entity rescored)."""
    deadline = time.perf_counter() + timeout
    with httpx.Client(base_url=url, headers=headers) as client:
        while time.perf_counter() < deadline:
            counts = client.get("/v1/pending", params={"limit": 1}).json()["counts"]
            if not counts.get("critical") and not counts.get("normal"):
                return time.perf_counter()
            time.sleep(0.05)
    return time.perf_counter()
