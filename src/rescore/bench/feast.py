"""P5F: rescore's lookups side by side with Feast's Python feature server, in the same run.

Feast is what a data team would otherwise put in front of precomputed scores, so the lookup
goal is stated against it: at least 3x its throughput with a lower p99 in rescore's default
configuration (the lookup cache on), and at least equal with the cache off (every lookup a
database read). Feast is not a dependency of rescore: install it anywhere (its own virtualenv
is best, it pins many packages) and put its ``feast`` command on ``PATH`` or name it in
``RESCORE_BENCH_FEAST``; without it this benchmark is skipped and says so.

Both servers hold the same scores of the same credit demo clients: rescore's stored scores are
exported to Parquet, declared as one Feast feature view (one float per scorer, keyed by
cédula), materialised into Feast's SQLite online store, and served by ``feast serve`` (one
uvicorn worker, as ``rescore serve`` is one process). The same wrk load (one thread, the same
connections and duration) asks each for one client's scores per request, cycling through the
same clients: ``GET /v1/scores/credit/{cedula}`` (every score with its breakdown, reasons and
freshness) against ``POST /get-online-features`` (the values alone).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl

from rescore.bench.api import wrk_run
from rescore.bench.fixture import Deployment, deployment
from rescore.bench.report import Measurement
from rescore.bench.server import free_port, serving, wait_healthy
from rescore.engine import Engine
from rescore.settings import Settings

__all__ = ["feast_command", "feast_comparison"]

TITLE = "lookups side by side with Feast's Python feature server"
GOAL = ">= 3x Feast's req/s with a lower p99 (cache on); >= 1x Feast's req/s with the cache off"

_FEATURE_STORE = """project: rescore_bench
registry: data/registry.db
provider: local
online_store:
  type: sqlite
  path: data/online_store.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""

_DEFINITIONS = """from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

client = Entity(name="cedula", join_keys=["cedula"], value_type=ValueType.STRING)
source = FileSource(path="{parquet}", timestamp_field="event_timestamp")
credit_scores = FeatureView(
    name="credit_scores",
    entities=[client],
    ttl=timedelta(days=3650),
    schema=[{fields}],
    online=True,
    source=source,
)
"""


def feast_command() -> str | None:
    """The ``feast`` executable: ``RESCORE_BENCH_FEAST``, else ``feast`` on ``PATH``."""
    named = os.environ.get("RESCORE_BENCH_FEAST")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("feast")


def feast_comparison(seconds: float, connections: int = 8, hot: int = 200) -> Measurement:
    """P5F: Feast's feature server, rescore with its cache and without, the same load."""
    feast = feast_command()
    missing = _missing(feast)
    if missing:
        return Measurement(id="P5F", title=TITLE, method="", goal=GOAL, skipped=missing)
    assert feast is not None
    with deployment() as dep:
        cedulas = list(dep.cedulas[:hot])
        scorers = _export(dep, cedulas)
        with _feast_server(feast, dep.folder, scorers) as url:
            _warm_feast(url, cedulas, scorers)
            theirs = wrk_run(url, _feast_script(cedulas, scorers), seconds, connections, dep.folder)
        cached = _rescore(dep, cedulas, seconds, connections, ttl="60")
        uncached = _rescore(dep, cedulas, seconds, connections, ttl="0")
    return _measurement(theirs, cached, uncached, seconds, connections, hot, feast)


def _missing(feast: str | None) -> str | None:
    if feast is None:
        return (
            "Feast is not installed: pip install feast (a virtualenv of its own is best), then "
            "put its feast command on PATH or set RESCORE_BENCH_FEAST=/path/to/bin/feast"
        )
    if shutil.which("wrk") is None:
        return "wrk is not installed (make bench installs Debian's wrk)"
    return None


def _export(dep: Deployment, cedulas: Sequence[str]) -> list[str]:
    """The clients' stored scores as Parquet, one column per scorer; the scorers' names."""
    engine = Engine.from_settings(Settings(database_url=dep.database_url, packs=["credit"]))
    try:
        rows = [
            {"cedula": c, **{s: float(v.value) for s, v in engine.current("credit", c).items()}}
            for c in cedulas
        ]
    finally:
        engine.close()
    scorers = sorted(k for k in rows[0] if k != "cedula")
    frame = pl.DataFrame(rows).with_columns(
        pl.lit(datetime.now(UTC) - timedelta(hours=1)).alias("event_timestamp")
    )
    data = dep.folder / "feast" / "data"
    data.mkdir(parents=True)
    frame.write_parquet(data / "scores.parquet")
    return scorers


@contextmanager
def _feast_server(feast: str, folder: Path, scorers: Sequence[str]) -> Iterator[str]:
    """A Feast repository over the exported scores, applied, materialised, and served."""
    repo = folder / "feast"
    (repo / "feature_store.yaml").write_text(_FEATURE_STORE)
    fields = ", ".join(f'Field(name="{s}", dtype=Float64)' for s in scorers)
    parquet = str(repo / "data" / "scores.parquet")
    (repo / "definitions.py").write_text(_DEFINITIONS.format(parquet=parquet, fields=fields))
    _feast(feast, repo, "apply")
    now = datetime.now(UTC)
    start, end = (now - timedelta(days=1)).isoformat(), now.isoformat()
    _feast(feast, repo, "materialize", start, end)
    port = free_port()
    log_path = folder / "feast-serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [feast, "-c", str(repo), "serve", "-p", str(port), "--no-access-log"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, log_path, path="/health", what="feast serve", timeout=120)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _warm_feast(url: str, cedulas: Sequence[str], scorers: Sequence[str]) -> None:
    """Ask for every client once, as rescore's cache is warmed: both start from steady state."""
    features = [f"credit_scores:{s}" for s in scorers]
    with httpx.Client(base_url=url, timeout=30) as client:
        for cedula in cedulas:
            body = {"features": features, "entities": {"cedula": [cedula]}}
            answer = client.post("/get-online-features", json=body)
            answer.raise_for_status()
            values = answer.json()["results"][1]["values"]
            if values[0] is None:
                raise RuntimeError(f"Feast has no scores for {cedula}: materialisation failed")


def _feast(feast: str, repo: Path, *args: str) -> None:
    done = subprocess.run(
        [feast, "-c", str(repo), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"feast {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _feast_script(cedulas: Sequence[str], scorers: Sequence[str]) -> str:
    features = json.dumps([f"credit_scores:{s}" for s in scorers])
    bodies = ", ".join(
        json.dumps(json.dumps({"features": json.loads(features), "entities": {"cedula": [c]}}))
        for c in cedulas
    )
    return (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"local bodies = {{{bodies}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #bodies + 1\n"
        '  return wrk.format("POST", "/get-online-features", nil, bodies[i])\nend\n'
    )


def _rescore(
    dep: Deployment, cedulas: Sequence[str], seconds: float, connections: int, *, ttl: str
) -> dict[str, float]:
    paths = ", ".join(f'"/v1/scores/credit/{c}"' for c in cedulas)
    script = (
        f'wrk.headers["Authorization"] = "Bearer {dep.key}"\n'
        f"local paths = {{{paths}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n'
    )
    with serving(dep.folder, dep.env(RESCORE_CACHE_TTL=ttl)) as url:
        for cedula in cedulas:  # as a running service would be (a no-op with the cache off)
            httpx.get(
                f"{url}/v1/scores/credit/{cedula}", headers={"Authorization": f"Bearer {dep.key}"}
            )
        return wrk_run(url, script, seconds, connections, dep.folder)


def _measurement(
    theirs: dict[str, float],
    cached: dict[str, float],
    uncached: dict[str, float],
    seconds: float,
    connections: int,
    hot: int,
    feast: str,
) -> Measurement:
    ratio = cached["requests_per_s"] / theirs["requests_per_s"]
    ratio_off = uncached["requests_per_s"] / theirs["requests_per_s"]
    met = ratio >= 3 and cached["p99_ms"] < theirs["p99_ms"] and ratio_off >= 1
    return Measurement(
        id="P5F",
        title=TITLE,
        method=(
            f"the same {hot} credit demo clients' stored scores in rescore (SQLite) and in "
            f"Feast ({_version(feast)}, SQLite online store, `feast serve`, one worker); wrk, "
            f"one thread, {connections} connections, {seconds:g} s each: GET "
            "/v1/scores/credit/{cedula} (scores, breakdowns, freshness) against POST "
            "/get-online-features (values only); rescore with its lookup cache (TTL 60 s, the "
            "default) and with it off (RESCORE_CACHE_TTL=0: a database read per lookup)"
        ),
        numbers={
            "feast_requests_per_s": theirs["requests_per_s"],
            "feast_p99_ms": theirs["p99_ms"],
            "rescore_requests_per_s": cached["requests_per_s"],
            "rescore_p99_ms": cached["p99_ms"],
            "rescore_no_cache_requests_per_s": uncached["requests_per_s"],
            "rescore_no_cache_p99_ms": uncached["p99_ms"],
            "ratio_cached": ratio,
            "ratio_no_cache": ratio_off,
            "non_2xx": theirs["non_2xx"] + cached["non_2xx"] + uncached["non_2xx"],
        },
        goal=GOAL,
        met=met,
    )


def _version(feast: str) -> str:
    done = subprocess.run([feast, "version"], capture_output=True, text=True, check=False)
    found = re.findall(r"\d+\.\d+\.\d+", done.stdout)
    return f"Feast {found[-1]}" if found else "Feast"
