"""Recompute: from claimed work to computed scores, outside any write transaction.

The engine hands this a batch of claimed (or manually requested) entities; it reads the events
each entity has not yet reflected, plans which scorers must run (those the events' routes name
and their dependents, or all of them), loads every entity's inputs from the source in one call
and runs the scorers in dependency order. Failures stay per entity, so one bad entity does not
sink its batch. Nothing here writes: the engine writes what this computes, in one transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.engine import Database
from rescore.db.schema import events
from rescore.exceptions import EntityNotFound, RescoreError
from rescore.plugins import PackRegistry
from rescore.queue import PendingWork
from rescore.reports import Cause
from rescore.routing import Lane
from rescore.scoring import Scorer, ScoreResult, ScorerGraph, check_result, evaluate
from rescore.store import Computed, ScoreStore, StoredScore, chunks

__all__ = ["PERMANENT", "Computer", "Planned", "Problem", "cause_of"]

#: Said of a failure that no retry can fix (the entity is not in the source).
PERMANENT = "permanent: dead-lettered at once; requeue it once the source has it"

Problem = tuple[PendingWork, str, bool]  # work, error, permanent

log = logging.getLogger(__name__)


@dataclass(kw_only=True, slots=True)
class Planned:
    """One entity to recompute: its work, the events it reflects and the scorers to run."""

    work: PendingWork
    causes: list[Cause]
    names: tuple[str, ...]
    trigger: str = "event"


class Computer:
    """Reads causes, stored scores and source inputs, and runs the scorers."""

    def __init__(
        self,
        *,
        db: Database,
        source: Database,
        registry: PackRegistry,
        store: ScoreStore,
        shadows: Callable[[str], Mapping[str, Scorer]] = lambda pack: {},
    ) -> None:
        self.db = db
        self.source = source
        self.registry = registry
        self.store = store
        self.shadows = shadows  # pack -> {scorer: the version running in shadow}

    def claimed(
        self, claimed: Sequence[PendingWork]
    ) -> tuple[list[tuple[Computed, Planned]], list[Problem]]:
        groups: dict[tuple[str, str], list[PendingWork]] = defaultdict(list)
        for w in claimed:
            groups[(w.tenant, w.pack)].append(w)
        computed: list[tuple[Computed, Planned]] = []
        failures: list[Problem] = []
        for (tenant, pack), works in groups.items():
            with self.db.read() as conn:
                causes = self._causes(conn, tenant, pack, works)
            planned = [self.plan(pack, w, causes.get(w.entity, [])) for w in works]
            ok, bad = self.compute(tenant, pack, planned)
            computed.extend(ok)
            failures.extend((p.work, error, permanent) for p, error, permanent in bad)
        return computed, failures

    def plan(self, pack: str, work: PendingWork, causes: list[Cause]) -> Planned:
        graph = self.registry.graph(pack)
        routes = self.registry.router.routes(pack)
        named = {s for c in causes for s in routes[c.type].scorers}
        names = graph.affected(named) if named else graph.order
        return Planned(work=work, causes=causes, names=names)

    def compute(
        self,
        tenant: str,
        pack: str,
        planned: Sequence[Planned],
        *,
        graph: ScorerGraph | None = None,
    ) -> tuple[list[tuple[Computed, Planned]], list[tuple[Planned, str, bool]]]:
        """Load inputs for many entities at once and run their scorers (of ``graph``, by
        default the versions that serve); failures stay per entity so one bad entity does not
        sink its batch. Each failure says whether it is permanent: an entity the source does
        not know fails the same way on every retry. Scorers with a version in shadow run it
        too, on the same inputs; its results ride along, unserved."""
        graph = graph or self.registry.graph(pack)
        shadows = self.shadows(pack) if graph is self.registry.graph(pack) else {}
        entities = [p.work.entity for p in planned]
        known: dict[str, dict[str, StoredScore]] = {}
        if any(len(p.names) < len(graph) for p in planned):  # else nothing stored is read
            with self.db.read() as conn:
                known = self.store.current(conn, pack, entities, tenant=tenant)
        needed = [graph.plan(p.names, known.get(p.work.entity, {})) for p in planned]
        parts = graph.parts({n for names in needed for n in names})
        parts |= frozenset().union(*(s.inputs for s in shadows.values()))
        with self.source.read() as conn:
            inputs = self.registry[pack].load_inputs(conn, entities, parts)
        ok: list[tuple[Computed, Planned]] = []
        bad: list[tuple[Planned, str, bool]] = []
        for p in planned:
            try:
                results = self._score(graph, pack, p.work.entity, p.names, inputs, known)
            except EntityNotFound as exc:
                bad.append((p, f"{type(exc).__name__}: {exc} ({PERMANENT})", True))
                continue
            except RescoreError as exc:
                bad.append((p, f"{type(exc).__name__}: {exc}", False))
                continue
            computed = self._computed(graph, tenant, pack, p, results)
            if shadows:
                stored = {n: v.as_result() for n, v in known.get(p.work.entity, {}).items()}
                computed.shadow.update(_shadowed(shadows, inputs[p.work.entity], results, stored))
            ok.append((computed, p))
        return ok, bad

    def _score(
        self,
        graph: ScorerGraph,
        pack: str,
        entity: str,
        names: Sequence[str],
        inputs: Mapping[str, Mapping[str, Any]],
        known: Mapping[str, Mapping[str, StoredScore]],
    ) -> dict[str, ScoreResult]:
        if entity not in inputs:
            label = self.registry[pack].entity_label
            raise EntityNotFound(f"no {label} {entity!r} in the {pack} source data")
        stored = {n: s.as_result() for n, s in known.get(entity, {}).items()}
        return evaluate(graph, inputs[entity], names, stored)

    def _computed(
        self,
        graph: ScorerGraph,
        tenant: str,
        pack: str,
        p: Planned,
        results: Mapping[str, ScoreResult],
    ) -> Computed:
        return Computed(
            tenant=tenant,
            pack=pack,
            entity=p.work.entity,
            results=results,
            versions={n: graph[n].version for n in results},
            watermark=p.work.watermark,
            event_ids=tuple(c.event_id for c in p.causes),
            trigger=p.trigger,
        )

    def _causes(
        self, conn: Connection, tenant: str, pack: str, works: Sequence[PendingWork]
    ) -> dict[str, list[Cause]]:
        """The events each claimed entity has not yet reflected (its pending range)."""
        ranges = {w.entity: (w.first_seq, w.watermark) for w in works}
        low = min(lo for lo, _ in ranges.values())
        found: dict[str, list[Cause]] = defaultdict(list)
        for part in chunks(sorted(ranges)):
            query = (
                sa.select(events)
                .where(
                    events.c.tenant == tenant,
                    events.c.pack == pack,
                    events.c.entity.in_(part),
                    events.c.seq >= low,
                    events.c.lane != Lane.NONE.value,
                )
                .order_by(events.c.seq)
            )
            for row in conn.execute(query):
                lo, hi = ranges[row.entity]
                if lo <= row.seq <= hi:
                    found[row.entity].append(cause_of(row))
        return found


def _shadowed(
    shadows: Mapping[str, Scorer],
    inputs: Mapping[str, Any],
    results: Mapping[str, ScoreResult],
    stored: Mapping[str, ScoreResult],
) -> dict[str, tuple[str, ScoreResult]]:
    """The shadow versions' results for the scorers that just ran, fed the same inputs and
    the live dependencies. A shadow that fails is logged and left out: it never fails the
    live write."""
    found: dict[str, tuple[str, ScoreResult]] = {}
    for name, scorer in shadows.items():
        if name not in results:
            continue
        scope = dict(inputs)
        for dep in scorer.depends_on:
            scope[dep] = results[dep] if dep in results else stored.get(dep)
        try:
            found[name] = (scorer.version, check_result(scorer, scorer.score(scope)))
        except Exception as exc:
            log.warning("shadow %s %s failed: %r", name, scorer.version, exc)
    return found


def cause_of(row: Any) -> Cause:
    return Cause(
        event_id=row.event_id,
        type=row.type,
        lane=Lane(row.lane),
        seq=row.seq,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        payload=row.payload,
    )
