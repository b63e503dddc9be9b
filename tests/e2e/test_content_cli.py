"""The content pack as a user drives it: ``rescore content run`` over a (fake) Hotmart killed
with SIGKILL in the middle of a lesson's download, then run again: the state after the kill is
true (the lesson shows ``downloading`` under the dead worker's lease), the next run after the
lease resumes it, and every lesson ends ``done`` exactly once. Also ``status``, ``search``,
``retry`` and the demo."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_readme import readme_block, run_block

from fakes import FakeHotmart, serve
from helpers import RESCORE, clean_env, run
from rescore.packs.content.config import SAMPLE

pytestmark = pytest.mark.e2e

SUBTITLES = (SAMPLE / "python-desde-cero" / "m2" / "l1.vtt").read_bytes()


def _catalogue(url: str) -> dict[str, object]:
    lessons = [
        {
            "id": f"l{i}",
            "title": f"Funciones {i}",
            "video_url": f"{url}/media/v.mp4",
            "subtitles_url": f"{url}/media/s.vtt",
            "updated_at": "2026-11-20T10:00:00Z",
        }
        for i in (1, 2)
    ]
    return {
        "c1": {"title": "Python", "modules": {"m1": {"title": "Funciones", "lessons": lessons}}}
    }


def _env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    return {
        "RESCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'content.db'}",
        "RESCORE_PACKS": "content",
        "RESCORE_EMBEDDER": "hashing",
        "RESCORE_CONTENT_SOURCE": "hotmart",
        "RESCORE_CONTENT_HOTMART_URL": url,
        "RESCORE_CONTENT_HOTMART_TOKEN_URL": "/security/oauth/token",
        "HOTMART_CLIENT_ID": "id",
        "HOTMART_CLIENT_SECRET": "secret",
        "RESCORE_CONTENT_CONCURRENCY": "1",
        **extra,
    }


def _lessons(tmp_path: Path) -> dict[str, tuple[str, str | None]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'content.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT lesson_id, state, lease_owner FROM content_lessons")
            ).all()
    finally:
        engine.dispose()
    return {r[0]: (r[1], r[2]) for r in rows}


def _wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_run_killed_in_a_download_resumes_and_finishes_every_lesson_once(
    tmp_path: Path,
) -> None:
    media = {"v.mp4": b"\x00\x00\x00\x18ftypisom" * 100, "s.vtt": SUBTITLES}
    with serve(FakeHotmart({}, media=media, media_delay=120)) as fake:
        fake.catalogue = _catalogue(fake.url)
        env = _env(tmp_path, fake.url, RESCORE_CONTENT_LEASE_SECONDS="2")
        run("init", cwd=tmp_path, env=env)
        worker = subprocess.Popen(
            [*RESCORE, "content", "run"], cwd=tmp_path, env=clean_env(env),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_for(lambda: "downloading" in {s for s, _ in _lessons(tmp_path).values()})
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        finally:
            worker.kill()
        stuck = {lid: s for lid, s in _lessons(tmp_path).items() if s[0] == "downloading"}
        assert len(stuck) == 1
        assert next(iter(stuck.values()))[1] is not None, "the dead worker's lease is held"
        fake.media_delay = 0
        time.sleep(2.1)  # the lease runs out
        again = run("content", "run", "--json", cwd=tmp_path, env=env)
        report = json.loads(again.stdout)
        assert report["processed"] == 2
        assert report["detected"] == {"new": 0, "changed": 0, "unchanged": 2}
        assert {s for s, _ in _lessons(tmp_path).values()} == {"done"}
        assert (
            json.loads(run("content", "run", "--json", cwd=tmp_path, env=env).stdout)["processed"]
            == 0
        )
        status = json.loads(run("content", "status", "--json", cwd=tmp_path, env=env).stdout)
        assert [(r["lesson_id"], r["state"]) for r in status] == [
            ("c1_m1_l1", "done"),
            ("c1_m1_l2", "done"),
        ]
        found = run("content", "search", "funciones con parámetros", cwd=tmp_path, env=env)
        assert "Python / Funciones" in found.stdout
        refused = run("content", "retry", "c1_m1_l1", cwd=tmp_path, env=env, check=False)
        assert refused.returncode == 1
        assert "none of these lessons is a dead letter" in refused.stderr


def test_the_docs_own_data_block_runs_as_written(tmp_path: Path) -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "packs" / "content.md"
    shutil.copytree(SAMPLE, tmp_path / "courses")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    script = "export PATH=$PWD/.venv/bin:$PATH\n" + readme_block("content-own-data", doc=page)
    out = run_block(script, tmp_path, env={"RESCORE_EMBEDDER": "hashing"})
    assert "detected: 5 new, 0 changed, 0 unchanged" in out
    assert "processed 5, failed 0 (retried later), dead 0" in out
    assert "Python desde cero / Funciones con parámetros" in out
    assert "deleted 0 video(s)" in out


def test_the_demo_shows_states_classification_search_and_notifications(tmp_path: Path) -> None:
    shown = run("content", "demo", cwd=tmp_path, env={"RESCORE_EMBEDDER": "hashing"}).stdout
    for state in ("downloading", "analysing", "stored", "synced", "done"):
        assert f"py101_m2_l1        {state}" in shown
    assert "processed 5, failed 0, dead 0" in shown
    assert "programación" in shown
    assert "marketing" in shown
    assert "[programación] Python desde cero / Funciones con parámetros" in shown
    assert "second run: 0 new, 0 changed, 5 unchanged; processed 0" in shown
    assert "Pipeline de contenido: 5 procesadas, 0 con error" in shown
