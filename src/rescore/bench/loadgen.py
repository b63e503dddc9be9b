"""A small asyncio load generator, run as its own process when wrk is not installed:
``python -m rescore.bench.loadgen URL KEY SECONDS CONNECTIONS CEDULA,CEDULA,...``."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import orjson

from rescore.stats import percentile


async def _worker(
    client: httpx.AsyncClient, paths: list[str], until: float, latencies: list[float]
) -> int:
    errors = 0
    i = 0
    while time.perf_counter() < until:
        started = time.perf_counter()
        answer = await client.get(paths[i % len(paths)])
        latencies.append((time.perf_counter() - started) * 1000)
        errors += answer.status_code != 200
        i += 1
    return errors


async def _main(url: str, key: str, seconds: float, connections: int, cedulas: list[str]) -> None:
    paths = [f"/v1/scores/credit/{c}" for c in cedulas]
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=connections)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        until = time.perf_counter() + seconds
        errors = await asyncio.gather(
            *(_worker(client, paths, until, latencies) for _ in range(connections))
        )
    sys.stdout.buffer.write(
        orjson.dumps(
            {
                "requests_per_s": len(latencies) / seconds,
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
                "non_2xx": float(sum(errors)),
            }
        )
    )


if __name__ == "__main__":
    url, key, seconds, connections, cedulas = sys.argv[1:6]
    asyncio.run(_main(url, key, float(seconds), int(connections), cedulas.split(",")))
