"""``rescore serve`` with secrets in its settings and in requests: its log lines are JSON with
the fields Loki needs, and not one of them carries a secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from helpers import need_service, run, serving

pytestmark = pytest.mark.e2e

TOKEN = "tg-token-31337-abcdef"


def test_serve_logs_json_lines_without_a_secret(tmp_path: Path) -> None:
    need_service("RabbitMQ", 5672)  # the broker URL carries a real password
    env = {
        "RESCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'logs.db'}",
        "RESCORE_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "RESCORE_TELEGRAM_TOKEN": TOKEN,
        "RESCORE_LOG_FORMAT": "json",
        "RESCORE_LOG_LEVEL": "info",
    }
    run("init", cwd=tmp_path, env=env)
    key = run("keys", "create", "--scope", "read", cwd=tmp_path, env=env).stdout.strip()
    with serving(tmp_path, env) as url:
        # a careless client puts secrets in query strings: the access log must not keep them
        httpx.get(f"{url}/healthz", params={"token": TOKEN, "key": key}, timeout=10)
        httpx.get(f"{url}/v1/scores/credit/1", headers={"X-API-Key": key}, timeout=10)
    logged = "\n".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert any("guest:***@127.0.0.1" in line["message"] for line in lines), logged
    assert any("/healthz" in line["message"] for line in lines), "uvicorn's access log is ours"
    # the key's secret is all after its second "_" (it may hold "_" itself: rsplit could
    # leave a single letter, found in any line)
    for secret in ("guest:guest", TOKEN, key, key.split("_", 2)[2]):
        assert secret not in logged
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= line.keys()
