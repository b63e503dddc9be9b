"""The README's performance table is written from a recorded run (benchmarks/results.json), not
by hand: the renderer, the rewrite between the markers, and the README as committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run
from rescore.bench import TABLE_END, TABLE_START, markdown, replace_table

ROOT = Path(__file__).resolve().parents[2]
RUN = {
    "machine": {
        "host": "ci",
        "cpus": 2,
        "platform": "Linux-x86_64",
        "python": "3.11.7",
        "sqlite": "3.40.1",
        "packages": {"rescore": "0.1.0"},
        "measured_at": "2026-11-30T10:00:00+00:00",
        "load_average": [1.25, 1.0, 0.5],
        "load_average_end": [2.5, 1.5, 1.0],
    },
    "results": [
        {
            "id": "P3",
            "title": "batch",
            "method": "m",
            "numbers": {"median_s": 0.28, "clients_per_s": 1785.7},
            "goal": "<= 0.5 s",
            "met": True,
            "skipped": None,
        },
        {
            "id": "P5F",
            "title": "beside Feast",
            "method": "",
            "numbers": {},
            "goal": ">= 3x",
            "met": None,
            "skipped": "Feast is not installed",
        },
    ],
}


def test_the_table_says_where_and_under_what_load_it_was_measured() -> None:
    table = markdown(RUN)
    assert "on `ci`: 2 cores, Linux-x86_64, Python 3.11.7, SQLite 3.40.1" in table
    assert "load average 1.25 at the start, 2.5 at the end" in table
    assert "| P3 | batch | median_s 0.28, clients_per_s 1,786 | <= 0.5 s | yes |" in table
    assert "| P5F | beside Feast | skipped: Feast is not installed | >= 3x | – |" in table


def test_only_the_text_between_the_markers_is_rewritten() -> None:
    readme = f"before\n{TABLE_START}\nold table\n{TABLE_END}\nafter\n"
    assert replace_table(readme, "new") == f"before\n{TABLE_START}\nnew\n{TABLE_END}\nafter\n"
    with pytest.raises(ValueError, match="no"):
        replace_table("no markers here", "new")


def test_the_readme_table_is_the_recorded_run() -> None:
    recorded = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(TABLE_START) + len(TABLE_START) : readme.index(TABLE_END)]
    assert block.strip() == markdown(recorded), "rerun `make bench`: the table is not its run's"


def test_a_readme_without_the_markers_is_refused_before_anything_runs(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# mine\n")
    done = run("bench", "--only", "P4", "--readme", str(readme), cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert "has no bench-table block to rewrite" in done.stderr
    assert readme.read_text() == "# mine\n"
