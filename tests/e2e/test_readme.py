"""The README's HTTP quick start works exactly as written (on a free port, in a scratch folder)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from helpers import clean_env, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert found, f"README has no block marked {marker}"
    return found.group(1)


def test_http_quickstart_runs_as_written(tmp_path: Path) -> None:
    script = readme_block("http-quickstart").replace("8000", str(free_port()))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "set -m\n" + script],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert '"fresh":true' in done.stdout
    assert '"status":"success"' in done.stdout
    assert '"ready":true' in done.stdout
