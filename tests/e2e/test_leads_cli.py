"""The leads pack's commands as a user drives them: generate, rescore --all, analytics, ml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

pytestmark = pytest.mark.e2e

AS_OF = "2026-01-23T12:00:00"


def run(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESCORE_")}
    env |= {"COLUMNS": "200", "RESCORE_LEADS_AS_OF": AS_OF}
    done = subprocess.run(
        [sys.executable, "-m", "rescore", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"rescore {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_generate_rescore_analytics_and_train(tmp_path: Path) -> None:
    out = run(
        "leads",
        "generate",
        "--contacts",
        "3000",
        "--out",
        "pop",
        "--chunk-size",
        "1000",
        "--as-of",
        AS_OF,
        cwd=tmp_path,
    )
    assert "wrote 3,000 contacts" in out
    assert len(list((tmp_path / "pop" / "contacts").glob("*.parquet"))) == 3

    out = run(
        "rescore",
        "leads",
        "--all",
        "--from-parquet",
        "pop",
        "--out",
        "scores",
        "--no-store",
        "--chunk-size",
        "1000",
        cwd=tmp_path,
    )
    assert "rescored 3,000" in out
    scores = pl.read_parquet(tmp_path / "scores" / "*.parquet")
    assert scores.height == 3000
    assert scores["total_score"].max() <= 100

    db = f"sqlite:///{tmp_path}/scores.db"
    run("--database-url", db, "--packs", "leads", "init", cwd=tmp_path)
    out = run(
        "--database-url", db, "rescore", "leads", "--all", "--from-parquet", "pop", cwd=tmp_path
    )
    assert "3,000 changed" in out
    out = run(
        "--database-url", db, "rescore", "leads", "--all", "--from-parquet", "pop", cwd=tmp_path
    )
    assert "; 0 changed" in out
    shown = json.loads(run("--database-url", db, "show", "leads", "17", "--json", cwd=tmp_path))
    expected = scores.filter(pl.col("entity") == "17").row(0, named=True)
    assert shown["lead_score"]["value"] == expected["total_score"]

    found = json.loads(run("leads", "analytics", "--from-parquet", "pop", "--json", cwd=tmp_path))
    assert sum(found["scoreDistribution"]) == 3000
    assert "average score" in run("leads", "analytics", "--from-parquet", "pop", cwd=tmp_path)

    out = run(
        "ml",
        "train",
        "leads",
        "--from-parquet",
        "pop",
        "--models-dir",
        "models",
        "--limit",
        "500",
        cwd=tmp_path,
    )
    assert "trained leads model 1.0.0 on 400 samples" in out
    assert (tmp_path / "models" / "leads.skops").exists()
