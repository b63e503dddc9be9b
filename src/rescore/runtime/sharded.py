"""Population rescoring split across Celery workers: one ``rescore.population`` task per shard.

The population is cut into the pack's chunks (contiguous entity ranges, in the pack's order);
shard ``i`` of ``n`` takes every chunk whose ordinal is ``i`` modulo ``n``, so the shards are
even whatever the population's size. Each task runs :func:`rescore_population` in its worker
process and writes its shard through the store's bulk path (stale entities left alone, only
changed scores written, one transaction per store batch), so shards never write the same rows
and a shard delivered twice (a worker lost mid-task) only repeats its comparison.

:func:`rescore_sharded` sends the tasks, reports each shard as it finishes, and ends with the
reconciliation count: entities rescored by the shards against the pack's population size and
the entities the store holds scores for.

Example (a worker with ``--queues population`` or ``critical,normal,population`` running)::

    done = rescore_sharded(engine, settings, "leads", shards=4, chunk_size=250_000)
    done.complete   # every entity of the population rescored, and stored
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rescore.dispatch import POPULATION_QUEUE, POPULATION_TASK, celery_app
from rescore.engine import Engine
from rescore.exceptions import InvalidInput
from rescore.population import (
    DatabaseSource,
    ParquetSource,
    Shard,
    Source,
    rescore_population,
    vectorized,
)
from rescore.settings import Settings

__all__ = ["ShardedReport", "rescore_shard", "rescore_sharded"]


@dataclass(kw_only=True)
class ShardedReport:
    """What the shards did, and the final count."""

    population: int
    shards: list[dict[str, float]] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # shard index -> why
    stored_entities: int = 0
    seconds: float = 0.0

    @property
    def entities(self) -> int:
        return int(sum(s["entities"] for s in self.shards))

    @property
    def changed(self) -> int:
        return int(sum(s["changed"] for s in self.shards))

    @property
    def complete(self) -> bool:
        """Every shard finished, every entity was rescored once and has stored scores."""
        done = not self.failed and self.entities == self.population
        return done and self.stored_entities == self.population


def rescore_shard(
    engine: Engine, pack: str, shard: Shard, chunk_size: int, parquet: str | None
) -> dict[str, float]:
    """One shard, in a worker process: its chunks of the population into the store."""
    source: Source = ParquetSource(Path(parquet)) if parquet else DatabaseSource(engine.source)
    report = rescore_population(
        engine,
        pack,
        engine.registry[pack],
        source,
        chunk_size=chunk_size,
        tenant=engine.settings.tenant,
        shard=shard,
    )
    return {"shard": shard[0], **report.as_dict()}


def rescore_sharded(
    engine: Engine,
    settings: Settings,
    pack: str,
    *,
    shards: int,
    chunk_size: int,
    parquet: Path | None = None,
    progress: Callable[[dict[str, float]], None] = lambda _shard: None,
    timeout: float = 24 * 3600,
) -> ShardedReport:
    """Send one task per shard, wait for all of them (``progress`` gets each shard's report as
    it finishes), then count what the store holds."""
    if shards < 1:
        raise InvalidInput(f"shards must be at least 1, not {shards}", field="shards")
    form = vectorized(engine.registry[pack])
    if form is None:
        raise InvalidInput(f"pack {pack!r} offers no vectorized form", field="pack")
    source: Source = ParquetSource(parquet) if parquet else DatabaseSource(engine.source)
    report = ShardedReport(population=form.population_size(source))
    started = time.perf_counter()
    app = celery_app(settings)
    where = str(parquet) if parquet else None
    pending: dict[int, Any] = {
        i: app.send_task(
            POPULATION_TASK, args=(pack, i, shards, chunk_size, where), queue=POPULATION_QUEUE
        )
        for i in range(shards)
    }
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for i in [i for i, r in pending.items() if r.ready()]:
            _collect(report, i, pending.pop(i), progress)
        time.sleep(0.2)
    report.failed.update(dict.fromkeys(pending, f"not finished within {timeout:g} s"))
    report.seconds = time.perf_counter() - started
    report.stored_entities = engine.scored_entities(pack, tenant=settings.tenant)
    return report


def _collect(
    report: ShardedReport, index: int, result: Any, progress: Callable[[dict[str, float]], None]
) -> None:
    try:
        done = result.get(timeout=10)
    except Exception as exc:  # the worker's error, as Celery hands it back
        report.failed[index] = f"{type(exc).__name__}: {exc}"
        return
    report.shards.append(done)
    progress(done)
