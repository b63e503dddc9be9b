"""Price analyses cached for an hour: in Redis when configured, in this process otherwise.

Seed 001 caches ML results in Redis with a one-hour TTL (``ml:precio:<producto>:<hash>``) and
wants the hit rate watched. :class:`PriceCache` keys an analysis by its question
(:meth:`.PriceQuery.cache_key`: product, buyer, region, day), stores it as JSON, and counts
hits and misses; :meth:`PriceCache.collector` exposes the counts to Prometheus as
``rescore_tenders_price_cache_total{result="hit"|"miss"}`` (registered in the service's
registry by the pack's routes). A Redis that is down degrades to a miss, never an error.

Scores do not go through the cache: a recompute reads the source (the engine's rule), the
routes and commands that answer people do.

Example::

    cache = PriceCache(ttl=3600, url="redis://127.0.0.1:6379/0")
    found = cache.analysis(conn, PriceQuery(producto="notebook hp", as_of=date(2025, 12, 31)))
    cache.hits, cache.misses     # (0, 1), then (1, 1) after asking again
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, Metric
from sqlalchemy import Connection

from rescore.packs.tenders.analysis import PriceQuery, analyze

#: What computes an analysis on a miss (the pack's adds the names found by meaning).
Analyzer = Callable[[Connection, PriceQuery], dict[str, Any]]

__all__ = ["KEY_PREFIX", "MAX_LOCAL", "PriceCache"]

log = logging.getLogger(__name__)

KEY_PREFIX = "rescore:tenders:precio:"
#: Entries the in-process cache keeps (least recently used go first).
MAX_LOCAL = 2_048


class PriceCache:
    """Analyses by question for ``ttl`` seconds, with hit and miss counts."""

    def __init__(
        self,
        *,
        ttl: float,
        url: str | None = None,
        analyzer: Analyzer = analyze,
        variant: str = "",
    ) -> None:
        self.ttl = ttl
        self.analyzer = analyzer
        #: Part of every key: answers of different embedders never mix.
        self.variant = variant
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._local: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._redis: Any = None
        if url:
            import redis

            self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def analysis(self, conn: Connection, query: PriceQuery) -> dict[str, Any]:
        """The cached analysis of ``query``, or a fresh one (then cached)."""
        key = KEY_PREFIX + hashlib.sha1(query.cache_key().encode()).hexdigest()
        found = self._get(key) if self.ttl > 0 else None
        self._count(found is not None)
        if found is not None:
            value: dict[str, Any] = orjson.loads(found)
            return value
        fresh = self.analyzer(conn, query)
        if self.ttl > 0:
            self._put(key, orjson.dumps(fresh))
        return fresh

    def clear(self) -> None:
        """Forget every cached analysis (this process's; in Redis, this cache's keys)."""
        with self._lock:
            self._local.clear()
        if self._redis is not None:
            try:
                for key in self._redis.scan_iter(match=KEY_PREFIX + "*", count=500):
                    self._redis.delete(key)
            except Exception as exc:  # redis errors are not ours to raise: a cold cache is fine
                log.warning("tenders price cache: could not clear Redis (%s)", exc)

    def collector(self) -> _CacheCollector:
        """A Prometheus collector of this cache's hit and miss counts."""
        return _CacheCollector(self)

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _get(self, key: str) -> bytes | None:
        if self._redis is not None:
            try:
                found: bytes | None = self._redis.get(key)
            except Exception as exc:  # a Redis that is down is a miss
                log.warning("tenders price cache: Redis read failed (%s)", exc)
                return None
            return found
        with self._lock:
            entry = self._local.get(key)
            if entry is None or entry[0] < time.monotonic():
                return None
            self._local.move_to_end(key)
            return entry[1]

    def _put(self, key: str, value: bytes) -> None:
        if self._redis is not None:
            try:
                self._redis.set(key, value, px=int(self.ttl * 1000))
            except Exception as exc:
                log.warning("tenders price cache: Redis write failed (%s)", exc)
            return
        with self._lock:
            self._local[key] = (time.monotonic() + self.ttl, value)
            self._local.move_to_end(key)
            while len(self._local) > MAX_LOCAL:
                self._local.popitem(last=False)


class _CacheCollector:
    """``rescore_tenders_price_cache_total`` by result, read when Prometheus scrapes."""

    def __init__(self, cache: PriceCache) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "rescore_tenders_price_cache",
            "Tender price analyses by cache result",
            labels=["result"],
        )
        family.add_metric(["hit"], float(self._cache.hits))
        family.add_metric(["miss"], float(self._cache.misses))
        yield family
