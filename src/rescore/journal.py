"""An engine observer that writes what the engine did as log lines with context fields.

Each line carries ``pack``, ``entity``, ``tenant``, ``lane``, ``event_id`` and ``duration_ms``
where they apply, as ``extra=`` fields, so ``RESCORE_LOG_FORMAT=json`` gives Loki lines it can
filter on (``{pack="credit"} | json | entity="1001"``). Failures are warnings; every ingested
event and every rescored entity is a debug line (checked with ``isEnabledFor`` first, so at the
default level they cost one comparison a batch). :func:`rescore.bootstrap.open_engine` attaches
it to every engine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rescore.reports import Failure, IngestResult, Observer, Outcome

__all__ = ["Journal"]

log = logging.getLogger("rescore.journal")


class Journal(Observer):
    """Log lines for ingest, rescoring and failures (see the module docstring)."""

    def ingested(self, result: IngestResult) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        for e in result.events:
            context = {"pack": e.pack, "entity": e.entity, "tenant": e.tenant}
            extra = context | {"event_id": e.event_id, "lane": str(e.lane)}
            log.debug("event %s (%s) stored", e.event_id, e.type, extra=extra)

    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        for o in outcomes:
            lane = o.lane.value if o.lane is not None else "direct"
            extra: dict[str, object] = {
                "pack": o.pack,
                "entity": o.entity,
                "tenant": o.tenant,
                "lane": lane,
            }
            if o.causes:
                newest = max(o.causes, key=lambda c: c.seq)
                waited = (o.committed_at - newest.received_at).total_seconds()
                extra |= {"event_id": newest.event_id, "duration_ms": round(waited * 1000, 3)}
            log.debug("rescored, %d score(s) changed", len(o.changes), extra=extra)

    def failed(self, failure: Failure) -> None:
        work = failure.work
        extra = {"pack": work.pack, "entity": work.entity, "tenant": work.tenant}
        what = "dead-lettered" if failure.dead else "will be retried"
        log.warning("rescoring failed (%s): %s", what, failure.error, extra=extra)
