"""The files in ``deploy/`` against the real Prometheus server (Debian's ``prometheus``).

``promtool`` checks the alert rules and runs their unit tests (``deploy/alerts.test.yml``:
each alert fires on the series that should raise it). Then Prometheus, configured from
``deploy/prometheus.yml`` with the targets pointed at a running ``rescore serve`` and a
standalone ``rescore worker --metrics-port``, scrapes them while events, lookups, a failure
and a bad request go through; every query of the Grafana dashboard and every alert's
expression (without its threshold) must then return data.

Skips, saying why, where Prometheus is not installed; fails under ``CI=true`` (``make test``
installs it when it runs as root).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import event
from helpers import RESCORE, clean_env, free_port, run, serving

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RATE_WINDOW = "30s"  # what $__rate_interval becomes here (Grafana picks it from the scrape)
THRESHOLD = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$")


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        reason = f"{tool} is not installed (apt-get install -y prometheus, or make prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    promtool = _need("promtool")
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run(
            [promtool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def dashboard_queries() -> list[str]:
    board = yaml.safe_load((DEPLOY / "grafana" / "rescore.json").read_text())
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    return [e.replace("$__rate_interval", RATE_WINDOW) for e in exprs]


def alert_queries() -> list[str]:
    """Each alert's expression without its threshold: the series it watches must exist."""
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    exprs = [r["expr"] for group in rules["groups"] for r in group["rules"]]
    return [THRESHOLD.sub("", e) for e in exprs]


def test_the_dashboard_and_the_alerts_ask_for_rescores_metrics() -> None:
    queries = dashboard_queries() + alert_queries()
    for name in ("rescore_events_ingested_total", "rescore_lane_lag_seconds", "up{"):
        assert any(name in q for q in queries), name
    assert all(not THRESHOLD.search(q) for q in alert_queries())


@contextmanager
def worker(where: Path, env: dict[str, str], port: int) -> Iterator[None]:
    """A standalone embedded worker serving /metrics on ``port``."""
    log = (where / "worker.log").open("w")
    proc = subprocess.Popen(
        [*RESCORE, "worker", "--metrics-port", str(port)],
        cwd=where,
        env=clean_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1), proc)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@contextmanager
def prometheus(where: Path, targets: dict[str, str]) -> Iterator[str]:
    """Prometheus with ``deploy/prometheus.yml``, each job's target replaced, scraping every
    second; yields its URL."""
    binary = _need("prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(DEPLOY / "alerts.yml")]
    for job in config["scrape_configs"]:
        job["static_configs"][0]["targets"] = [targets[job["job_name"]]]
    (where / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (where / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={where / 'prometheus.yml'}",
            f"--storage.tsdb.path={where / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{url}/-/ready", timeout=1), proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _wait(probe: Any, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args[0]} exited"
        try:
            if probe().status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{proc.args} did not become ready")


def traffic(url: str, keys: dict[str, str], cedulas: list[str]) -> None:
    """Critical and normal events, one for a client the source lacks (a failure, dead-lettered),
    lookups that miss then hit, and a request for an unknown path."""
    write = {"Authorization": f"Bearer {keys['write']}"}
    read = {"Authorization": f"Bearer {keys['read']}"}
    sent = [event(f"d-{c}", "client_default", c) for c in cedulas[:3]]
    sent += [event(f"p-{c}", "payment_made", c) for c in cedulas[3:]]
    sent.append(event("ghost", "client_default", "no-such-client"))
    answer = httpx.post(f"{url}/v1/events?wait=true", json=sent, headers=write, timeout=60)
    assert answer.status_code == 200, answer.text
    for cedula in cedulas[:3] * 3:
        httpx.get(f"{url}/v1/scores/credit/{cedula}", headers=read, timeout=10)
    httpx.get(f"{url}/no/such/page", timeout=10)


def query(prom: str, expr: str) -> list[Any]:
    answer = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    result: list[Any] = answer["data"]["result"]
    return result


def test_every_dashboard_query_and_alert_expression_returns_data(tmp_path: Path) -> None:
    _need("prometheus")
    env = {"RESCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "RESCORE_PACKS": "credit"}
    env |= {"RESCORE_FLUSH_INTERVAL": "0.2", "RESCORE_MAX_ATTEMPTS": "1"}
    run("init", "--demo-data", cwd=tmp_path, env=env)
    keys = {
        scope: run("keys", "create", "--scope", scope, cwd=tmp_path, env=env).stdout.strip()
        for scope in ("read", "write")
    }
    worker_port = free_port()
    with serving(tmp_path, env) as url, worker(tmp_path, env, worker_port):
        api = url.removeprefix("http://")
        targets = {"rescore-api": api, "rescore-workers": f"127.0.0.1:{worker_port}"}
        with prometheus(tmp_path, targets) as prom:
            time.sleep(3)  # a few scrapes before the traffic, so rates have a baseline
            traffic(url, keys, _cedulas(tmp_path))
            missing = _until_data(prom, dashboard_queries() + alert_queries())
    assert not missing, f"no data for: {missing}"


def _until_data(prom: str, queries: list[str], seconds: float = 60) -> list[str]:
    """The queries still without data when ``seconds`` ran out (automation ones only need to be
    valid: their metrics move once the automation engine lands)."""
    deadline = time.monotonic() + seconds
    waiting = list(queries)
    while waiting and time.monotonic() < deadline:
        waiting = [q for q in waiting if not query(prom, q)]
        time.sleep(1)
    return waiting


def _cedulas(where: Path) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{where / 'p.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT cedula FROM clients ORDER BY cedula LIMIT 8"))
        found = [str(r[0]) for r in rows]
    engine.dispose()
    return found
