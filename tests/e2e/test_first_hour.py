"""A new user's first hour, as issue 9 found it: each test drove a defect on a clean clone.

Safety (the demo never destroys a database it did not create; read-only commands never create
one), one readable line per mistake with the right exit code, graceful signals, and a
``--help`` that answers without importing the engine.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import RESCORE, clean_env, free_port, run

pytestmark = pytest.mark.e2e


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *expected: str) -> None:
    """The failure is one line on stderr (no traceback) with ``code`` and every ``expected``."""
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{done.stderr}"
    assert lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr
    for text in expected:
        assert text in lines[0]


def test_demo_refuses_a_database_it_did_not_create(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///mine.db"}
    run("init", cwd=tmp_path, env=env)
    before = (tmp_path / "mine.db").read_bytes()
    done = run("demo", "--clients", "5", "--events", "0", cwd=tmp_path, env=env, check=False)
    one_line_error(done, 2, "mine.db exists and is not a rescore demo database")
    assert (tmp_path / "mine.db").read_bytes() == before, "the user's database is untouched"


def test_demo_replaces_its_own_database(tmp_path: Path) -> None:
    for _ in range(2):
        out = run("demo", "--clients", "20", "--events", "10", "--rate", "500", cwd=tmp_path)
        assert "credit: created 20 demo entities" in out.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("pending",),
        ("show", "credit", "1001257568"),
        ("explain", "credit", "1001257568"),
        ("dead-letter", "list"),
        ("dead-letter", "requeue"),
        ("export",),
        ("keys", "list"),
        ("worker", "--once"),
        ("serve", "--port", "1"),
    ],
)
def test_read_only_commands_never_create_a_database(tmp_path: Path, args: tuple[str, ...]) -> None:
    url = f"sqlite:///{tmp_path}/typo/dir/x.db"
    done = run("--database-url", url, *args, cwd=tmp_path, check=False)
    one_line_error(done, 2, "no database at", "rescore init")
    assert not (tmp_path / "typo").exists(), "nothing is created on a mistyped path"


def test_serve_says_an_empty_database_has_no_tables(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "empty.db") as conn:
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
    done = run(
        "--database-url",
        "sqlite:///empty.db",
        "serve",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        check=False,
    )
    one_line_error(done, 2, "has no rescore tables", "rescore init")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("foo://x/y", "unknown database URL scheme foo://"),
        ("postgres://u@127.0.0.1/db", "use postgresql+psycopg://"),
        ("mysql://root@127.0.0.1/test", "use mysql+pymysql://"),
        ("not a url", "is not a database URL"),
    ],
)
def test_a_wrong_database_url_is_one_line(tmp_path: Path, url: str, expected: str) -> None:
    done = run("--database-url", url, "pending", cwd=tmp_path, check=False)
    one_line_error(done, 2, expected)


def test_a_bad_setting_names_its_variable(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///s.db", "RESCORE_MAX_ATTEMPTS": "lots"}
    run("init", cwd=tmp_path, env={"RESCORE_DATABASE_URL": "sqlite:///s.db"})
    done = run("worker", "--once", cwd=tmp_path, env=env, check=False)
    one_line_error(done, 2, "error: RESCORE_MAX_ATTEMPTS: ", "(got 'lots')")
    # a command's own option is checked by the option, which names its variable too
    env = {"RESCORE_DATABASE_URL": "sqlite:///s.db", "RESCORE_FLUSH_SIZE": "lots"}
    done = run("worker", "--once", cwd=tmp_path, env=env, check=False)
    assert done.returncode == 2
    assert "'--flush-size' (env var: 'RESCORE_FLUSH_SIZE'): 'lots'" in done.stderr


def test_a_non_utf8_events_file_is_one_line(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///e.db"}
    run("init", cwd=tmp_path, env=env)
    (tmp_path / "latin1.jsonl").write_bytes('{"entity": "Peña"}\n'.encode("latin-1"))
    done = run("ingest", "latin1.jsonl", cwd=tmp_path, env=env, check=False)
    one_line_error(done, 1, "latin1.jsonl is not UTF-8", "0xf1")


def test_an_unwritable_output_folder_is_one_line(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///o.db"}
    run("init", "--demo-data", cwd=tmp_path, env=env)
    (tmp_path / "a-file").write_text("not a folder")
    done = run("export", "--out", "a-file/snapshots", cwd=tmp_path, env=env, check=False)
    one_line_error(done, 2, "a-file/snapshots", "Not a directory")


def test_batch_problems_are_listed_one_per_line(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///b.db"}
    run("init", cwd=tmp_path, env=env)
    (tmp_path / "bad.jsonl").write_text(
        '{"event_id": "a", "type": "client_default", "occurred_at": "2026-01-23T10:30:00Z"}\n'
        '{"event_id": "b", "type": "client_default", "entity": "1", "occurred_at": "soon"}\n'
    )
    done = run("ingest", "bad.jsonl", cwd=tmp_path, env=env, check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "error: 2 problems, nothing was stored:"
    assert lines[1].startswith("  event 1: entity: ")
    assert lines[2].startswith("  event 2: occurred_at: ")


def test_unknown_packs_are_refused_everywhere(tmp_path: Path) -> None:
    env = {"RESCORE_DATABASE_URL": "sqlite:///p.db"}
    run("init", cwd=tmp_path, env=env)
    for args in (("dead-letter", "requeue", "--pack", "nopack"), ("export", "--pack", "nopack")):
        done = run(*args, cwd=tmp_path, env=env, check=False)
        one_line_error(done, 1, "no pack 'nopack' is loaded; loaded: content, credit, leads")


def test_a_connection_option_after_the_command_says_where_it_goes(tmp_path: Path) -> None:
    done = run("pending", "--database-url", "sqlite:///x.db", cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert "put it before the command" in done.stderr


def test_help_answers_without_importing_the_engine(tmp_path: Path) -> None:
    """Start-up stays fast because nothing heavy is imported to list the commands."""
    for args in (["--help"], ["show", "--help"], ["leads", "--help"]):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "rescore", *args],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
        heavy = {"sqlalchemy", "pydantic", "rich", "polars", "fastapi"} & imported
        if args[0] != "leads":  # a pack's own group loads that pack, and only it
            assert not heavy, f"rescore {' '.join(args)} imported {heavy}"
            assert not any(m.startswith("rescore.packs") for m in imported)
        assert "rescore.packs.credit" not in imported


def test_the_first_signal_stops_gracefully(tmp_path: Path) -> None:
    env = clean_env({"RESCORE_DATABASE_URL": "sqlite:///w.db"})
    run("init", cwd=tmp_path, env={"RESCORE_DATABASE_URL": "sqlite:///w.db"})
    for sig in (signal.SIGINT, signal.SIGTERM):
        worker = subprocess.Popen(
            [*RESCORE, "worker"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
        )
        assert worker.stdout is not None
        assert "running" in worker.stdout.readline()
        worker.send_signal(sig)
        out, _ = worker.communicate(timeout=20)
        assert worker.returncode == 0
        assert "worker stopped" in out


SLOW_TO_STOP = """
import time
from rescore.cli.framework import GracefulStop
with GracefulStop(announce=lambda m: print(m, flush=True)) as stop:
    print("ready", flush=True)
    stop.wait(60)
    print("stopping slowly", flush=True)
    time.sleep(60)
"""


def test_the_second_signal_kills() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_TO_STOP], stdout=subprocess.PIPE, text=True, env=clean_env()
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    assert "send it again to kill" in proc.stdout.readline()
    assert proc.stdout.readline().strip() == "stopping slowly"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == -signal.SIGINT
    assert time.monotonic() - started < 5
    proc.stdout.close()
