"""``rescore bench``: the performance goals, measured on the embedded default and printed.

Each benchmark builds its own scratch deployment (a temporary SQLite file with the credit demo
clients, scored), states its method next to its numbers, and says whether its goal was met.
This is measurement, not a test: nothing here fails a build.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rescore.bench.report import (
    TABLE_END,
    TABLE_START,
    Measurement,
    as_data,
    machine,
    markdown,
    print_table,
    replace_table,
    write_json,
)

__all__ = [
    "BENCHMARKS",
    "NOT_QUICK",
    "TABLE_END",
    "TABLE_START",
    "BenchOptions",
    "Measurement",
    "as_data",
    "machine",
    "markdown",
    "print_table",
    "replace_table",
    "run",
    "write_json",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class BenchOptions:
    quick: bool = False
    population_sizes: tuple[int, ...] = (1_000_000, 10_000_000)


def _p1(o: BenchOptions) -> Measurement:
    from rescore.bench.lanes import critical_latency

    return critical_latency(samples=60 if o.quick else 300)


def _p2(o: BenchOptions) -> Measurement:
    from rescore.bench.lanes import normal_throughput

    return normal_throughput(seconds=4 if o.quick else 15)


def _p3(o: BenchOptions) -> Measurement:
    from rescore.bench.api import batch_rescore

    return batch_rescore(rounds=3 if o.quick else 7)


def _p4(o: BenchOptions) -> Measurement:
    from rescore.bench.population import population_rescore

    return population_rescore(o.population_sizes[:1] if o.quick else o.population_sizes)


def _p4s(o: BenchOptions) -> Measurement:
    from rescore.bench.store import store_rescore

    size = 200_000 if o.quick else 1_000_000
    return store_rescore(pg_size=size, sqlite_size=size)


def _p5(o: BenchOptions) -> Measurement:
    from rescore.bench.api import lookup_load

    return lookup_load(seconds=5 if o.quick else 15)


def _p5f(o: BenchOptions) -> Measurement:
    from rescore.bench.feast import feast_comparison

    return feast_comparison(seconds=5 if o.quick else 15)


def _p6(_o: BenchOptions) -> Measurement:
    from rescore.bench.backup import backup_restore

    return backup_restore(history_rows=1_000_000)


def _m1(_o: BenchOptions) -> Measurement:
    from rescore.bench.model import german_credit_auc

    return german_credit_auc()


def _p7(o: BenchOptions) -> Measurement:
    from rescore.bench.ingest import http_ingest

    return http_ingest(seconds=4 if o.quick else 15)


def _t2(_o: BenchOptions) -> Measurement:
    from rescore.bench.alerts import alert_recall

    return alert_recall()


def _t3(o: BenchOptions) -> Measurement:
    from rescore.bench.alerts import match_throughput

    return match_throughput(tenders=500 if o.quick else 2_000)


def _t4(o: BenchOptions) -> Measurement:
    from rescore.bench.alerts import win_probability

    return win_probability(rows_per_month=2_000 if o.quick else 10_000)


def _t5(o: BenchOptions) -> Measurement:
    from rescore.bench.bot import bot_latency

    return bot_latency(commands=60 if o.quick else 200)


def _l1(_o: BenchOptions) -> Measurement:
    from rescore.bench.loyalty import birthdays

    return birthdays()


def _c1(o: BenchOptions) -> Measurement:
    from rescore.bench.content import content_pipeline

    return content_pipeline(copies=4 if o.quick else 20)


def _t1(_o: BenchOptions) -> Measurement:
    from rescore.bench.tenders import price_analysis

    return price_analysis()


BENCHMARKS: dict[str, Callable[[BenchOptions], Measurement]] = {
    "P1": _p1,
    "P2": _p2,
    "P3": _p3,
    "P4": _p4,
    "P4S": _p4s,
    "P5": _p5,
    "P5F": _p5f,
    "P6": _p6,
    "P7": _p7,
    "L1": _l1,
    "C1": _c1,
    "T1": _t1,
    "T2": _t2,
    "T3": _t3,
    "T4": _t4,
    "T5": _t5,
    "M1": _m1,
}

#: Benchmarks a --quick run leaves out (they run in a full run or when named with --only).
NOT_QUICK = frozenset({"P6", "M1", "T1"})


def run(
    options: BenchOptions,
    only: Sequence[str] = (),
    progress: Callable[[str], None] = lambda _name: None,
) -> list[Measurement]:
    """Run the chosen benchmarks (all by default) in order."""
    results = []
    for name, bench in BENCHMARKS.items():
        if only and name not in only:
            continue
        if options.quick and not only and name in NOT_QUICK:
            continue
        progress(name)
        results.append(bench(options))
    return results
