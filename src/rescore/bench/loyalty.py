"""L1: seed 003's comparison, today's birthdays among 1M customers, event-driven vs legacy.

The population (1,000,000 customers in 200 businesses, the loyalty pack's demo generator) is
written once to a SQLite file in the temp folder and reused. Each mode runs the birthday rule
at the same instant on the same connection; the pack meters the queries each issues and the
rows the database hands back. Event-driven runs 21 times and legacy 3 (the median counts).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa

from rescore.bench.report import Measurement
from rescore.exceptions import RescoreError
from rescore.plugins import Pack, discover

__all__ = ["LOYALTY_CUSTOMERS", "birthdays"]

LOYALTY_CUSTOMERS = 1_000_000
SEED = 3
GOAL_MS = 50.0
GOAL_RATIO = 100.0


class _Found(Protocol):
    actions: list[Any]
    queries: int
    rows: int
    seconds: float


@runtime_checkable
class _Modes(Protocol):
    """What the loyalty pack offers for this comparison (``LoyaltyPack.automations``)."""

    def automations(
        self,
        conn: sa.Connection,
        mode: Any,
        *,
        now: datetime | None = None,
        business_id: str | None = None,
        rules: tuple[str, ...] = ...,
    ) -> _Found: ...


def _population(pack: Pack, size: int) -> tuple[sa.Engine, float | None]:
    """The SQLite file with ``size`` customers, and the seconds it took to make it now
    (None when an earlier run had made it)."""
    path = Path(tempfile.gettempdir()) / f"rescore-bench-loyalty-{size}.db"
    ready = path.with_suffix(".ready")
    engine = sa.create_engine(f"sqlite:///{path}")
    if ready.exists():
        return engine, None
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    with engine.begin() as conn:
        pack.source_metadata().create_all(conn)
        pack.generate_demo_data(conn, seed=SEED, size=size)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    ready.touch()
    return engine, time.perf_counter() - started


def _runs(modes: _Modes, conn: sa.Connection, mode: str, now: datetime, n: int) -> list[_Found]:
    return [modes.automations(conn, mode, now=now, rules=("birthday",)) for _ in range(n)]


def birthdays(size: int = LOYALTY_CUSTOMERS, repeats: Sequence[int] = (21, 3)) -> Measurement:
    """Measure both modes on ``size`` customers (``repeats``: event-driven, legacy runs)."""
    title = f"loyalty birthdays among {size / 1e6:g}M customers, event-driven vs legacy"
    try:
        pack = discover(["loyalty"])["loyalty"]
    except RescoreError as exc:
        return Measurement(id="L1", title=title, method="", skipped=f"no loyalty pack ({exc})")
    if not isinstance(pack, _Modes):
        return Measurement(id="L1", title=title, method="", skipped="the pack has no modes")
    engine, made = _population(pack, size)
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        with engine.connect() as conn:
            fast = _runs(pack, conn, "event-driven", now, repeats[0])
            slow = _runs(pack, conn, "legacy", now, repeats[1])
    finally:
        engine.dispose()
    if fast[0].actions != slow[0].actions:
        raise RescoreError("the two modes found different birthdays: a bug in the loyalty pack")
    numbers = _numbers(fast, slow, made)
    return Measurement(
        id="L1",
        title=title,
        method=(
            f"{size:,} demo customers in {min(200, max(1, size // 100))} businesses on SQLite "
            f"(seed {SEED}, made once in the temp folder{_made(made)}); the birthday rule at "
            f"{now:%Y-%m-%d %H:%M} UTC in each business's time zone, both modes on one "
            f"connection, median of {repeats[0]} event-driven and {repeats[1]} legacy runs; "
            "queries counted by a before_cursor_execute listener, rows = rows fetched"
        ),
        numbers=numbers,
        goal=f"event-driven <= {GOAL_MS:g} ms and >= {GOAL_RATIO:g}x fewer rows read",
        met=numbers["event_driven_ms"] <= GOAL_MS and numbers["rows_ratio"] >= GOAL_RATIO,
    )


def _made(seconds: float | None) -> str:
    return ", reused" if seconds is None else f", in {seconds:.1f} s this run"


def _numbers(fast: list[_Found], slow: list[_Found], made: float | None) -> dict[str, float]:
    numbers = {
        "birthdays_today": float(len(fast[0].actions)),
        "event_driven_ms": statistics.median(r.seconds for r in fast) * 1000,
        "event_driven_queries": float(fast[0].queries),
        "event_driven_rows": float(fast[0].rows),
        "legacy_ms": statistics.median(r.seconds for r in slow) * 1000,
        "legacy_queries": float(slow[0].queries),
        "legacy_rows": float(slow[0].rows),
    }
    numbers["rows_ratio"] = numbers["legacy_rows"] / max(1.0, numbers["event_driven_rows"])
    numbers["speedup"] = numbers["legacy_ms"] / max(1e-9, numbers["event_driven_ms"])
    if made is not None:
        numbers["generate_seconds"] = made
    return numbers
