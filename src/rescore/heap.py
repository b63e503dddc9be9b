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

:func:`keep_freed_pages` tunes the other heap in the process: jemalloc, Polars' allocator.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["JEMALLOC_CONF", "collector_paused", "keep_freed_pages", "settle"]

log = logging.getLogger(__name__)

#: The environment variable Polars' jemalloc reads its options from, once, at its first
#: allocation, and the options :func:`keep_freed_pages` gives it.
JEMALLOC_CONF = "_RJEM_MALLOC_CONF"
KEEP_FREED = "dirty_decay_ms:60000,muzzy_decay_ms:60000"


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


def keep_freed_pages() -> None:
    """Let Polars' allocator keep freed pages for a minute before it returns them to the
    system, unless the environment already says otherwise.

    A population run scores chunk after chunk of the same size. Returned at once, the pages
    each chunk freed are faulted in again, zeroed, by the next: at 10M leads contacts that was
    5.4 s of system time in a 14.5 s run; kept, 2.6 s, and the run took 12.5 -> 10.2 s. The
    cost is memory: a process holds its peak for a minute after it. It must run before Polars
    is imported (the ``rescore`` command calls it first); later it changes nothing.
    """
    os.environ.setdefault(JEMALLOC_CONF, KEEP_FREED)
