"""A worker killed with kill -9 in the middle of delivering loses no firing and records none
twice: every firing is delivered once its restarted successor takes the dead one's claims
back, and a message repeated because it was in flight carries the same idempotency key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import RESCORE, clean_env, run
from receivers import HttpReceiver, http_receiver

pytestmark = pytest.mark.e2e

EVENTS = 24


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    yield from http_receiver(delay=0.15)  # slow, so the kill lands mid-delivery


def _worker(where: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*RESCORE, "worker"],
        cwd=where,
        env=clean_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill_9_mid_delivery_loses_nothing_and_records_nothing_twice(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    env = {
        "RESCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'kill.db'}",
        "RESCORE_POLL_INTERVAL": "0.1",
        "RESCORE_HEARTBEAT_INTERVAL": "0.5",
        "RESCORE_WORKER_STALE_AFTER": "2",
        "RESCORE_SNAPSHOT_CRON": "",
    }
    run("init", cwd=tmp_path, env=env)
    (tmp_path / "rules.yaml").write_text(
        "name: hook\n"
        "trigger: {kind: event, type: payment_made}\n"
        f"actions: [{{webhook: {{url: '{receiver.url}/hook'}}}}]\n"
    )
    run("automations", "add", "rules.yaml", cwd=tmp_path, env=env)
    lines = [
        json.dumps({"event_id": f"p{i}", "type": "payment_made", "entity": f"{1000 + i}",
                    "occurred_at": "2026-01-23T10:30:00Z", "payload": {"amount": i}})
        for i in range(EVENTS)
    ]  # fmt: skip
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    run("ingest", "events.jsonl", cwd=tmp_path, env=env)

    first = _worker(tmp_path, env)
    _wait(lambda: len(receiver.received) >= 4)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    delivered_before = len(receiver.received)
    assert delivered_before < EVENTS, "the kill came too late to land mid-delivery"

    second = _worker(tmp_path, env)
    try:
        keys = lambda: {r.headers["Idempotency-Key"] for r in receiver.received}  # noqa: E731
        _wait(lambda: len(keys()) == EVENTS)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)

    firings = json.loads(run("automations", "firings", "--json", "--limit", "1000",
                             cwd=tmp_path, env=env).stdout)  # fmt: skip
    assert len(firings) == EVENTS
    assert len({f["occurrence"] for f in firings}) == EVENTS  # none recorded twice
    deliveries = json.loads(run("automations", "deliveries", "--json", "--limit", "1000",
                                cwd=tmp_path, env=env).stdout)  # fmt: skip
    assert len(deliveries) == EVENTS
    assert {d["status"] for d in deliveries} == {"sent"}
    assert keys() == {d["key"] for d in deliveries}
    repeats = Counter(r.headers["Idempotency-Key"] for r in receiver.received)
    assert sum(repeats.values()) - EVENTS <= 1  # at most the one in flight at the kill
