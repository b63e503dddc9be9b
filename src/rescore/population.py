"""Rescore a whole population at once, vectorized, from the source database or Parquet.

The engine rescores entities one batch at a time through ``Scorer.score``. For a nightly or
first-time rescoring of millions of entities a pack may also offer a vectorized form: it
overrides the :class:`Pack` hooks ``population_size``, ``score_population`` (chunks of the
population scored into Polars frames, one row per entity, an ``entity`` column first) and
``results_of`` (such a frame back into the :class:`ScoreResult` objects its scorers would have
produced; a property test in the pack proves they are the same).

:func:`rescore_population` drives it: chunk by chunk, it appends the scored frame to a Parquet
folder (``part-NNNNN.parquet``), and writes the score store through the engine's bulk write
(:meth:`ScoreStore.write_bulk`: staged and compared in the database, one transaction per
store batch), so only changed scores are written and get a history row, an unchanged re-run
writes nothing, and a write never hides a newer event's effect (each entity's watermark is its
newest event, as in ``Engine.recompute``).

Each written score also keeps a *population digest*: 128 bits of Polars' row hash over the
entity's scored row and its watermark, seeded by the scorers' versions. Every other write
clears it. A re-run computes the digests of each chunk first and builds results only for the
entities whose stored scores do not all carry theirs, so an unchanged re-run costs the scoring
and one primary-key lookup per entity instead of a result object, three JSON texts and a
staged comparison per score (measured in ``rescore bench`` P4S). The hash is not stable
across Polars versions or machines: a digest that does not match only sends the entity
through the full comparison, which writes nothing when nothing changed.

Example::

    report = rescore_population(engine, "leads", pack, ParquetSource(Path("/tmp/leads")),
                                out=Path("/tmp/leads-scores"), store=False)
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from rescore.db.engine import Database
from rescore.db.schema import DEFAULT_TENANT
from rescore.engine import Engine
from rescore.exceptions import PluginError
from rescore.heap import collector_paused
from rescore.plugins import Pack
from rescore.scoring import ScoreResult, check_result
from rescore.store import Computed

__all__ = [
    "DatabaseSource",
    "ParquetSource",
    "PopulationReport",
    "Shard",
    "Source",
    "rescore_population",
    "vectorized",
]

#: Entities per store transaction, by dialect: big enough to amortize the staging and the
#: commit, small enough not to hold SQLite's single write lock for long (critical events wait
#: behind it) nor to make one server transaction huge.
STORE_BATCH = {"sqlite": 20_000, "postgresql": 100_000, "mysql": 50_000, "mariadb": 50_000}


@dataclass(frozen=True, slots=True)
class DatabaseSource:
    """Read the population from the pack's source database."""

    database: Database


@dataclass(frozen=True, slots=True)
class ParquetSource:
    """Read the population from a folder of Parquet files (the pack documents its layout)."""

    path: Path


Source = DatabaseSource | ParquetSource
#: (index, count): the part of a population one of ``count`` processes rescores
Shard = tuple[int, int]


def vectorized(pack: Pack) -> Pack | None:
    """The pack if it offers the vectorized form (it overrides :meth:`Pack.score_population`
    and :meth:`Pack.results_of`), or None; a pack that overrides only one of them is broken."""
    kind = type(pack)
    scores = kind.score_population is not Pack.score_population
    results = kind.results_of is not Pack.results_of
    if scores != results:
        raise PluginError(
            f"pack {pack.name!r} must override both score_population and results_of, or neither"
        )
    return pack if scores else None


@dataclass(kw_only=True, slots=True)
class PopulationReport:
    """What a population rescoring did and how long each part took (seconds)."""

    entities: int = 0
    changed: int = 0
    stale: int = 0
    unchanged: int = 0  # skipped: their stored scores carry this run's digest
    files: list[Path] = field(default_factory=list)
    score_seconds: float = 0.0
    parquet_seconds: float = 0.0
    store_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Entities per second, end to end."""
        return self.entities / self.total_seconds if self.total_seconds else 0.0

    def as_dict(self) -> dict[str, float]:
        """The counts and times as plain numbers (what a shard's Celery task returns)."""
        return {
            "entities": self.entities,
            "changed": self.changed,
            "stale": self.stale,
            "unchanged": self.unchanged,
            "score_seconds": self.score_seconds,
            "store_seconds": self.store_seconds,
            "total_seconds": self.total_seconds,
        }


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
    shard: Shard | None = None,
) -> PopulationReport:
    """Score every entity of ``source`` vectorized; write Parquet to ``out`` and/or the store
    (as ``tenant``'s scores). ``engine`` may be None only with ``store=False``.

    ``shard=(index, count)`` keeps only the chunks (contiguous entity ranges, in the pack's
    order) whose ordinal is ``index`` modulo ``count``: ``count`` processes, one per index,
    rescore the population together (:mod:`rescore.runtime.sharded`). Each still reads and
    scores the chunks it skips, a few percent of its time beside the store.
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
    index, count = shard or (0, 1)
    # chunks hold disjoint entities: digests written by this run never match a later chunk,
    # so a pack with none when the run starts (a first run) needs no lookups at all
    digested = store and engine is not None and engine.has_population_digests(pack_name, tenant)
    for ordinal in itertools.count():
        tick = time.perf_counter()
        scored = next(chunks, None)
        report.score_seconds += time.perf_counter() - tick
        if scored is None:
            break
        if ordinal % count != index:
            continue
        if out is not None:
            tick = time.perf_counter()
            path = out / f"part-{ordinal:05d}.parquet"
            scored.write_parquet(path)
            report.files.append(path)
            report.parquet_seconds += time.perf_counter() - tick
        if store and engine is not None:
            tick = time.perf_counter()
            with collector_paused():  # millions of young, acyclic objects: see rescore.heap
                _write(engine, tenant, pack_name, form, scored, marks, digested, report)
            report.store_seconds += time.perf_counter() - tick
        report.entities += scored.height
        if progress is not None:
            progress(scored.height)
    report.total_seconds = time.perf_counter() - started
    return report


def _write(
    engine: Engine,
    tenant: str,
    pack: str,
    form: Pack,
    scored: pl.DataFrame,
    marks: dict[str, int],
    digested: bool,
    report: PopulationReport,
) -> None:
    """Write one scored chunk to the store; when the pack's scores carry digests
    (``digested``), skip the entities whose stored scores all carry this run's."""
    versions = _versions(engine, pack)
    digests = _digests(scored, marks, versions)
    write = scored
    if digested:
        misses = engine.population_misses(
            pack, list(digests.items()), tenant=tenant, scorers=len(versions)
        )
        write = scored.filter(pl.col("entity").is_in(list(misses)))
    report.unchanged += scored.height - write.height
    _store(engine, tenant, pack, form.results_of(write), marks, versions, digests, report)


def _versions(engine: Engine, pack: str) -> dict[str, str]:
    graph = engine.registry.graph(pack)
    return {name: graph[name].version for name in graph.order}


def _digests(
    scored: pl.DataFrame, marks: dict[str, int], versions: dict[str, str]
) -> dict[str, str]:
    """``{entity: digest}`` for each row: two 64-bit row hashes (seeded by the scorers'
    versions) over the scored row and the entity's watermark, as 32 hex digits."""
    seed = hashlib.blake2b(repr(sorted(versions.items())).encode(), digest_size=16).digest()
    entities = scored.get_column("entity").to_list()
    framed = scored.with_columns(
        pl.Series("__watermark", [marks.get(e, 0) for e in entities], dtype=pl.Int64)
    )
    high, low = (
        framed.hash_rows(seed=int.from_bytes(seed[i : i + 8], "big")).to_list() for i in (0, 8)
    )
    return {e: f"{h:016x}{lo:016x}" for e, h, lo in zip(entities, high, low, strict=True)}


def _watermarks(engine: Engine, tenant: str, pack: str) -> dict[str, int]:
    """Each entity's newest event (one grouped query for the whole pack)."""
    return engine.event_watermarks(pack, tenant=tenant)


def _store(
    engine: Engine,
    tenant: str,
    pack: str,
    results: Iterable[tuple[str, dict[str, ScoreResult]]],
    marks: dict[str, int],
    versions: dict[str, str],
    digests: dict[str, str],
    report: PopulationReport,
) -> None:
    graph = engine.registry.graph(pack)
    size = STORE_BATCH.get(engine.db.dialect, 20_000)
    batch: list[Computed] = []

    def flush() -> None:
        written = engine.write_scores(batch, bulk=True)
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
                versions=versions,  # one mapping for all: results name only the pack's scorers
                watermark=marks.get(entity, 0),
                trigger="population",
                digest=digests[entity],
            )
        )
        if len(batch) >= size:
            flush()
    if batch:
        flush()
