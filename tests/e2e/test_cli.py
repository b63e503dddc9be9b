"""The ``rescore`` command as a user drives it: real processes, a real SQLite file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from helpers import run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small demo run, shared by the read-only tests below."""
    where = tmp_path_factory.mktemp("demo")
    done = run(
        "demo",
        "--clients",
        "80",
        "--events",
        "300",
        "--rate",
        "3000",
        "--flush-interval",
        "0.2",
        cwd=where,
    )
    (where / "demo.out").write_text(done.stdout)
    return where


DB = "sqlite:///.rescore/demo.db"


def test_demo_runs_and_summarizes_latency_per_lane(demo_dir: Path) -> None:
    out = (demo_dir / "demo.out").read_text()
    assert "credit: created 80 demo entities" in out
    assert "replayed 300 events" in out
    assert "critical" in out
    assert "normal" in out
    assert "event → fresh score latency" in out
    assert (demo_dir / ".rescore" / "snapshots" / "credit_scores.csv").exists()


def test_explain_shows_changes_with_their_events(demo_dir: Path) -> None:
    out = (demo_dir / "demo.out").read_text()
    cedula = out.split(" explain credit ")[1].split()[0]
    done = run("--database-url", DB, "explain", "credit", cedula, "--json", cwd=demo_dir)
    found = json.loads(done.stdout)
    assert found["entity"] == cedula
    caused = [c for c in found["changes"] if c["events"]]
    assert caused, "a demo mover must have a change caused by an event"
    assert all("deltas" in c and "before" in c for c in found["changes"])
    text = run("--database-url", DB, "explain", "credit", cedula, cwd=demo_dir).stdout
    assert "because:" in text
    assert re.search(r"-> [\d.]+  \[\w+ [+-][\d.]+", text), "component deltas are shown"


def test_show_as_of_the_past_differs_from_now(demo_dir: Path) -> None:
    out = (demo_dir / "demo.out").read_text()
    cedula = out.split(" explain credit ")[1].split()[0]
    found = json.loads(
        run("--database-url", DB, "explain", "credit", cedula, "--json", cwd=demo_dir).stdout
    )
    first = found["changes"][-1]["changed_at"]  # the initial scoring
    now = json.loads(
        run("--database-url", DB, "show", "credit", cedula, "--json", cwd=demo_dir).stdout
    )
    then = json.loads(
        run(
            "--database-url", DB, "show", "credit", cedula, "--json", "--as-of", first, cwd=demo_dir
        ).stdout
    )
    assert now["hybrid"]["value"] != then["hybrid"]["value"]


def test_export_writes_csv_and_parquet(demo_dir: Path) -> None:
    run("--database-url", DB, "export", "--out", "snap", cwd=demo_dir)
    csv_frame = pl.read_csv(demo_dir / "snap" / "credit_scores.csv", infer_schema_length=None)
    parquet_frame = pl.read_parquet(demo_dir / "snap" / "credit_scores.parquet")
    assert csv_frame.height == parquet_frame.height == 80
    assert {"entity", "platam", "hybrid", "hybrid.internal", "watermark"} <= set(
        parquet_frame.columns
    )


def test_rescore_all_with_progress(demo_dir: Path) -> None:
    done = run("--database-url", DB, "rescore", "credit", "--all", cwd=demo_dir)
    assert "rescored 80 of 80" in done.stdout


def test_ingest_worker_and_dead_letter_flow(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///flow.db", "RESCORE_MAX_ATTEMPTS": "1"}
    run("init", cwd=tmp_path, env=env)
    events = tmp_path / "events.jsonl"
    line = {
        "event_id": "e1",
        "type": "client_default",
        "entity": "999",
        "occurred_at": "2026-01-23T10:30:00Z",
    }
    events.write_text(
        json.dumps(line)
        + "\n"
        + json.dumps(line | {"event_id": "e2", "type": "limit_increase"})
        + "\n"
    )
    out = run("ingest", str(events), cwd=tmp_path, env=env).stdout
    assert "accepted 2, duplicates 0; queued 1 critical and 0 normal" in out
    assert "accepted 0, duplicates 2" in run("ingest", str(events), cwd=tmp_path, env=env).stdout
    once = run("worker", "--once", cwd=tmp_path, env=env, check=False)  # 999 is unknown
    assert once.returncode == 1, "a failed entity makes worker --once fail"
    assert "rescored 0 entities" in once.stdout
    assert "failed: credit 999: EntityNotFound" in once.stderr
    assert "1 failed, 1 of them dead-lettered" in once.stdout
    listed = run("dead-letter", "list", cwd=tmp_path, env=env).stdout
    assert "999" in listed
    assert "EntityNotFound" in listed
    assert "requeued 1 entity" in run("dead-letter", "requeue", cwd=tmp_path, env=env).stdout
    assert "critical: 1" in run("pending", cwd=tmp_path, env=env).stdout


def test_bad_input_is_a_clear_error_and_stores_nothing(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///bad.db"}
    run("init", cwd=tmp_path, env=env)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "event_id,type,entity,occurred_at\ne1,client_default,1,2026-01-23T10:30:00Z\ne2,teleport,1,2026-01-23\n"
    )
    done = run("ingest", str(bad), cwd=tmp_path, env=env, check=False)
    assert done.returncode == 1
    assert "unknown event type 'teleport'" in done.stderr
    assert "client_default" in done.stderr, "the error lists the known types"
    good = tmp_path / "good.csv"
    good.write_text(bad.read_text().splitlines()[0] + "\n" + bad.read_text().splitlines()[1] + "\n")
    out = run("ingest", str(good), cwd=tmp_path, env=env).stdout
    assert "accepted 1, duplicates 0" in out, "e1 must not have been stored by the failed batch"


def test_usage_errors_exit_non_zero_with_a_message(tmp_path: Path) -> None:
    done = run("rescore", "credit", cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert "name entities or pass --all" in done.stderr
    run("--database-url", "sqlite:///x.db", "init", cwd=tmp_path)
    done = run(
        "--database-url", "sqlite:///x.db", "explain", "nopack", "1", cwd=tmp_path, check=False
    )
    assert done.returncode == 1
    assert "no pack 'nopack' is loaded; loaded: content, credit, leads, loyalty" in done.stderr


def test_help_names_every_environment_variable(tmp_path: Path) -> None:
    assert "RESCORE_DATABASE_URL" in run("--help", cwd=tmp_path).stdout
    out = run("worker", "--help", cwd=tmp_path).stdout
    assert "--database-url" not in out, "connection options belong to the group"
    for var in (
        "RESCORE_FLUSH_INTERVAL",
        "RESCORE_FLUSH_SIZE",
        "RESCORE_BATCH_SIZE",
    ):
        assert var in out
    assert "rescore demo" in run("--help", cwd=tmp_path).stdout
    demo_help = run("demo", "--help", cwd=tmp_path).stdout
    assert "RESCORE_DEMO_SEED" in demo_help
    assert "RESCORE_DEMO_KEEP_RUNNING" in demo_help


def test_packs_lists_event_types_with_lanes_and_scorers_with_versions(tmp_path: Path) -> None:
    found = json.loads(run("packs", "--json", cwd=tmp_path).stdout)
    credit = next(p for p in found if p["name"] == "credit")
    assert credit["event_types"]["client_default"]["lane"] == "critical"
    assert credit["event_types"]["limit_increase"]["lane"] == "none"
    order = list(credit["scorers"])
    assert order[-2:] == ["hybrid", "default_probability"], "scorers come in dependency order"
    assert credit["scorers"]["hybrid"]["depends_on"] == ["platam"]
    assert all(s["version"] for s in credit["scorers"].values())
    text = run("--packs", "leads", "packs", cwd=tmp_path).stdout
    assert "validation_upserted" in text
    assert "client_default" not in text, "--packs limits what is loaded"


def test_reconcile_reports_a_clean_population(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///r.db", "RESCORE_PACKS": "credit"}
    run("init", "--demo-data", cwd=tmp_path, env=env)
    out = run("reconcile", "credit", cwd=tmp_path, env=env).stdout
    assert "credit: checked 1,870, 0 drifted, 0 repaired" in out
    found = json.loads(
        run("reconcile", "credit", "--no-repair", "--json", cwd=tmp_path, env=env).stdout
    )
    assert found["checked"] == 1870
    assert found["by_scorer"] == {}
