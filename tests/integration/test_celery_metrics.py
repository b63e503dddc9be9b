"""A Celery worker with ``--metrics-port P --concurrency 2`` serves each pool process's own
``/metrics`` on P and P+1 from the process's start (ADR 0014), before any task ran."""

from __future__ import annotations

import random
import signal
import socket
from pathlib import Path

import httpx
import pytest
import servers
from test_celery import BROKERS, kill, purge, start, wait_for

from helpers import need_service, run

pytestmark = pytest.mark.integration

make_database = servers.make_database


def slot_ports() -> int:
    """A port P with P and P+1 free, below Linux's ephemeral range: a free ephemeral port's
    neighbour can be taken by any outgoing connection at any moment (one took P+1 once)."""
    for _ in range(200):
        base = random.randrange(20_000, 32_000)
        if all(_bindable(port) for port in (base, base + 1)):
            return base
    raise AssertionError("no two neighbouring free ports in 20000-32000")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers(port: int) -> bool:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.TransportError:
        return False
    return "rescore_pending" in text


def test_each_pool_process_serves_metrics_on_its_slot_port(
    make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    label, port, broker_url = BROKERS["rabbitmq"]
    need_service(label, port)
    env = {
        "RESCORE_DATABASE_URL": make_database("postgresql"),
        "RESCORE_BROKER_URL": broker_url,
        "RESCORE_PACKS": "credit",
        "RESCORE_SNAPSHOT_INTERVAL": "0",
    }
    run("init", cwd=tmp_path, env=env)
    purge(broker_url)
    base = slot_ports()
    args = ["worker", "--celery", "--concurrency", "2", "--metrics-port", str(base)]
    worker = start(args, env, tmp_path / "worker.log")
    try:
        wait_for(lambda: answers(base) and answers(base + 1), 60, "both pool processes")
    finally:
        kill(worker, signal.SIGTERM)
    assert not answers(base), "the servers go with their processes"
