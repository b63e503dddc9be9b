"""A lookup cache shared by every process, in Redis (optional: ``RESCORE_CACHE_URL``).

The in-process cache of :mod:`rescore.api.lookup` is the default; with several API processes
and Celery workers on other machines, each would only hear of its own writes. This cache keeps
an entity's JSON-ready view under ``rescore:v:<tenant>:<pack>:<entity>`` for ``ttl`` seconds,
and every process that ingests or rescores drops the keys it touched (an :class:`Observer`
attached by ``Engine.from_settings``).

A reader that loaded a view just before a write must not store it just after that write's
invalidation (it would serve the old view for a whole TTL). So an invalidation also bumps a
per-entity generation counter, a reader notes the generation before it reads the database, and
the store is a small Lua script that writes only if the generation is unchanged.

Example::

    cache = RedisCache("redis://127.0.0.1:6379/0", ttl=60)
    generation = cache.generation(key)
    view = load_from_database(key)
    cache.put(key, view, generation)
    cache.get(key)        # the view, until a write drops it or the TTL ends
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from rescore.engine import IngestResult, Observer, Outcome, keys_of
from rescore.exceptions import StorageUnavailable

__all__ = ["Key", "RedisCache"]

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # tenant, pack, entity

# KEYS[1] generation, KEYS[2] view; ARGV[1] generation seen, ARGV[2] view, ARGV[3] ttl in ms
_PUT_IF_UNCHANGED = """
local now = redis.call('GET', KEYS[1]) or '0'
if now == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


class RedisCache:
    """Views by (tenant, pack, entity) in Redis, with TTL and cross-process invalidation."""

    def __init__(self, url: str, *, ttl: float, prefix: str = "rescore") -> None:
        import redis

        self.ttl = ttl
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._put = self._redis.register_script(_PUT_IF_UNCHANGED)

    def _key(self, kind: str, key: Key) -> str:
        return f"{self.prefix}:{kind}:" + ":".join(key)

    def get(self, key: Key) -> dict[str, Any] | None:
        """The cached view, or None (also when Redis cannot be reached: the database answers)."""
        try:
            raw = self._redis.get(self._key("v", key))
        except Exception as exc:
            log.warning("redis cache unavailable: %s", exc)
            return None
        return None if raw is None else dict(orjson.loads(raw))

    def generation(self, key: Key) -> str:
        try:
            raw = self._redis.get(self._key("g", key))
        except Exception:
            return "unknown"  # never equal to a stored generation: put() then stores nothing
        if raw is None:
            return "0"
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def _ttl_ms(self) -> int:
        """The TTL jittered down by up to 25%, so entries cached together do not all expire
        together (the in-process cache does the same)."""
        return max(1, int(self.ttl * 1000 * random.uniform(0.75, 1.0)))

    def put(self, key: Key, view: Mapping[str, Any], generation: str) -> bool:
        """Store ``view`` unless ``key`` was invalidated since ``generation`` was read."""
        if self.ttl <= 0:
            return False
        try:
            done = self._put(
                keys=[self._key("g", key), self._key("v", key)],
                args=[generation, orjson.dumps(dict(view)), self._ttl_ms()],
            )
        except Exception as exc:
            log.warning("redis cache unavailable: %s", exc)
            return False
        return bool(done)

    def drop(self, keys: Sequence[Key]) -> None:
        """Invalidate: bump each key's generation and delete its view, in one round trip."""
        if not keys:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.incr(self._key("g", key))
                pipe.expire(self._key("g", key), 86_400)
                pipe.delete(self._key("v", key))
            pipe.execute()
        except Exception as exc:
            # a stale entry would outlive this write by up to one TTL: say so loudly
            raise StorageUnavailable(f"redis cache unavailable, not invalidated: {exc}") from exc

    def invalidator(self) -> _Invalidator:
        return _Invalidator(self)

    def close(self) -> None:
        self._redis.close()


class _Invalidator(Observer):
    """Drops the cached views of what this process ingests or rescores."""

    def __init__(self, cache: RedisCache) -> None:
        self.cache = cache

    def ingested(self, result: IngestResult) -> None:
        self._drop(sorted({(e.tenant, e.pack, e.entity) for e in result.events}))

    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        self._drop(sorted(set(keys_of(outcomes))))

    def _drop(self, keys: Sequence[Key]) -> None:
        try:
            self.cache.drop(keys)
        except StorageUnavailable as exc:
            log.error("%s", exc)
