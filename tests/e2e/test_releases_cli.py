"""``rescore releases`` and ``rescore replay`` as the README describes them, on the leads demo
data: replay the seed's base algorithm, put it in shadow, promote it, roll it back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run

pytestmark = pytest.mark.e2e


def test_replay_shadow_promote_and_rollback_from_the_command_line(tmp_path: Path) -> None:
    env = {"RESCORE_PACKS": "leads"}
    run("init", "--demo-data", cwd=tmp_path, env=env)
    replayed = run("replay", "leads", "--candidate", "1.0.0+base", "--scorer", "lead_score",
                   "--out", "replay.json", cwd=tmp_path, env=env).stdout  # fmt: skip
    report = json.loads((tmp_path / "replay.json").read_text())
    assert f"{report['moved']} of {report['compared']} move" in replayed
    assert report["moved"] > 0
    assert (
        "lead_score: 1.0.0+base runs in shadow"
        in run(
            "releases", "shadow", "leads", "lead_score", "1.0.0+base", cwd=tmp_path, env=env
        ).stdout
    )
    promoted = run("releases", "promote", "leads", "lead_score", "1.0.0+base",
                   cwd=tmp_path, env=env).stdout  # fmt: skip
    assert (
        f"1.0.0+base is live (was 1.0.0); {report['compared']} entities rescored, "
        f"{report['moved']} moved" in promoted
    )
    listed = run("releases", "list", "leads", cwd=tmp_path, env=env).stdout
    assert "│ lead_score      │ 1.0.0+base │ 1.0.0  │" in listed
    back = run("releases", "rollback", "leads", "lead_score", cwd=tmp_path, env=env).stdout
    assert "1.0.0 is live (was 1.0.0+base)" in back
    wrong = run("replay", "leads", "--candidate", "9", cwd=tmp_path, env=env, check=False)
    assert wrong.returncode == 1
    assert "no scorer of leads offers version '9'" in wrong.stderr
