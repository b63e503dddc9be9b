"""The cyclic garbage collector, kept out of the way of latency and bulk work.

Python's cyclic collector stops every thread while it runs, and a full (generation 2) pass
walks every tracked object the process holds. Once a server has imported its packs and loaded
their models that is millions of objects, which live as long as the process: measured in
``rescore serve`` under bench P1's load, 7 full passes in a run took 706 ms together and up to
179 ms each, and every critical event in flight at that moment waited for it (P1's p95 and
p99 were those pauses).

:func:`settle` is called once a process has finished starting (its packs prepared): it
collects what start-up left behind, then moves everything that survived into the permanent
generation (``gc.freeze``), which the collector no longer walks. Later passes only visit
objects made since, so they stay short. Nothing is leaked by it: frozen objects are still
freed by reference counting, only a cycle among them would outlive its use.

:func:`collector_paused` turns the collector off while a bulk job builds millions of young,
acyclic objects that every pass would otherwise walk again (population rescoring).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused", "settle"]

log = logging.getLogger(__name__)


def settle() -> int:
    """Collect, then freeze what the process holds after start-up; returns the number of
    objects frozen. Once per process: ``rescore serve`` prepares its packs before its
    embedded runtime does, and both settle."""
    if gc.get_freeze_count():
        return gc.get_freeze_count()
    started = time.monotonic()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap settled: %d objects frozen in %.2f s", frozen, time.monotonic() - started)
    return frozen


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside the block (a first population run of 200k contacts into
    SQLite took 33.5 s with it, 21.8 s without); back on after it, if it was on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
