"""The distributed runtime runs the automations too: a Celery worker delivers what event rules
fire (beat's ``rescore.deliver``), and beat's ``rescore.tick`` drives the same cron scheduler
as the embedded runtime, so a scheduled rule fires once per tick (on PostgreSQL and Redis)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import servers
from test_celery import BROKERS, kill, purge, start

from helpers import need_service, run
from receivers import HttpReceiver, http_receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

make_database = servers.make_database


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    yield from http_receiver()


def test_celery_delivers_event_rules_and_runs_cron_rules(
    make_database: servers.MakeDatabase, tmp_path: Path, receiver: HttpReceiver
) -> None:
    label, port, broker_url = BROKERS["redis"]
    need_service(label, port)
    env = {
        "RESCORE_DATABASE_URL": make_database("postgresql"),
        "RESCORE_BROKER_URL": broker_url,
        "RESCORE_PACKS": "credit",
        "RESCORE_FLUSH_INTERVAL": "0.5",
        "RESCORE_SNAPSHOT_CRON": "",
    }
    run("init", cwd=tmp_path, env=env)
    (tmp_path / "rules.yaml").write_text(
        f"- name: paid\n  trigger: {{kind: event, type: payment_made}}\n"
        f"  actions: [{{webhook: {{url: '{receiver.url}/paid'}}}}]\n"
        "- name: minute\n"
        "  trigger: {kind: schedule, cron: '* * * * *', timezone: America/Bogota}\n"
        f"  actions: [{{webhook: {{url: '{receiver.url}/minute'}}}}]\n"
    )
    run("automations", "add", "rules.yaml", cwd=tmp_path, env=env)
    purge(broker_url)
    worker = start(["worker", "--celery"], env, tmp_path / "worker.log")
    beat = start(["worker", "--celery", "--beat"], env, tmp_path / "beat.log")
    try:
        lines = [
            json.dumps({"event_id": f"p{i}", "type": "payment_made", "entity": str(7000 + i),
                        "occurred_at": "2026-01-23T10:30:00Z"})
            for i in range(5)
        ]  # fmt: skip
        (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
        run("ingest", "events.jsonl", cwd=tmp_path, env=env)
        deadline = time.monotonic() + 90  # the next minute's tick, plus start-up
        while time.monotonic() < deadline:
            paths = [r.path for r in receiver.received]
            if paths.count("/paid") >= 5 and "/minute" in paths:
                break
            time.sleep(0.3)
        paths = [r.path for r in receiver.received]
        assert paths.count("/paid") == 5, (tmp_path / "worker.log").read_text()[-3000:]
        assert "/minute" in paths, (tmp_path / "beat.log").read_text()[-3000:]
    finally:
        kill(beat, signal.SIGTERM)
        kill(worker, signal.SIGTERM)
    fired = json.loads(
        run("automations", "firings", "--rule", "minute", "--json", cwd=tmp_path, env=env).stdout
    )
    occurrences = [f["occurrence"] for f in fired]
    assert len(occurrences) == len(set(occurrences)) >= 1  # once per tick
    minute = next(r for r in receiver.received if r.path == "/minute").json()
    assert minute["context"]["trigger"] == "schedule"
