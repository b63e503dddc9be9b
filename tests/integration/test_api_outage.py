"""Lookups keep answering while the database is down; ingest says 503 and drops nothing.

Once the process knows the database is unreachable (a worker's poll or the heartbeat failed),
every answer says ``stale: true`` and ``stale_since``, cache hits included.

A real PostgreSQL database is made unreachable mid-run (connections refused, sessions
terminated) under a running ``rescore serve``; then it comes back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from helpers import need_service, run, serving

pytestmark = pytest.mark.integration

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def database() -> Iterator[tuple[str, sa.Engine]]:
    need_service("PostgreSQL", 5432)
    name = f"rescore_outage_{os.getpid()}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield name, admin
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def set_reachable(admin: sa.Engine, name: str, reachable: bool) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(reachable).lower()}'))
        if not reachable:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"
                ),
                {"d": name},
            )


def wait_until(probe: Callable[[], dict[str, Any] | None], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.05)
    return found


def test_lookups_answer_stale_while_the_database_is_down(
    database: tuple[str, sa.Engine], tmp_path: Path
) -> None:
    name, admin = database
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    env = {
        "RESCORE_DATABASE_URL": url,
        "RESCORE_PACKS": "credit",
        "RESCORE_SNAPSHOT_DIR": str(tmp_path / "snap"),
    }
    run("init", "--demo-data", "--seed", "3", cwd=tmp_path, env=env)
    key = run("keys", "create", "--scope", "admin", cwd=tmp_path, env=env).stdout.strip()
    run("export", "--format", "parquet", cwd=tmp_path, env=env)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        warm, cold = conn.execute(
            sa.text("SELECT cedula FROM clients ORDER BY cedula LIMIT 2")
        ).scalars()
    engine.dispose()
    auth = {"Authorization": f"Bearer {key}"}
    with serving(tmp_path, env) as base:
        seen = httpx.get(f"{base}/v1/scores/credit/{warm}", headers=auth).json()
        assert (seen["source"], seen["stale"], seen["stale_since"]) == ("database", False, None)
        hit = httpx.get(f"{base}/v1/scores/credit/{warm}", headers=auth).json()
        assert (hit["source"], hit["stale"]) == ("cache", False)
        set_reachable(admin, name, reachable=False)
        cut = datetime.now(UTC)

        # no lookup has failed yet, but the workers' polls and the heartbeat have: the engine
        # knows, so even a fresh cache hit says stale, and since when
        def stale_hit() -> dict[str, Any] | None:
            found: dict[str, Any] = httpx.get(
                f"{base}/v1/scores/credit/{warm}", headers=auth, timeout=30
            ).json()
            return found if found["stale"] else None

        learned = wait_until(stale_hit, timeout=3.0)
        assert learned["source"] == "cache"
        since = datetime.fromisoformat(learned["stale_since"])
        assert cut - timedelta(seconds=1) <= since <= datetime.now(UTC)

        snap = httpx.get(f"{base}/v1/scores/credit/{cold}", headers=auth, timeout=30)
        assert snap.status_code == 200, snap.text
        assert (snap.json()["source"], snap.json()["stale"]) == ("snapshot", True)
        predicted = httpx.post(f"{base}/predict", headers=auth, json={"cedula": cold}, timeout=30)
        assert predicted.status_code == 200
        assert predicted.json()["stale"] is True

        # the failed read marks the database down: cache hits now say stale too
        cached = httpx.get(f"{base}/v1/scores/credit/{warm}", headers=auth, timeout=30)
        assert cached.status_code == 200
        assert cached.json()["stale"] is True
        assert cached.json()["scores"]["hybrid"]["value"] == seen["scores"]["hybrid"]["value"]

        event = {
            "event_id": "o1",
            "type": "client_default",
            "entity": warm,
            "occurred_at": "2026-01-23T10:30:00Z",
        }
        refused = httpx.post(f"{base}/v1/events", headers=auth, json=event, timeout=30)
        assert refused.status_code == 503
        assert "try again" in refused.json()["detail"]
        assert "database cannot be reached" in refused.json()["detail"]
        assert name not in refused.text, "a 503 never names the database (it is logged)"
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503

        set_reachable(admin, name, reachable=True)
        accepted = httpx.post(f"{base}/v1/events", headers=auth, json=event, timeout=30)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["accepted"] == 1, "the refused event was not half-written"
        back = httpx.get(f"{base}/v1/scores/credit/{cold}", headers=auth, timeout=30).json()
        assert back["source"] == "database"
        assert (back["stale_since"], back["stale"]) == (None, False)
