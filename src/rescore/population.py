"""Rescore a whole population at once, vectorized, from the source database or Parquet.

The engine rescores entities one batch at a time through ``Scorer.score``. For a nightly or
first-time rescoring of millions of entities a pack may also offer a vectorized form: it
implements :class:`Vectorized` (found by duck typing, so the ``Pack`` base class stays small),
scoring a chunk of the population into a Polars frame with one row per entity and an
``entity`` column, and turning such a frame back into the :class:`ScoreResult` objects its
scorers would have produced (a property test in the pack proves they are the same).

:func:`rescore_population` drives it: chunk by chunk, it appends the scored frame to a Parquet
folder (``part-NNNNN.parquet``), and writes the score store through
:meth:`ScoreStore.write`, so only changed scores get a history row and a write never hides a
newer event's effect (each entity's watermark is its newest event, as in
``Engine.recompute``).

Example::

    report = rescore_population(engine, "leads", ParquetSource(Path("/tmp/leads")),
                                out=Path("/tmp/leads-scores"), store=False)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import polars as pl

from rescore.db.engine import Database
from rescore.db.schema import DEFAULT_TENANT
from rescore.engine import Engine
from rescore.exceptions import PluginError
from rescore.plugins import Pack
from rescore.scoring import ScoreResult, check_result
from rescore.store import Computed

__all__ = [
    "DatabaseSource",
    "ParquetSource",
    "PopulationReport",
    "Source",
    "Vectorized",
    "rescore_population",
    "vectorized",
]

#: Entities per store transaction: big enough to amortize a commit, small enough to not hold
#: SQLite's write lock for long.
STORE_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class DatabaseSource:
    """Read the population from the pack's source database."""

    database: Database


@dataclass(frozen=True, slots=True)
class ParquetSource:
    """Read the population from a folder of Parquet files (the pack documents its layout)."""

    path: Path


Source = DatabaseSource | ParquetSource


@runtime_checkable
class Vectorized(Protocol):
    """What a pack implements to be rescored as a whole population."""

    def population_size(self, source: Source) -> int:
        """How many entities the source holds (for the progress bar)."""
        ...

    def score_population(self, source: Source, *, chunk_size: int) -> Iterator[pl.DataFrame]:
        """Scored chunks: one row per entity, an ``entity`` (string) column first."""
        ...

    def results_of(self, scored: pl.DataFrame) -> Iterator[tuple[str, dict[str, ScoreResult]]]:
        """Each scored row as its scorers' results, by scorer name."""
        ...


def vectorized(pack: Pack) -> Vectorized | None:
    """The pack's vectorized form, or None if it offers none."""
    return pack if isinstance(pack, Vectorized) else None


@dataclass(kw_only=True, slots=True)
class PopulationReport:
    """What a population rescoring did and how long each part took (seconds)."""

    entities: int = 0
    changed: int = 0
    stale: int = 0
    files: list[Path] = field(default_factory=list)
    score_seconds: float = 0.0
    parquet_seconds: float = 0.0
    store_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Entities per second, end to end."""
        return self.entities / self.total_seconds if self.total_seconds else 0.0


def rescore_population(
    engine: Engine | None,
    pack_name: str,
    pack: Pack,
    source: Source,
    *,
    chunk_size: int = 500_000,
    out: Path | None = None,
    store: bool = True,
    tenant: str = DEFAULT_TENANT,
    progress: Callable[[int], None] | None = None,
) -> PopulationReport:
    """Score every entity of ``source`` vectorized; write Parquet to ``out`` and/or the store
    (as ``tenant``'s scores). ``engine`` may be None only with ``store=False``.
    """
    form = vectorized(pack)
    if form is None:
        raise PluginError(f"pack {pack_name!r} offers no vectorized form")
    if store and engine is None:
        raise PluginError("writing the score store needs an engine")
    report = PopulationReport()
    started = time.perf_counter()
    marks = _watermarks(engine, tenant, pack_name) if store and engine is not None else {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    chunks = form.score_population(source, chunk_size=chunk_size)
    while True:
        tick = time.perf_counter()
        scored = next(chunks, None)
        report.score_seconds += time.perf_counter() - tick
        if scored is None:
            break
        if out is not None:
            tick = time.perf_counter()
            path = out / f"part-{len(report.files):05d}.parquet"
            scored.write_parquet(path)
            report.files.append(path)
            report.parquet_seconds += time.perf_counter() - tick
        if store and engine is not None:
            tick = time.perf_counter()
            _store(engine, tenant, pack_name, form.results_of(scored), marks, report)
            report.store_seconds += time.perf_counter() - tick
        report.entities += scored.height
        if progress is not None:
            progress(scored.height)
    report.total_seconds = time.perf_counter() - started
    return report


def _watermarks(engine: Engine, tenant: str, pack: str) -> dict[str, int]:
    """Each entity's newest event (one grouped query for the whole pack)."""
    return engine.event_watermarks(pack, tenant=tenant)


def _store(
    engine: Engine,
    tenant: str,
    pack: str,
    results: Iterable[tuple[str, dict[str, ScoreResult]]],
    marks: dict[str, int],
    report: PopulationReport,
) -> None:
    graph = engine.registry.graph(pack)
    batch: list[Computed] = []

    def flush() -> None:
        written = engine.write_scores(batch)
        report.stale += len(batch) - len(written)
        report.changed += sum(1 for c in written if c.changes)
        batch.clear()

    for entity, found in results:
        for name, result in found.items():
            check_result(graph[name], result)
        batch.append(
            Computed(
                tenant=tenant,
                pack=pack,
                entity=entity,
                results=found,
                versions={n: graph[n].version for n in found},
                watermark=marks.get(entity, 0),
                trigger="population",
            )
        )
        if len(batch) >= STORE_BATCH:
            flush()
    if batch:
        flush()
