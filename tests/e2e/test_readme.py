"""The README's examples work exactly as written (on a free port, in a scratch folder), and so
do the examples ``rescore --help`` shows."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import RESCORE, clean_env, free_port, run

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def readme_block(marker: str, language: str = "sh", doc: Path = ROOT / "README.md") -> str:
    """The block marked ``<!-- marker -->`` in ``doc`` (the README unless another page)."""
    text = doc.read_text()
    found = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)```", text, re.DOTALL)
    assert found, f"{doc.name} has no block marked {marker}"
    return found.group(1)


def run_block(
    script: str, where: Path, *, timeout: float = 300, env: dict[str, str] | None = None
) -> str:
    """Run a shell block as a user pastes it; fail with its output if any command fails."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "set -m\n" + script],
        cwd=where,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def scratch(tmp_path: Path) -> Path:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


def test_http_quickstart_runs_as_written(tmp_path: Path) -> None:
    script = readme_block("http-quickstart").replace("8000", str(free_port()))
    out = run_block(script, scratch(tmp_path))
    assert '"fresh":true' in out
    assert '"status":"success"' in out
    assert '"ready":true' in out


def test_the_automations_block_runs_as_written(tmp_path: Path) -> None:
    script = readme_block("automations").replace("8000", str(free_port()))
    out = run_block(script, scratch(tmp_path))
    assert "added 1 rule: big-payment" in out
    assert '"body": "Client 1001257568 paid 2500000 COP"' in out.replace('":"', '": "')
    assert '"status":"sent"' in out
    assert "big-payment would fire for 1001257568: its latest payment_made event" in out
    assert "event:pay-77" in out


def test_the_blocks_after_the_demo_run_as_written(tmp_path: Path) -> None:
    where = scratch(tmp_path)
    run("demo", "--events", "300", "--rate", "1000", cwd=where)  # make demo, a shorter replay
    out = run_block(readme_block("after-demo"), where)
    assert "credit 80283877: " in out
    assert "wrote /tmp/rescore-snapshot/credit_scores.csv" in out
    out = run_block(readme_block("feeding-events"), where)
    assert "accepted 2, duplicates 0" in out
    assert "rescored 2 entities" in out
    python = subprocess.run(
        [sys.executable, "-c", readme_block("python-api", "python")],
        cwd=where,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(python.stdout.splitlines()[0]) > 0


def test_scoring_your_own_data_runs_as_written(tmp_path: Path) -> None:
    out = run_block(readme_block("own-data"), scratch(tmp_path))
    assert "rescored 1 of 1; 1 changed" in out
    assert "hybrid" in out


def help_examples() -> list[str]:
    text = run("--help", cwd=ROOT).stdout
    block = text.split("Start here:", 1)[1].split("\n\n", 1)[0]
    return [re.split(r"\s{2,}", line.strip())[0] for line in block.strip().splitlines()]


def test_the_examples_rescore_help_shows_work(tmp_path: Path) -> None:
    examples = help_examples()
    assert [e.split()[1] for e in examples] == ["demo", "init", "ingest", "worker", "explain"]
    (tmp_path / "events.jsonl").write_text(
        '{"event_id": "h-1", "type": "payment_late", "entity": "1001257568",'
        ' "occurred_at": "2026-01-23T10:30:00Z"}\n'
    )
    for example in examples:
        args = example.split()[1:]
        if args == ["worker"]:
            worker = subprocess.Popen(
                [*RESCORE, *args], cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, text=True
            )
            assert worker.stdout is not None
            assert "running" in worker.stdout.readline()
            os.kill(worker.pid, signal.SIGINT)
            assert worker.wait(timeout=30) == 0
            worker.stdout.close()
        else:
            run(*args, cwd=tmp_path)


@pytest.mark.slow
def test_pip_install_then_demo_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    """The README's pip block, as written, from a copy of this checkout."""
    script = readme_block("pip-install").replace("/tmp/rescore-env", str(tmp_path / "env"))
    out = run_block(script, ROOT, timeout=900)
    assert "event → fresh score latency" in out


def test_the_credit_model_block_runs_as_written(tmp_path: Path) -> None:
    where = scratch(tmp_path)
    run("demo", "--events", "100", "--rate", "1000", cwd=where)
    out = run_block(readme_block("credit-model"), where)
    assert "trained credit model 1.0.0" in out
    assert "on 1870 labelled clients" in out
    assert "10-fold CV AUC" in out
    assert "calibration" in out
    assert "(predicted probability)" in out
    assert "It is a release candidate, not live" in out
    assert "no drift: all quiet" in out
    models = where / ".rescore" / "models"
    (candidate,) = (models / "candidates").iterdir()
    assert (candidate / "default_probability.skops").exists()
    assert not (models / "default_probability.skops").exists(), "training replaced nothing"
    report = json.loads((models / "default_probability.drift.json").read_text())
    assert report["model_fingerprint"].startswith(candidate.name), "drift checks the live model"
