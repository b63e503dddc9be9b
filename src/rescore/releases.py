"""Scorer releases: a new model or formula goes live without surprises.

A pack offers new versions of its scorers as candidates (``Pack.register_candidates``: same
name, another version). Each (pack, scorer) then has a **live** version (the one served, the
registered one until a promotion) and may have one in **shadow**: it runs beside the live one
on every recompute, on the same inputs, and its result is stored in ``rescore_shadow_scores``,
never served. **Replay** recomputes the population (or the entities touched since a time) with
a candidate and reports what would move. **Promote** switches the live version and rewrites
every entity's scores with it in one transaction, so a lookup sees one version or the other,
never a mix; the version it replaced goes to shadow, and **rollback** is promoting it back.
History records the version that produced each change.

Every process reads the releases at most every ``rules_refresh`` seconds; a worker whose graph
is older than a promotion has its write refused inside the write transaction (the versions it
computed are not the live ones) and the work is handed back to be recomputed, so a stale
process can never write the version that was replaced.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.compute import Planned
from rescore.db.schema import events, releases, shadow_scores
from rescore.exceptions import InvalidInput
from rescore.operations import Parts, watermarks_of
from rescore.plugins import PackRegistry
from rescore.queue import PendingWork
from rescore.scoring import Scorer, ScorerGraph
from rescore.stats import percentile
from rescore.store import Computed

__all__ = ["ReleaseOperations", "Releases", "diff_report", "live_rows", "write_shadows"]

log = logging.getLogger(__name__)


def live_rows(conn: Connection) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(pack, scorer) -> (live, shadow) for every scorer with a release row."""
    query = sa.select(releases.c.pack, releases.c.scorer, releases.c.live, releases.c.shadow)
    return {(p, s): (live, shadow) for p, s, live, shadow in conn.execute(query)}


class Releases:
    """This process's view of the releases, applied to the registry's graphs."""

    def __init__(self, registry: PackRegistry, *, refresh: float) -> None:
        self.registry = registry
        self.refresh = refresh
        self._checked = float("-inf")
        self._shadows: dict[str, dict[str, Scorer]] = {}
        self._registered = {
            (pack, s.name): s.version for pack in registry.names for s in registry.graph(pack)
        }
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Read the releases again on next use (after a change, or a refused stale write)."""
        self._checked = float("-inf")

    def sync(self, read: Callable[[], AbstractContextManager[Connection]]) -> None:
        """Serve the live versions the database names (read through ``read()`` at most every
        ``refresh`` seconds)."""
        if time.monotonic() - self._checked < self.refresh:
            return
        with self._lock, read() as conn:
            rows = live_rows(conn)
            shadows: dict[str, dict[str, Scorer]] = {}
            for pack in self.registry.names:
                chosen = {s: live for (p, s), (live, _) in rows.items() if p == pack}
                served = {s.name: s.version for s in self.registry.graph(pack)}
                if any(served.get(s) != v for s, v in chosen.items()):
                    self.registry.use(pack, chosen)
                for (p, scorer), (_, shadow) in rows.items():
                    offered = self.registry.versions(p, scorer) if p == pack else {}
                    if shadow and shadow in offered:
                        shadows.setdefault(pack, {})[scorer] = offered[shadow]
            self._shadows = shadows
            self._checked = time.monotonic()

    def shadows(self, pack: str) -> Mapping[str, Scorer]:
        """The versions running in shadow for a pack's scorers."""
        return self._shadows.get(pack, {})

    def live(self, pack: str, scorer: str, rows: Mapping[tuple[str, str], Any]) -> str:
        """The live version of a scorer given the release rows (registered when none)."""
        found = rows.get((pack, scorer))
        return str(found[0]) if found else self._registered[(pack, scorer)]

    def split_stale(
        self, conn: Connection, batch: Sequence[tuple[Computed, Any]]
    ) -> tuple[list[tuple[Computed, Any]], list[tuple[Computed, Any]]]:
        """Inside a write transaction: the items computed with the live versions, and those
        computed with a version a promotion has since replaced (not to be written)."""
        rows = live_rows(conn)
        fresh: list[tuple[Computed, Any]] = []
        stale: list[tuple[Computed, Any]] = []
        for item in batch:
            c = item[0]
            ok = all(self.live(c.pack, n, rows) == v for n, v in c.versions.items())
            (fresh if ok else stale).append(item)
        if stale:
            self.forget()
        return fresh, stale


def write_shadows(conn: Connection, batch: Sequence[Computed], now: datetime) -> None:
    """Store the shadow versions' results of a written batch (latest per entity and version)."""
    rows = [
        {
            "tenant": c.tenant,
            "pack": c.pack,
            "entity": c.entity,
            "scorer": name,
            "version": version,
            "value": result.value,
            "components": dict(result.components),
            "computed_at": now,
        }
        for c in batch
        for name, (version, result) in c.shadow.items()
    ]
    if not rows:
        return
    key = ("tenant", "pack", "entity", "scorer", "version")
    where = sa.and_(*(getattr(shadow_scores.c, k) == sa.bindparam(f"k_{k}") for k in key))
    conn.execute(shadow_scores.delete().where(where), [{f"k_{k}": r[k] for k in key} for r in rows])
    conn.execute(shadow_scores.insert(), rows)


class ReleaseOperations(Parts):
    """Front ends' operations on releases (the engine inherits them)."""

    releases: Releases
    entity_keys: Callable[[str], Iterator[str]]

    def scorer_releases(self, pack: str) -> list[dict[str, Any]]:
        """Each scorer of a pack: the versions offered, the live one, the one in shadow."""
        with self.db.read() as conn:
            rows = live_rows(conn)
        return [
            {
                "scorer": scorer.name,
                "versions": sorted(self.registry.versions(pack, scorer.name)),
                "live": self.releases.live(pack, scorer.name, rows),
                "shadow": (rows.get((pack, scorer.name)) or (None, None))[1],
            }
            for scorer in self.registry.graph(pack)
        ]

    def set_shadow(self, pack: str, scorer: str, version: str | None) -> None:
        """Run ``version`` of a scorer in shadow (None: stop shadowing it)."""
        live = self._live(pack, scorer)
        if version is not None:
            self._offered(pack, scorer, version)
            if version == live:
                raise InvalidInput(f"{scorer} {version} is the live version", field="version")
        with self.db.begin() as conn:
            self._put_release(conn, pack, scorer, live=live, shadow=version)
        self.releases.forget()

    def promote(self, pack: str, scorer: str, version: str) -> dict[str, Any]:
        """Make ``version`` live: every entity rescored with it and the switch in one
        transaction; the replaced version goes to shadow (``rollback`` promotes it back)."""
        self._offered(pack, scorer, version)
        previous = self._live(pack, scorer)
        if version == previous:
            raise InvalidInput(f"{scorer} {version} is already live", field="version")
        chosen = {s["scorer"]: s["live"] for s in self.scorer_releases(pack)} | {scorer: version}
        graph = self.registry.graph_with(pack, chosen)
        tenant = self.settings.tenant
        computed, failed = self._population(tenant, pack, graph, graph.order, "promotion")
        with self.db.begin() as conn:
            self._put_release(conn, pack, scorer, live=version, shadow=previous)
            written = self.store.write(conn, computed, self.clock())
        self.registry.use(pack, chosen)
        self.releases.forget()
        mine = [ch for c in written for ch in c.changes if ch.scorer == scorer]
        moved = sum(1 for ch in mine if ch.before is None or abs(ch.after - ch.before) > 1e-9)
        return {
            "pack": pack,
            "scorer": scorer,
            "live": version,
            "previous": previous,
            "entities": len(computed),
            "rewritten": len(mine),  # a new version is a change even where the value is equal
            "moved": moved,
            "failed": len(failed),
        }

    def rollback(self, pack: str, scorer: str) -> dict[str, Any]:
        """Promote back the version the last promotion replaced (now in shadow)."""
        with self.db.read() as conn:
            found = live_rows(conn).get((pack, scorer))
        if not found or not found[1]:
            raise InvalidInput(f"{pack} {scorer} has no previous version to roll back to",
                               field="scorer")  # fmt: skip
        return self.promote(pack, scorer, str(found[1]))

    def replay(
        self,
        pack: str,
        version: str,
        *,
        scorer: str | None = None,
        since: datetime | None = None,
        movers: int = 10,
    ) -> dict[str, Any]:
        """What promoting ``version`` would change: the candidate recomputed for the population
        (or the entities with events since ``since``) against the stored scores. Writes
        nothing."""
        name = scorer or self._scorer_of(pack, version)
        self._offered(pack, name, version)
        chosen = {s["scorer"]: s["live"] for s in self.scorer_releases(pack)} | {name: version}
        graph = self.registry.graph_with(pack, chosen)
        tenant = self.settings.tenant
        entities = self._touched(tenant, pack, since) if since else None
        computed, failed = self._population(
            tenant, pack, graph, graph.affected([name]), "replay", entities
        )
        return diff_report(self, tenant, pack, name, version, computed, len(failed), movers)

    # helpers ---------------------------------------------------------------------------

    def _live(self, pack: str, scorer: str) -> str:
        with self.db.read() as conn:
            return self.releases.live(pack, scorer, live_rows(conn))

    def _offered(self, pack: str, scorer: str, version: str) -> None:
        offered = self.registry.versions(pack, scorer)
        if version not in offered:
            raise InvalidInput(
                f"{pack} {scorer} has no version {version!r}; offered: {sorted(offered)}",
                field="version",
            )

    def _scorer_of(self, pack: str, version: str) -> str:
        names = [
            s.name for s in self.registry.graph(pack)
            if version in self.registry.versions(pack, s.name)
        ]  # fmt: skip
        if not names:
            offered = {
                s.name: sorted(self.registry.versions(pack, s.name))
                for s in self.registry.graph(pack)
            }
            raise InvalidInput(
                f"no scorer of {pack} offers version {version!r}; offered: {offered}",
                field="version",
            )
        if len(names) > 1:
            raise InvalidInput(
                f"{pack}: {', '.join(names)} all offer version {version!r}: name one with --scorer",
                field="scorer",
            )
        return names[0]

    def _put_release(
        self, conn: Connection, pack: str, scorer: str, *, live: str, shadow: str | None
    ) -> None:
        conn.execute(releases.delete().where(releases.c.pack == pack, releases.c.scorer == scorer))
        conn.execute(
            releases.insert().values(
                pack=pack, scorer=scorer, live=live, shadow=shadow, changed_at=self.clock()
            )
        )

    def _touched(self, tenant: str, pack: str, since: datetime) -> list[str]:
        query = (
            sa.select(events.c.entity)
            .where(events.c.tenant == tenant, events.c.pack == pack, events.c.received_at >= since)
            .distinct()
        )
        with self.db.read() as conn:
            return sorted(conn.execute(query).scalars())

    def _population(
        self,
        tenant: str,
        pack: str,
        graph: ScorerGraph,
        names: tuple[str, ...],
        trigger: str,
        entities: Sequence[str] | None = None,
    ) -> tuple[list[Computed], list[str]]:
        """Every entity (or ``entities``) computed with ``graph``, in chunks."""
        keys = list(self.entity_keys(pack)) if entities is None else list(entities)
        with self.db.read() as conn:
            marks = watermarks_of(conn, tenant, pack, None if entities is None else keys)
        computed: list[Computed] = []
        failed: list[str] = []
        for start in range(0, len(keys), CHUNK):
            planned = [
                Planned(
                    work=PendingWork(tenant=tenant, pack=pack, entity=e, priority=0,
                                     first_seq=0, watermark=marks.get(e, 0)),
                    causes=[],
                    names=names,
                    trigger=trigger,
                )
                for e in keys[start : start + CHUNK]
            ]  # fmt: skip
            ok, bad = self.computer.compute(tenant, pack, planned, graph=graph)
            computed.extend(c for c, _ in ok)
            failed.extend(p.work.entity for p, _, _ in bad)
        return computed, failed


#: Entities computed at once by a replay or a promotion.
CHUNK = 1000


def diff_report(
    engine: ReleaseOperations,
    tenant: str,
    pack: str,
    scorer: str,
    version: str,
    computed: Sequence[Computed],
    failed: int,
    movers: int,
) -> dict[str, Any]:
    """How a candidate's results differ from the stored ones: how many moved, by how much,
    which changed decile band of the live distribution, the biggest movers and why."""
    stored: dict[str, Any] = {}
    with engine.db.read() as conn:
        for start in range(0, len(computed), CHUNK):
            part = [c.entity for c in computed[start : start + CHUNK]]
            stored.update(engine.store.current(conn, pack, part, tenant=tenant))
    pairs = [
        (c, stored[c.entity][scorer]) for c in computed
        if scorer in c.results and scorer in stored.get(c.entity, {})
    ]  # fmt: skip
    deltas = [c.results[scorer].value - s.value for c, s in pairs]
    live_values = sorted(s.value for _, s in pairs)
    edges = [live_values[len(live_values) * q // 10] for q in range(1, 10)] if live_values else []

    def band(value: float) -> int:
        return sum(1 for edge in edges if value >= edge)

    top = sorted(pairs, key=lambda p: -abs(p[0].results[scorer].value - p[1].value))[:movers]
    return {
        "pack": pack,
        "scorer": scorer,
        "candidate": version,
        "live": engine._live(pack, scorer),
        "compared": len(pairs),
        "failed": failed,
        "moved": sum(1 for d in deltas if abs(d) > 1e-9),
        "mean_abs_delta": sum(abs(d) for d in deltas) / len(deltas) if deltas else 0.0,
        "max_abs_delta": max((abs(d) for d in deltas), default=0.0),
        "delta_percentiles": {f"p{q}": percentile(deltas, q) for q in (1, 5, 50, 95, 99)},
        "bands_changed": sum(1 for c, s in pairs if band(c.results[scorer].value) != band(s.value)),
        "movers": [_mover(c, s, scorer) for c, s in top],
    }


def _mover(c: Computed, s: Any, scorer: str) -> dict[str, Any]:
    after = c.results[scorer]
    parts = set(after.components) | set(s.components)
    return {
        "entity": c.entity,
        "live": s.value,
        "candidate": after.value,
        "delta": after.value - s.value,
        "components": {
            k: after.components.get(k, 0.0) - s.components.get(k, 0.0)
            for k in sorted(parts)
            if abs(after.components.get(k, 0.0) - s.components.get(k, 0.0)) > 1e-9
        },
        "reasons": list(after.reasons),
    }
