"""P3 (synchronous batch rescore of 500 clients over HTTP) and P5 (lookup API under load from
a separate process: wrk when installed, else an asyncio client)."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from rescore.bench.fixture import deployment
from rescore.bench.report import Measurement
from rescore.bench.server import serving

__all__ = ["batch_rescore", "lookup_load", "wrk_run"]


def batch_rescore(count: int = 500, rounds: int = 5) -> Measurement:
    """P3: POST /update-batch (seed 000's contract) with ``count`` cédulas, ``rounds`` times."""
    with deployment() as dep, serving(dep.folder, dep.env()) as url:
        client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {dep.key}"}, timeout=120
        )
        body = {"cedulas": list(dep.cedulas[:count])}
        walls, servers = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            answer = client.post("/update-batch", json=body)
            walls.append(time.perf_counter() - started)
            answer.raise_for_status()
            assert answer.json()["successful"] == count
            servers.append(answer.json()["processing_time_ms"] / 1000)
        client.close()
    median = statistics.median(walls)
    return Measurement(
        id="P3",
        title=f"synchronous batch rescore of {count} credit clients",
        method=(
            f"POST /update-batch with {count} cédulas to rescore serve (SQLite), {rounds} "
            "rounds; every scorer of every client recomputed from its source data and written "
            "(history only where a score changed); wall time includes HTTP"
        ),
        numbers={
            "median_s": median,
            "best_s": min(walls),
            "server_median_s": statistics.median(servers),
            "clients_per_s": count / median,
        },
        goal="<= 0.5 s (seed 000: 60 s)",
        met=median <= 0.5,
    )


def lookup_load(seconds: float, connections: int = 8, hot: int = 200) -> Measurement:
    """P5: GET /v1/scores/credit/{cedula} over ``hot`` clients from another process."""
    ttl = max(1.0, seconds / 3)  # the run spans three TTLs: no cliff may hide in it
    with deployment() as dep, serving(dep.folder, dep.env(RESCORE_CACHE_TTL=f"{ttl:g}")) as url:
        cedulas = list(dep.cedulas[:hot])
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {dep.key}"})
        for cedula in cedulas:  # warm the cache, as a running service's would be
            client.get(f"/v1/scores/credit/{cedula}").raise_for_status()
        client.close()
        if shutil.which("wrk"):
            tool, numbers = "wrk", _wrk(url, dep.key, cedulas, seconds, connections, dep.folder)
        else:
            tool, numbers = "asyncio client", _asyncio(url, dep.key, cedulas, seconds, connections)
    ok = numbers["requests_per_s"] >= 5000 and numbers["p99_ms"] <= 10
    return Measurement(
        id="P5",
        title="lookup API under load (separate process)",
        method=(
            f"{tool} from a separate process, {connections} connections, {seconds:g} s of "
            f"GET /v1/scores/credit/{{cedula}} over {hot} clients (cache warm, TTL {ttl:g} s, "
            "so the run crosses three expiries) against rescore serve (one uvicorn process "
            "with the critical lane, its companion process with the normal lane); all share "
            "the machine's cores"
        ),
        numbers=numbers,
        goal=">= 5,000 req/s with p99 <= 10 ms",
        met=ok,
    )


def _wrk(
    url: str, key: str, cedulas: list[str], seconds: float, connections: int, folder: Path
) -> dict[str, float]:
    paths = ", ".join(f'"/v1/scores/credit/{c}"' for c in cedulas)
    script = (
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        f"local paths = {{{paths}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n'
    )
    return wrk_run(url, script, seconds, connections, folder)


def wrk_run(
    url: str, script: str, seconds: float, connections: int, folder: Path
) -> dict[str, float]:
    """wrk with a Lua ``script`` (one thread, ``connections`` connections) against ``url``:
    requests/s, p50 and p99 in ms, and how many answers were not 2xx."""
    path = folder / f"wrk-{abs(hash(script))}.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(path), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        "requests_per_s": float(_grab(r"Requests/sec:\s+([\d.]+)", out)),
        "p50_ms": _ms(_grab(r"50%\s+([\d.]+\w+)", out)),
        "p99_ms": _ms(_grab(r"99%\s+([\d.]+\w+)", out)),
        "non_2xx": float(_grab(r"Non-2xx or 3xx responses:\s+(\d+)", out, "0")),
    }


def _grab(pattern: str, text: str, default: str | None = None) -> str:
    found = re.search(pattern, text)
    if found is None:
        if default is None:
            raise RuntimeError(f"could not read {pattern!r} from wrk's output:\n{text}")
        return default
    return found.group(1)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _asyncio(
    url: str, key: str, cedulas: list[str], seconds: float, connections: int
) -> dict[str, float]:
    args = [url, key, str(seconds), str(connections), ",".join(cedulas)]
    out = subprocess.run(
        [sys.executable, "-m", "rescore.bench.loadgen", *args],
        capture_output=True,
        check=True,
    ).stdout
    numbers: dict[str, float] = orjson.loads(out)
    return numbers
