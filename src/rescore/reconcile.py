"""Reconciliation: the stored scores equal a recompute, or we say where they do not.

An event rescores only the scorers its type declares. When the source changes in a way no event
type announces (a new loan's rows move `deterioration` too, but `new_loan` routes only to
`payment_performance`), the stored score silently drifts from what a from-scratch recompute
gives. Reconciliation recomputes the whole population (vectorized where the pack offers it),
compares every scorer with what is stored, repairs the differences through the normal write path
(history records the trigger ``reconciliation``; the watermark check still refuses to hide a
newer event) and reports them by scorer and by the event type that last touched each drifted
entity, so a pack author learns which route is incomplete.

Example::

    report = reconcile(engine, "credit")
    report.by_scorer        # Counter({"deterioration": 3})
    report.by_event_type    # Counter({"new_loan": 3}): new_loan should also route there
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

from rescore.db.schema import DEFAULT_TENANT
from rescore.engine import Engine
from rescore.scoring import ScoreResult
from rescore.store import StoredScore

__all__ = ["Drift", "ReconcileReport", "reconcile"]

#: Entities compared (and repaired) per batch.
BATCH = 500
#: Drifts kept as examples in the report (every one is counted).
EXAMPLES = 20


@dataclass(frozen=True, kw_only=True, slots=True)
class Drift:
    """One scorer of one entity whose stored value differs from a recompute."""

    entity: str
    scorer: str
    stored: float | None  # None: never scored
    fresh: float
    last_event: str | None  # the type of the entity's newest event, if any


@dataclass(kw_only=True)
class ReconcileReport:
    """What a reconciliation found and did."""

    pack: str
    checked: int = 0
    drifted_entities: int = 0
    repaired: int = 0
    by_scorer: Counter[str] = field(default_factory=Counter)
    by_event_type: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    examples: list[Drift] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "pack": self.pack,
            "checked": self.checked,
            "drifted_entities": self.drifted_entities,
            "repaired": self.repaired,
            "by_scorer": dict(self.by_scorer),
            "by_event_type": dict(self.by_event_type),
            "failures": dict(self.failures),
            "examples": [
                {
                    "entity": d.entity,
                    "scorer": d.scorer,
                    "stored": d.stored,
                    "fresh": d.fresh,
                    "last_event": d.last_event,
                }
                for d in self.examples
            ],
        }


def reconcile(
    engine: Engine,
    pack: str,
    *,
    tenant: str = DEFAULT_TENANT,
    repair: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ReconcileReport:
    """Compare every entity's stored scores with a recompute; repair the drift unless
    ``repair=False``. Observers hear ``reconciled(report)`` (metrics count the repairs)."""
    report = ReconcileReport(pack=pack)
    for batch in _batches(_fresh_results(engine, pack, tenant, report)):
        _compare(engine, pack, tenant, batch, report, repair=repair)
        report.checked += len(batch)
        if progress is not None:
            progress(len(batch))
    engine.notify("reconciled", report)
    return report


Fresh = tuple[str, Mapping[str, ScoreResult]]


def _fresh_results(
    engine: Engine, pack: str, tenant: str, report: ReconcileReport
) -> Iterator[Fresh]:
    """Every entity's recomputed scores: the pack's vectorized form when it has one (the
    property tests prove it gives the same numbers), else the engine's batch scoring."""
    from rescore.population import DatabaseSource, results_of, vectorized

    form = vectorized(engine.registry[pack])
    if form is not None:
        for frame in form.score_population(DatabaseSource(engine.source), chunk_size=50_000):
            yield from results_of(form.result_frames(frame))
        return
    keys = iter(engine.entity_keys(pack))
    while part := list(islice(keys, BATCH)):
        fresh, failed = engine.score_now(pack, part, tenant=tenant)
        report.failures.update(failed)
        yield from fresh.items()


def _batches(results: Iterator[Fresh]) -> Iterator[list[Fresh]]:
    while part := list(islice(results, BATCH)):
        yield part


def _compare(
    engine: Engine,
    pack: str,
    tenant: str,
    batch: Sequence[Fresh],
    report: ReconcileReport,
    *,
    repair: bool,
) -> None:
    stored = engine.stored_scores(pack, [e for e, _ in batch], tenant=tenant)
    drifts = [
        (entity, name, result)
        for entity, results in batch
        for name, result in results.items()
        if _differs(stored.get(entity, {}).get(name), result, engine.registry.graph(pack)[name])
    ]
    if not drifts:
        return
    entities = sorted({entity for entity, _, _ in drifts})
    last = engine.last_event_types(pack, entities, tenant=tenant)
    for entity, name, result in drifts:
        report.by_scorer[name] += 1
        before = stored.get(entity, {}).get(name)
        if len(report.examples) < EXAMPLES:
            report.examples.append(
                Drift(
                    entity=entity,
                    scorer=name,
                    stored=None if before is None else before.value,
                    fresh=result.value,
                    last_event=last.get(entity),
                )
            )
    report.by_event_type.update(last.get(e, "(no event)") for e in entities)
    report.drifted_entities += len(entities)
    if repair:
        done = engine.recompute(pack, entities, tenant=tenant, trigger="reconciliation")
        report.repaired += sum(1 for o in done.outcomes if o.changes and not o.stale)


def _differs(before: StoredScore | None, fresh: ScoreResult, scorer: object) -> bool:
    if before is None or before.version != getattr(scorer, "version", before.version):
        return True
    if not _close(before.value, fresh.value):
        return True
    names = set(before.components) | set(fresh.components)
    return any(
        not _close(before.components.get(n, 0.0), fresh.components.get(n, 0.0)) for n in names
    )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
