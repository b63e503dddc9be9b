"""``rescore serve`` in two processes: the critical lane beside the API, the normal lane,
schedules and deliveries in a companion process (:mod:`rescore.runtime.companion`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from conftest import event
from helpers import RESCORE, clean_env, free_port, run
from rescore.bench.server import wait_healthy

pytestmark = pytest.mark.e2e


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, key: str, db: str) -> None:
        self.proc, self.url, self.key, self.db = proc, url, key, db

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def cedula(self, skip: int) -> str:
        engine = sa.create_engine(self.db)
        with engine.connect() as conn:
            query = sa.text("SELECT cedula FROM clients ORDER BY cedula LIMIT 1 OFFSET :o")
            found = str(conn.execute(query, {"o": skip}).scalar_one())
        engine.dispose()
        return found


def _children(pid: int) -> list[int]:
    """The companion processes of ``pid`` (Linux /proc): its children started by
    multiprocessing's spawn, not the resource tracker that spawn starts too."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def _until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo database and an admin key, made once; each test serves a copy."""
    where = tmp_path_factory.mktemp("companion")
    env = {"RESCORE_DATABASE_URL": f"sqlite:///{where / 'api.db'}", "RESCORE_PACKS": "credit"}
    run("init", "--demo-data", cwd=where, env=env)
    key = run("keys", "create", "--scope", "admin", cwd=where, env=env).stdout.strip()
    return where / "api.db", key


@pytest.fixture
def served(
    tmp_path: Path, template: tuple[Path, str], request: pytest.FixtureRequest
) -> Iterator[Served]:
    shutil.copy(template[0], tmp_path / "api.db")
    key = template[1]
    db = f"sqlite:///{tmp_path / 'api.db'}"
    env = {
        "RESCORE_DATABASE_URL": db,
        "RESCORE_PACKS": "credit",
        "RESCORE_FLUSH_INTERVAL": "0.3",
        "RESCORE_HEARTBEAT_INTERVAL": "0.5",
        **getattr(request, "param", {}),
    }
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*RESCORE, "--log-level", "info", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, log_path)
            yield Served(proc, url, key, db)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _normal_rescored(served: Served, cedula: str, event_id: str) -> dict[str, Any]:
    """POST a normal event for ``cedula`` and wait for the lookup to show it rescored."""
    before = served.call("GET", f"/v1/scores/credit/{cedula}").json()
    posted = served.call("POST", "/v1/events", json=event(event_id, "payment_made", cedula))
    assert posted.status_code == 200, posted.text

    def fresh() -> dict[str, Any] | None:
        view: dict[str, Any] = served.call("GET", f"/v1/scores/credit/{cedula}").json()
        return view if view["watermark"] > before["watermark"] and not view["stale"] else None

    # the lookup cache's TTL is 60 s: seeing it sooner means the companion's write reached
    # this process's cache
    found: dict[str, Any] = _until(fresh, f"{cedula} rescored by the normal lane", 15.0)
    return found


def _samples(served: Served) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = served.call("GET", "/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_normal_lane_runs_in_a_companion_that_reports_to_the_api(served: Served) -> None:
    (companion,) = _until(lambda: _children(served.proc.pid), "a companion process")
    cedula = served.cedula(3)
    view = _normal_rescored(served, cedula, "companion-1")
    assert view["source"] in ("cache", "database")
    normal = ("rescore_recomputes_total", (("lane", "normal"), ("pack", "credit")))
    assert _samples(served)[normal] >= 1, "the companion's rescores are counted here"
    workers = _until(
        lambda: served.call("GET", "/readyz").json()["workers"], "the workers are alive"
    )
    assert workers is True
    # the critical lane stays in the API's process
    posted = served.call(
        "POST", "/v1/events?wait=true", json=event("companion-2", "client_default", cedula)
    )
    assert posted.json()["fresh"] is True
    assert _children(served.proc.pid) == [companion]


def test_a_killed_companion_is_started_again_and_readyz_says_so_meanwhile(
    served: Served,
) -> None:
    (first,) = _until(lambda: _children(served.proc.pid), "a companion process")
    os.kill(first, signal.SIGKILL)
    _until(
        lambda: served.call("GET", "/readyz").json()["workers"] is False,
        "readyz reports the dead companion",
        5.0,
    )
    (second,) = _until(
        lambda: [p for p in _children(served.proc.pid) if p != first], "a new companion"
    )
    assert second != first
    _until(lambda: served.call("GET", "/readyz").json()["workers"], "readyz recovers")
    _normal_rescored(served, served.cedula(5), "companion-3")


def test_ctrl_c_stops_the_api_and_its_companion_with_no_claim_left(served: Served) -> None:
    (companion,) = _until(lambda: _children(served.proc.pid), "a companion process")
    _normal_rescored(served, served.cedula(7), "companion-4")
    os.killpg(served.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert served.proc.wait(timeout=30) == 0
    _until(lambda: not Path(f"/proc/{companion}").exists(), "the companion exits", 10.0)
    engine = sa.create_engine(served.db)
    with engine.connect() as conn:
        held = conn.execute(
            sa.text("SELECT count(*) FROM rescore_pending WHERE claimed_by IS NOT NULL")
        )
        assert held.scalar_one() == 0
    engine.dispose()


@pytest.mark.parametrize("served", [{"RESCORE_SPLIT_WORKERS": "false"}], indirect=True)
def test_split_workers_false_keeps_every_lane_in_one_process(served: Served) -> None:
    _normal_rescored(served, served.cedula(9), "companion-5")
    assert _children(served.proc.pid) == []
