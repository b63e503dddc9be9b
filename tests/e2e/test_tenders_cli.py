"""The tenders pack as a user meets it, with the commands docs/packs/tenders.md shows: generate
monthly files, import them (twice: nothing is added again), price analysis, search, storage,
the demo, and a clear one-line refusal for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run

pytestmark = pytest.mark.e2e

ENV = {"RESCORE_DATABASE_URL": "sqlite:///t.db", "RESCORE_PACKS": "tenders"}


def test_packs_lists_the_tenders_pack(tmp_path: Path) -> None:
    found = json.loads(run("packs", "--json", cwd=tmp_path).stdout)
    tenders = next(p for p in found if p["name"] == "tenders")
    assert tenders["entity"] == "tender"
    assert tenders["event_types"]["tender_published"]["lane"] == "critical"
    assert tenders["event_types"]["bid_awarded"]["lane"] == "normal"
    assert "price_analysis" in tenders["scorers"]


def test_files_import_once_and_answer_price_and_search(tmp_path: Path) -> None:
    run("init", cwd=tmp_path, env=ENV)
    made = run(
        "tenders", "generate", "inbox", "--months", "2", "--last-month", "2024-12",
        cwd=tmp_path, env=ENV,
    ).stdout.split()  # fmt: skip
    assert made == ["inbox/COT_2024-11.zip", "inbox/COT_2024-12.zip"]
    files = ["inbox/COT_2024-11.zip", "inbox/COT_2024-12.zip"]
    first = run("tenders", "import", *files, cwd=tmp_path, env=ENV).stdout
    assert "COT_2024-12.zip: 3,0" in first
    assert ", 0 duplicate, 0 rejected" in first
    again = json.loads(run("tenders", "import", *files, "--json", cwd=tmp_path, env=ENV).stdout)
    assert [r["new"] for r in again] == [0, 0]
    assert all(r["duplicate"] >= 3_000 for r in again)
    price = json.loads(
        run(
            "tenders", "precio", "guantes nitrilo", "--organismo", "Hospital Regional",
            "--as-of", "2025-01-01", "--json", cwd=tmp_path, env=ENV,
        ).stdout
    )  # fmt: skip
    assert price["precio_competitivo"] <= price["precio_sugerido"] <= price["precio_seguro"]
    assert len(price["insights"]) >= 3
    assert len(price["competidores_frecuentes"]) == 5
    capital = "Región Metropolitana de Santiago"
    table = run("tenders", "precio", "resma papel carta", "--region", capital,
                "--as-of", "2025-01-01", cwd=tmp_path, env=ENV).stdout  # fmt: skip
    assert "suggested $" in table
    assert "- La Región Metropolitana de Santiago suele pagar un" in table
    found = run("tenders", "search", "guantes nitrilo", cwd=tmp_path, env=ENV).stdout
    assert found.splitlines()[0].startswith("0.84  Guantes de nitrilo caja 100")
    assert "nothing to do" in run("tenders", "storage", cwd=tmp_path, env=ENV).stdout


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    run("init", cwd=tmp_path, env=ENV)
    for args, hint in (
        (("tenders", "import", "nowhere.zip"), "nowhere.zip"),
        (("tenders", "precio", "cloro", "--as-of", "2025-13-01"), "--as-of"),
        (("tenders", "search", "  "), "TEXT"),
        (("tenders", "generate", "x", "--last-month", "2024-13"), "--last-month"),
    ):
        bad = run(*args, cwd=tmp_path, env=ENV, check=False)
        assert bad.returncode == 2, args
        assert hint in bad.stderr
        assert "Traceback" not in bad.stderr


def test_the_demo_runs_offline(tmp_path: Path) -> None:
    out = run("tenders", "demo", "--months", "6", cwd=tmp_path).stdout
    assert "wrote 6 monthly files" in out
    assert "re-imported" in out
    assert ": 0 new," in out
    assert "published 9999-1-COT" in out
    assert "price_analysis " in out
    assert "similar products: " in out
