"""The loyalty pack as a user meets it: listed by ``rescore packs``, demo data from ``rescore
init --demo-data``, and ``rescore loyalty automations`` comparing seed 003's two modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run

pytestmark = pytest.mark.e2e


def test_packs_lists_the_loyalty_pack(tmp_path: Path) -> None:
    found = json.loads(run("packs", "--json", cwd=tmp_path).stdout)
    loyalty = next(p for p in found if p["name"] == "loyalty")
    assert loyalty["entity"] == "customer"
    assert loyalty["event_types"]["points_loaded"]["lane"] == "critical"
    assert loyalty["event_types"]["customer_registered"]["lane"] == "normal"
    assert set(loyalty["scorers"]) == {"loyalty", "churn_risk"}


def test_demo_data_and_the_two_modes_from_the_command_line(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///l.db", "RESCORE_PACKS": "loyalty"}
    out = run("init", "--demo-data", cwd=tmp_path, env=env).stdout
    assert "loyalty: created 2000 demo entities (customer)" in out
    modes = json.loads(run("loyalty", "automations", "--json", cwd=tmp_path, env=env).stdout)
    fast, slow = (
        next(m for m in modes if m["mode"] == name) for name in ("event-driven", "legacy")
    )
    assert fast["counts"] == slow["counts"]
    assert fast["counts"]["inactive"] > 0
    assert slow["rows_read"] > 5 * fast["rows_read"]
    assert slow["queries"] == 1 + 20 * 3  # 20 demo businesses, three rules each
    table = run("loyalty", "automations", cwd=tmp_path, env={**env, "COLUMNS": "200"}).stdout
    assert "event-driven" in table
    assert "legacy" in table
    bad = run("loyalty", "automations", "--at", "yesterday", cwd=tmp_path, env=env, check=False)
    assert bad.returncode == 2
    assert "--at" in bad.stderr
    assert "Traceback" not in bad.stderr
