"""deploy/grafana/tenders.json, seed 001's business panels, against a real Prometheus scraping
``rescore serve`` with the tenders pack: every query is valid PromQL, and every one the HTTP
traffic moves returns data (the commands panel moves when the Telegram bot answers)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from test_prometheus import RATE_WINDOW, _need, _until_data, prometheus, query

from helpers import run, serving

pytestmark = pytest.mark.integration

BOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "tenders.json"
FREE = "4462ebfc-5f91-5ef0-9cfb-ac6e7687a66e"  # the demo's FREE subscriber
#: Queries only the bot moves (``business_metrics.count_command``).
BOT_ONLY = ("rescore_tenders_commands_total",)


def board_queries() -> list[str]:
    board = json.loads(BOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    return [e.replace("$__rate_interval", RATE_WINDOW) for e in exprs]


def test_the_tenders_dashboard_queries_return_data(tmp_path: Path) -> None:
    _need("prometheus")
    env = {
        "RESCORE_DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}",
        "RESCORE_PACKS": "tenders",
        "RESCORE_EMBEDDER": "hashing",
    }
    run("init", "--demo-data", cwd=tmp_path, env=env)
    key = run("keys", "create", "--scope", "read", cwd=tmp_path, env=env).stdout.strip()
    read = {"Authorization": f"Bearer {key}"}
    with serving(tmp_path, env) as url:
        api = url.removeprefix("http://")
        httpx.get(f"{url}/v1/packs/tenders/planes", headers=read, timeout=30)  # registers
        with prometheus(tmp_path, {"rescore-api": api, "rescore-workers": api}) as prom:
            time.sleep(3)  # a baseline before the traffic
            params = {"producto": "guantes nitrilo", "suscriptor_id": FREE}
            codes = [
                httpx.get(
                    f"{url}/v1/packs/tenders/precio", params=params, headers=read, timeout=60
                ).status_code
                for _ in range(3)
            ]
            assert codes == [200, 200, 429]  # the third is blocked: FREE has 2 a day
            moved = [q for q in board_queries() if not any(b in q for b in BOT_ONLY)]
            missing = _until_data(prom, moved)
            for expr in board_queries():
                query(prom, expr)  # valid PromQL, data or not
    assert not missing, f"no data for: {missing}"
