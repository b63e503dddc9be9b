"""Short full garbage collections in long-running processes.

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
"""

from __future__ import annotations

import gc
import logging
import time

__all__ = ["settle"]

log = logging.getLogger(__name__)


def settle() -> int:
    """Collect, then freeze what the process holds after start-up; returns the number of
    objects frozen."""
    started = time.monotonic()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap settled: %d objects frozen in %.2f s", frozen, time.monotonic() - started)
    return frozen
