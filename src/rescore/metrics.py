"""Prometheus metrics: an engine observer that counts what the engine reports, and gauges read
from the engine when Prometheus scrapes.

Counters and histograms are updated by the observer hooks (after each commit, so they count
what really happened); queue depth and lane lag are asked of the engine at scrape time, so they
are true even when another process (a Celery worker, a second server) did the work. Each
:class:`Metrics` owns its :class:`CollectorRegistry` (never the process-wide default one), so
two apps, or two tests, in one process never share a count. Labels stay bounded: pack, event
type (declared by packs), lane and scorer, never an entity or a tenant-supplied string.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rescore.reports import BulkOutcomes, Failure, IngestResult, Observer, Outcome

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = [
    "CONTENT_TYPE",
    "HTTP_BUCKETS",
    "LATENCY_BUCKETS",
    "Metrics",
    "MetricsServer",
    "metrics_of",
    "serve_metrics",
]

log = logging.getLogger(__name__)

#: The text exposition format's content type (version 0.0.4, what Prometheus scrapes).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Seconds from an event's arrival to its entity's fresh score: critical work is meant to take
#: well under a second, normal work waits for its lane's flush (seconds to minutes).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

#: Seconds an HTTP request took: a cached lookup takes about a millisecond, ingest with
#: ``?wait=true`` up to its timeout.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

#: The lane label of a rescore that no event's lane asked for (``rescore recompute``).
DIRECT = "direct"


class Metrics(Observer):
    """The engine's metrics in a registry of their own; :meth:`watch` adds the scrape-time
    gauges of an engine, :meth:`exposition` is the body of ``GET /metrics``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        counter = _maker(self.registry)
        self.events = counter("rescore_events_ingested", "New events stored", "pack type lane")
        self.duplicates = counter("rescore_events_duplicate", "Events already stored, acked", "")
        self.queued = counter("rescore_entities_queued", "Entities queued by ingest", "lane")
        self.recomputes = counter("rescore_recomputes", "Entities rescored", "pack lane")
        self.failures = counter("rescore_recompute_failures", "Failed rescores", "pack")
        self.dead = counter("rescore_dead_letters", "Entities dead-lettered", "pack")
        self.given_back = counter("rescore_requeued", "Entities put back in line", "lane")
        self.drift = counter("rescore_reconcile_drift", "Drifted scores found", "pack scorer")
        self.repairs = counter("rescore_reconcile_repairs", "Entities repaired", "pack")
        self.cache = counter("rescore_lookup_cache", "Lookups by cache result", "result")
        self._hit, self._miss = self.cache.labels("hit"), self.cache.labels("miss")
        self.fired_total = counter("rescore_automation_firings", "Rules fired", "rule status")
        self.deliveries = counter(
            "rescore_automation_deliveries", "Delivery attempts by outcome", "kind status"
        )
        self.http = Histogram(
            "rescore_http_request_duration_seconds",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self._http_children: dict[tuple[str, str, int], Any] = {}
        self.latency = Histogram(
            "rescore_event_to_score_seconds",
            "Seconds from an event's arrival to its entity's fresh score",
            ["lane"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch(self, engine: Engine) -> None:
        """Also expose ``engine``'s pending work and lane lag, read at each scrape."""
        self.registry.register(EngineGauges(engine))

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)

    def cache_result(self, hit: bool) -> None:
        """Count one lookup as a cache hit or miss (:class:`rescore.api.lookup.Lookup` calls
        it; the children are bound once, so a hit costs one increment)."""
        (self._hit if hit else self._miss).inc()

    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request; ``route`` is its template (``/v1/scores/{pack}/{entity}``). The
        labelled child is kept per label set (bounded: templates x methods x statuses), which
        makes this a dict lookup and an observe on the lookup path."""
        key = (route, method, status)
        child = self._http_children.get(key)
        if child is None:
            child = self._http_children[key] = self.http.labels(route, method, str(status))
        child.observe(seconds)

    # observer hooks ---------------------------------------------------------------------------

    def ingested(self, result: IngestResult) -> None:
        for event in result.events:
            self.events.labels(event.pack, event.type, str(event.lane)).inc()
        if result.duplicates:
            self.duplicates.inc(result.duplicates)
        _add(self.queued, result.queued)

    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        if isinstance(outcomes, BulkOutcomes):  # no lane, no cause: a count is all there is
            self.recomputes.labels(outcomes.pack, DIRECT).inc(len(outcomes))
            return
        for outcome in outcomes:
            lane = outcome.lane.value if outcome.lane is not None else DIRECT
            self.recomputes.labels(outcome.pack, lane).inc()
            if outcome.stale:
                continue  # not fresh: newer events wait, their latency is measured later
            for cause in outcome.causes:
                seconds = (outcome.committed_at - cause.received_at).total_seconds()
                self.latency.labels(cause.lane.value).observe(max(0.0, seconds))

    def failed(self, failure: Failure) -> None:
        self.failures.labels(failure.work.pack).inc()
        if failure.dead:
            self.dead.labels(failure.work.pack).inc()

    def requeued(self, queued: Mapping[str, int]) -> None:
        _add(self.given_back, queued)

    def fired(self, firings: Sequence[tuple[str, str]]) -> None:
        for rule, status in firings:
            self.fired_total.labels(rule, status).inc()

    def delivered(self, rule: str, kind: str, status: str) -> None:
        self.deliveries.labels(kind, status).inc()

    def reconciled(self, report: Any) -> None:
        for scorer, count in report.by_scorer.items():
            self.drift.labels(report.pack, scorer).inc(count)
        self.repairs.labels(report.pack).inc(report.repaired)


class EngineGauges(Collector):
    """Pending work by lane (and dead letters) and lane lag, asked of the engine at scrape
    time. A database that does not answer never fails the scrape: the counters still come
    out, with ``rescore_database_up 0`` and no queue gauges."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("rescore_database_up", "1 when the queue could be read")
        try:
            pending = self.engine.pending_counts(tenant=None)
            lag = self.engine.lane_lag()
        except Exception as exc:  # an outage must not turn a scrape into an error
            log.warning("metrics: the queue could not be read (%s)", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _by_lane("rescore_pending", "Entities waiting, by lane (dead: dead letters)", pending)
        yield _by_lane("rescore_lane_lag_seconds", "Age of each lane's oldest due work", lag)


def metrics_of(engine: Engine) -> Metrics | None:
    """The metrics observer attached to ``engine`` (by :func:`rescore.bootstrap.open_engine`)."""
    return next((o for o in engine.observers if isinstance(o, Metrics)), None)


class MetricsServer:
    """A running ``/metrics`` HTTP server of a worker process; :meth:`close` stops it."""

    def __init__(self, server: Any, address: str) -> None:
        self._server = server
        self.address = address

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(engine: Engine, host: str, port: int) -> MetricsServer:
    """Serve ``engine``'s metrics on ``host:port`` from a daemon thread (the workers have no
    HTTP app of their own). The engine must carry a :class:`Metrics` (``open_engine`` attaches
    one)."""
    found = metrics_of(engine)
    if found is None:
        raise ValueError("this engine has no metrics observer: open it with open_engine")
    server, _thread = start_http_server(port, addr=host, registry=found.registry)
    log.info("metrics on http://%s:%d/metrics", host, port)
    return MetricsServer(server, f"{host}:{port}")


def _maker(registry: CollectorRegistry) -> Any:
    """A counter factory bound to ``registry``; labels given as one space-separated string."""

    def counter(name: str, documentation: str, labels: str) -> Counter:
        return Counter(name, documentation, labels.split(), registry=registry)

    return counter


def _add(counter: Counter, by_lane: Mapping[str, int]) -> None:
    for lane, count in by_lane.items():
        if count:
            counter.labels(lane).inc(count)


def _by_lane(name: str, documentation: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["lane"])
    for lane, value in sorted(values.items()):
        family.add_metric([lane], float(value))
    return family
