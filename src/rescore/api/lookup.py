"""Score lookups that always answer: cache -> database -> last snapshot.

The in-process cache keeps the JSON-ready view of an entity's current scores and drops it the
moment this process ingests an event for the entity or rescores it, so a hit is never older
than the newest write this process knows of. The TTL is only a safety net for writes this
process does not see (another process's): each entry's is jittered, so entries cached together
do not all expire together, and an entry past it is still served at once while one background
refresh per key re-reads it (stale-while-revalidate); only an entry left unread for a second
TTL past that is read again before answering. When the database cannot
be reached, a lookup answers from the cache (even past its TTL) or from the last snapshot file
with ``stale: true`` and says where the answer came from, instead of failing. Once the engine
knows the database is unreachable (any transaction of this process failed: a worker's poll, a
heartbeat, a lookup), every answer says ``stale: true`` and ``stale_since``, cache hits too.

With ``shared`` (a :class:`rescore.cache.RedisCache`, from ``RESCORE_CACHE_URL``) hits come
from Redis instead, which every process's writes invalidate; the in-process copy then only
serves the database-down fallback.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rescore.engine import Engine, IngestResult, Observer, Outcome, keys_of
from rescore.exceptions import EntityNotFound, StorageUnavailable
from rescore.store import StoredScore

if TYPE_CHECKING:
    from rescore.cache import RedisCache

__all__ = ["Lookup", "score_view"]

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # tenant, pack, entity
META_COLUMNS = ("tenant", "entity", "watermark", "computed_at")
JITTER = 0.25  # an entry's soft TTL is drawn from [ttl * (1 - JITTER), ttl]
REFRESHERS = 2  # background refresh threads (one refresh per key in flight at most)


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached view: served as is until ``soft``, served while one refresh re-reads it until
    ``hard``, past that only when the database is down."""

    view: dict[str, Any]
    soft: float
    hard: float


def view(
    tenant: str, pack: str, entity: str, scores: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """The JSON-ready view of an entity's scores (without the per-request fields); each score
    is a dict as :func:`score_dict` makes it."""
    return {
        "tenant": tenant,
        "pack": pack,
        "entity": entity,
        "scores": dict(scores),
        "versions": {name: s["version"] for name, s in scores.items()},
        "watermark": max(s["watermark"] for s in scores.values()),
        "updated_at": max((s["computed_at"] for s in scores.values()), key=datetime.fromisoformat),
    }


def score_dict(
    value: float,
    components: Mapping[str, float],
    reasons: Sequence[str],
    version: str,
    watermark: int,
    changed_at: datetime,
    computed_at: datetime,
) -> dict[str, Any]:
    return {
        "value": value,
        "components": dict(components),
        "reasons": list(reasons),
        "version": version,
        "watermark": watermark,
        "changed_at": changed_at.isoformat(),
        "computed_at": computed_at.isoformat(),
    }


def score_view(
    tenant: str, pack: str, entity: str, stored: Mapping[str, StoredScore]
) -> dict[str, Any]:
    """The view of an entity's current scores."""
    scores = {
        name: score_dict(
            s.value, s.components, s.reasons, s.version, s.watermark, s.changed_at, s.computed_at
        )
        for name, s in stored.items()
    }
    return view(tenant, pack, entity, scores)


class Lookup(Observer):
    """Thread-safe; register it with ``engine.observers`` so writes invalidate it.

    ``clock``, ``rng`` and ``submit`` (how a background refresh is started) are there so tests
    control time, jitter and when a refresh runs. ``count(hit)`` hears once per lookup whether
    the cache answered (the metrics' hit and miss counters)."""

    def __init__(
        self,
        engine: Engine,
        *,
        ttl: float,
        max_entries: int = 100_000,
        snapshot_dir: Path,
        shared: RedisCache | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        submit: Callable[[Callable[[], None]], object] | None = None,
        count: Callable[[bool], None] | None = None,
    ) -> None:
        self.engine = engine
        self.shared = shared
        self.ttl = ttl
        self.max_entries = max_entries
        self.snapshot_dir = snapshot_dir
        self._clock = clock
        self._rng = rng or random.Random()
        self._submit = submit or self._in_background
        self._count = count or _uncounted
        self._executor: ThreadPoolExecutor | None = None
        self._refreshing: set[Key] = set()
        self._cache: OrderedDict[Key, Entry] = OrderedDict()
        # Per-key invalidation counters: a read that started before an invalidation must not
        # put what it read into the cache after it (the read may predate the write).
        self._generation: OrderedDict[Key, int] = OrderedDict()
        self._counter = 0
        self._lock = threading.Lock()
        self._snapshots: dict[str, tuple[float, dict[tuple[str, str], dict[str, Any]]]] = {}

    # invalidation ---------------------------------------------------------------------

    def ingested(self, result: IngestResult) -> None:
        self._drop([(e.tenant, e.pack, e.entity) for e in result.events])

    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        self._drop(keys_of(outcomes))

    def _drop(self, keys: Sequence[Key]) -> None:
        with self._lock:
            for key in keys:
                self._cache.pop(key, None)
                self._counter += 1
                self._generation[key] = self._counter
                self._generation.move_to_end(key)
            while len(self._generation) > 2 * self.max_entries:
                self._generation.popitem(last=False)

    # lookup ---------------------------------------------------------------------------

    def cached(self, key: Key) -> dict[str, Any] | None:
        """A cache hit (without touching the database: a soft-expired one starts a background
        refresh and is served meanwhile), or None. A hit is counted here; a miss is counted by
        :meth:`get`, which a caller that missed goes on to, so each lookup counts once."""
        found = self._probe(key)
        if found is not None:
            self._count(True)
        return found

    def _probe(self, key: Key) -> dict[str, Any] | None:
        down = self.engine.unreachable_since()
        if self.shared is not None:
            view = self.shared.get(key)
            return None if view is None else _answer(view, source="cache", down=down)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is None or self.ttl <= 0 or now > hit.hard:
                return None
            self._cache.move_to_end(key)
            refresh = now > hit.soft and key not in self._refreshing
            generation = self._generation.get(key, 0)
            if refresh:
                self._refreshing.add(key)
        if refresh:
            self._submit(lambda: self._refresh(key, generation))
        return _answer(hit.view, source="cache", down=down)

    def _refresh(self, key: Key, generation: int) -> None:
        """Re-read one soft-expired entry; a write meanwhile wins (``_remember`` checks the
        generation), and an entry now pending or gone is dropped so the next read shows it."""
        try:
            view = self._from_database(key)
        except StorageUnavailable:
            return  # keep the entry: it is what the database-down fallback serves
        except EntityNotFound:
            self._forget(key, generation)
            return
        except Exception:  # a background thread has no caller to tell
            log.exception("refreshing the cached lookup %s failed", key)
            return
        finally:
            with self._lock:
                self._refreshing.discard(key)
        if view["pending"]:
            self._forget(key, generation)
        else:
            self._remember(key, view, generation)

    def _forget(self, key: Key, generation: int) -> None:
        with self._lock:
            if self._generation.get(key, 0) == generation:
                self._cache.pop(key, None)

    def _in_background(self, task: Callable[[], None]) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(REFRESHERS, thread_name_prefix="lookup")
            executor = self._executor
        executor.submit(task)

    def close(self) -> None:
        """Stop the background refreshers (those running finish)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def get(self, key: Key) -> dict[str, Any]:
        """Cache, then database, then (database down) stale cache or the last snapshot."""
        hit = self.cached(key)
        if hit is not None:
            return hit
        self._count(False)
        with self._lock:
            generation = self._generation.get(key, 0)
        shared = self.shared.generation(key) if self.shared is not None else ""
        try:
            view = self._from_database(key)
        except StorageUnavailable:
            return self._fallback(key)
        if not view["pending"]:
            self._remember(key, view, generation)
            if self.shared is not None:
                self.shared.put(key, view, shared)
        return _answer(view, source="database")

    def _from_database(self, key: Key) -> dict[str, Any]:
        """Scores and pending work read in one snapshot, so they agree with each other."""
        tenant, pack, entity = key
        stored, waiting = self.engine.lookup(pack, entity, tenant=tenant)
        return score_view(tenant, pack, entity, stored) | {"pending": waiting}

    def _remember(self, key: Key, view: dict[str, Any], generation: int) -> None:
        with self._lock:
            if self._generation.get(key, 0) != generation:
                return  # invalidated while we read: what we read may be older than the write
            soft = self.ttl * (1 - JITTER * self._rng.random())
            now = self._clock()
            self._cache[key] = Entry(view, now + soft, now + soft + self.ttl)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)

    def _fallback(self, key: Key) -> dict[str, Any]:
        down = self.engine.unreachable_since() or datetime.now(UTC)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return _answer(hit.view, source="cache", down=down)
        view = self._from_snapshot(key)
        if view is None:
            raise StorageUnavailable(
                "the database is unreachable and this entity is in neither the cache nor the "
                "last snapshot; try again when the database is back"
            )
        return _answer(view, source="snapshot", down=down)

    def _from_snapshot(self, key: Key) -> dict[str, Any] | None:
        tenant, pack, entity = key
        row = self._snapshot(pack).get((tenant, entity))
        return None if row is None else _view_from_row(pack, row)

    def _snapshot(self, pack: str) -> dict[tuple[str, str], dict[str, Any]]:
        """The pack's last snapshot file, indexed; re-read when the file changes."""
        path = self.snapshot_dir / f"{pack}_scores.parquet"
        if not path.exists():
            return {}
        mtime = path.stat().st_mtime
        loaded = self._snapshots.get(pack)
        if loaded is None or loaded[0] != mtime:
            import polars as pl  # only needed when the database is down

            rows = pl.read_parquet(path).to_dicts()
            loaded = (mtime, {(r["tenant"], r["entity"]): r for r in rows})
            self._snapshots[pack] = loaded
        return loaded[1]


def _uncounted(_hit: bool) -> None:
    """No metrics: nothing to count."""


def _view_from_row(pack: str, row: Mapping[str, Any]) -> dict[str, Any]:
    names = [c for c in row if "." not in c and c not in META_COLUMNS and row[c] is not None]
    computed = row["computed_at"]
    stamp = computed.isoformat() if isinstance(computed, datetime) else str(computed)
    scores = {
        name: {
            "value": row[name],
            "components": {
                c.split(".", 1)[1]: v
                for c, v in row.items()
                if c.startswith(f"{name}.") and c != f"{name}.version" and v is not None
            },
            "reasons": [],
            "version": row.get(f"{name}.version"),
            "watermark": row["watermark"],
            "changed_at": stamp,
            "computed_at": stamp,
        }
        for name in names
    }
    return {
        "tenant": row["tenant"],
        "pack": pack,
        "entity": row["entity"],
        "scores": scores,
        "versions": {n: s["version"] for n, s in scores.items()},
        "watermark": row["watermark"],
        "updated_at": stamp,
        "pending": False,
    }


def _answer(
    view: Mapping[str, Any], *, source: str, down: datetime | None = None
) -> dict[str, Any]:
    """Add the per-request freshness fields to a view; ``down``: since when the database is
    known to be unreachable (the answer may then miss accepted events)."""
    updated = datetime.fromisoformat(view["updated_at"])
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - updated).total_seconds()
    return dict(view) | {
        "age_seconds": round(age, 3),
        "stale": down is not None or bool(view["pending"]),
        "stale_since": None if down is None else down.isoformat(),
        "source": source,
    }
