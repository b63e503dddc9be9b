"""The README's "Scale out" commands work as written (PostgreSQL, RabbitMQ, the API and two
Celery workers plus beat), on a free port and a database of the test's own."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import clean_env, free_port, need_service

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert found, f"README has no block marked {marker}"
    return found.group(1)


def _kill_everything(proc: subprocess.Popen[str]) -> None:
    """A failed step leaves the script's background jobs (API, workers, beat) running: end
    them with the script (each job is in a process group of its own under ``set -m``)."""
    for pid in [proc.pid, *_children(proc.pid)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _children(pid: int) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in found.split()]


def test_scale_out_runs_as_written(tmp_path: Path) -> None:
    need_service("PostgreSQL", 5432)
    need_service("RabbitMQ", 5672)
    name = f"rescore_scale_{uuid.uuid4().hex[:8]}"
    script = (
        readme_block("scale-out").replace("8000", str(free_port())).replace("rescore_scale", name)
    )
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", "set -m\n" + script],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        _kill_everything(proc)
        admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert proc.returncode == 0, f"{stdout}\n{stderr}"
    assert '"accepted":1' in stdout
    assert '"watermark":1,' in stdout  # a Celery worker rescored it (the API has none)
