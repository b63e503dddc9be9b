"""P5F's parts that run without Feast: the reason it is skipped, the requests wrk sends Feast,
and how the goal is judged from the three runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rescore.bench import feast


def test_without_feast_the_benchmark_is_skipped_and_says_how_to_run_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RESCORE_BENCH_FEAST", str(tmp_path / "no-such-feast"))
    assert feast.feast_command() is None
    result = feast.feast_comparison(seconds=1)
    assert result.skipped is not None
    assert "RESCORE_BENCH_FEAST" in result.skipped
    assert result.met is None


def test_feast_is_found_where_the_variable_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    command = tmp_path / "feast"
    command.write_text("#!/bin/sh\n")
    monkeypatch.setenv("RESCORE_BENCH_FEAST", str(command))
    assert feast.feast_command() == str(command)


def test_each_request_asks_feast_for_one_clients_scores() -> None:
    script = feast._feast_script(["101", "202"], ["hybrid", "platam"])
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', script.split("local bodies = ")[1])
    bodies = [json.loads(json.loads(f'"{text}"')) for text in literals[:2]]
    assert bodies == [
        {"features": ["credit_scores:hybrid", "credit_scores:platam"], "entities": {"cedula": [c]}}
        for c in ("101", "202")
    ]
    assert '"/get-online-features"' in script


def _run(rps: float, p99: float) -> dict[str, float]:
    return {"requests_per_s": rps, "p99_ms": p99, "p50_ms": p99 / 4, "non_2xx": 0}


@pytest.mark.parametrize(
    ("cached", "uncached", "met"),
    [
        (_run(1500, 10), _run(500, 40), True),
        (_run(1400, 10), _run(500, 40), False),  # under 3x Feast's throughput
        (_run(1500, 40), _run(500, 40), False),  # a p99 no lower than Feast's
        (_run(1500, 10), _run(450, 40), False),  # the database read slower than Feast
    ],
)
def test_the_goal_needs_all_three_parts(
    cached: dict[str, float], uncached: dict[str, float], met: bool
) -> None:
    result = feast._measurement(_run(480, 32), cached, uncached, 15, 8, 200, "/bin/false")
    assert result.met is met
    assert result.numbers["ratio_cached"] == pytest.approx(cached["requests_per_s"] / 480)
