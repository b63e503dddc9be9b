"""What the engine reports: ingest results, rescoring outcomes, failures, explanations, and
the observer hooks that receive them (metrics, live displays, waking workers, cache
invalidation)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, overload

import orjson
import polars as pl
from sqlalchemy import Connection

from rescore.events import Event
from rescore.queue import PendingWork
from rescore.routing import Lane
from rescore.store import Change, HistoryEntry, StoredScore

__all__ = [
    "BatchReport",
    "BulkOutcomes",
    "Cause",
    "Explanation",
    "Failure",
    "IngestResult",
    "Observer",
    "Outcome",
    "Settled",
    "keys_of",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class IngestResult:
    """What ingest did: new events stored, duplicates acknowledged, entities queued by lane."""

    accepted: int
    duplicates: int
    queued: Mapping[str, int]
    events: tuple[Event, ...] = ()
    warnings: tuple[str, ...] = ()  # e.g. an entity its pack's source does not have


@dataclass(frozen=True, kw_only=True, slots=True)
class Settled:
    """Read-after-write: whether every touched entity's scores reflect its events, and the
    entities given up on because they were dead-lettered (key -> reason)."""

    fresh: bool
    dead: Mapping[tuple[str, str, str], str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Cause:
    """An event that moved a score, as history and latency reports need it."""

    event_id: str
    type: str
    lane: Lane
    seq: int
    occurred_at: datetime
    received_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """One entity rescored: what changed and which events caused it."""

    tenant: str
    pack: str
    entity: str
    lane: Lane | None
    changes: tuple[Change, ...]
    causes: tuple[Cause, ...]
    stale: bool
    committed_at: datetime
    values: Mapping[str, float] = field(default_factory=dict)  # of the scorers that ran


class BulkOutcomes(Sequence[Outcome]):
    """The outcomes of a population's first scores (``rows``, the frame a first run inserted
    straight into the store: every row a new score, none stale), built only when read.

    A first run of a million contacts would otherwise build a million outcomes
    and two million changes, about a third of its time, for observers that mostly
    need far less: the entities (:attr:`entities`, for caches), the count (``len``, for
    metrics) or nothing (no automation rule listens to the pack's scores). An observer that
    iterates gets the same outcomes a per-entity write would have given. Use::

        outcomes = BulkOutcomes(tenant="default", pack="leads", committed_at=now, rows=rows)
        len(outcomes), outcomes.entities[:3]  # no Outcome built yet
        [o.values for o in outcomes]  # built now, once
    """

    def __init__(
        self, *, tenant: str, pack: str, committed_at: datetime, rows: pl.DataFrame
    ) -> None:
        self.tenant, self.pack, self.committed_at = tenant, pack, committed_at
        self.rows = rows.select("entity", "scorer", "version", "value", "components")

    @cached_property
    def entities(self) -> tuple[str, ...]:
        """The entities written, in the rows' order."""
        return tuple(self.rows.get_column("entity").unique(maintain_order=True).to_list())

    def __len__(self) -> int:
        return len(self.entities)

    @overload
    def __getitem__(self, index: int) -> Outcome: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Outcome]: ...

    def __getitem__(self, index: int | slice) -> Outcome | Sequence[Outcome]:
        return self._built[index]

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self._built)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (relayed to another process) without what it built."""
        keep = ("tenant", "pack", "committed_at", "rows")
        return {name: self.__dict__[name] for name in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @cached_property
    def _built(self) -> tuple[Outcome, ...]:
        entities, scorers, versions, values, texts = (
            self.rows.get_column(c).to_list() for c in self.rows.columns
        )
        parsed = orjson.loads("[" + ",".join(texts) + "]")  # every breakdown in one call
        changes: dict[str, list[Change]] = {}
        scored: dict[str, dict[str, float]] = {}
        for i, entity in enumerate(entities):
            change = Change(
                scorer=scorers[i],
                version=versions[i],
                before=None,
                after=values[i],
                deltas=parsed[i],
                components=parsed[i],
            )
            changes.setdefault(entity, []).append(change)
            scored.setdefault(entity, {})[scorers[i]] = values[i]
        return tuple(
            Outcome(
                tenant=self.tenant,
                pack=self.pack,
                entity=entity,
                lane=None,
                changes=tuple(found),
                causes=(),
                stale=False,
                committed_at=self.committed_at,
                values=scored[entity],
            )
            for entity, found in changes.items()
        )


def keys_of(outcomes: Sequence[Outcome]) -> list[tuple[str, str, str]]:
    """``(tenant, pack, entity)`` of each outcome; of a :class:`BulkOutcomes` without
    building its outcomes (a cache only drops the keys)."""
    if isinstance(outcomes, BulkOutcomes):
        return [(outcomes.tenant, outcomes.pack, entity) for entity in outcomes.entities]
    return [(o.tenant, o.pack, o.entity) for o in outcomes]


@dataclass(frozen=True, kw_only=True, slots=True)
class Failure:
    work: PendingWork
    error: str
    dead: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchReport:
    """One worker step: how many rows it claimed, what it wrote, what failed."""

    claimed: int = 0
    outcomes: tuple[Outcome, ...] = ()
    failures: tuple[Failure, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Explanation:
    """Why an entity's scores are what they are: current values, changes and their events."""

    pack: str
    entity: str
    current: Mapping[str, StoredScore]
    changes: tuple[HistoryEntry, ...]
    causes: Mapping[str, Cause]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the CLI's ``--json`` and the HTTP API answer with it)."""
        return {
            "pack": self.pack,
            "entity": self.entity,
            "current": {
                n: {"value": s.value, "components": dict(s.components), "version": s.version}
                for n, s in self.current.items()
            },
            "changes": [self._change(c) for c in self.changes],
        }

    def _change(self, change: HistoryEntry) -> dict[str, Any]:
        causes = [self.causes[i] for i in change.event_ids if i in self.causes]
        return {
            "scorer": change.scorer,
            "version": change.version,
            "before": change.before,
            "after": change.after,
            "deltas": dict(change.deltas),
            "reasons": list(change.reasons),
            "changed_at": change.changed_at.isoformat(),
            "trigger": change.trigger,
            "events": [
                {
                    "event_id": e.event_id,
                    "type": e.type,
                    "lane": e.lane.value,
                    "occurred_at": e.occurred_at.isoformat(),
                    "payload": dict(e.payload),
                }
                for e in causes
            ],
        }


class Observer:
    """Hooks around the engine's steps: the one mechanism the runtimes (waking workers), the
    caches (invalidation), the metrics and the automations plug into.

    Subclass and override what you need; every hook is a no-op here. Two kinds:

    - **inside the transaction** (``ingesting``, ``writing``): they get the connection and
      write with it, atomically with the events or scores (the automations' outbox). An error
      there rolls the whole write back, so they must only fail when the write should.
    - **after commit** (every other hook): they get no connection; one that raises is logged
      and skipped, never turned into the caller's error.
    """

    def ingesting(self, conn: Connection, events: Sequence[Event]) -> None:
        """New events are being stored, in ``conn``'s transaction (not yet committed)."""

    def writing(self, conn: Connection, outcomes: Sequence[Outcome]) -> None:
        """Changed scores are being written, in ``conn``'s transaction (not yet committed);
        ``outcomes`` are the entities written, each with its changes."""

    def ingested(self, result: IngestResult) -> None:
        """Events were stored and work was queued."""

    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        """Entities were rescored and written."""

    def failed(self, failure: Failure) -> None:
        """An entity's recompute failed (and maybe was dead-lettered)."""

    def requeued(self, queued: Mapping[str, int]) -> None:
        """Events arrived for entities while they were being rescored; they wait again."""

    def fired(self, firings: Sequence[tuple[str, str]]) -> None:
        """Automation rules fired: (rule, ``fired`` or ``throttled``), committed."""

    def delivered(self, rule: str, kind: str, status: str) -> None:
        """The dispatcher made a delivery attempt; ``status`` is where it ended (``sent``,
        ``pending`` for a retry, ``dead``, ``postponed``)."""

    def reconciled(self, report: Any) -> None:
        """A reconciliation compared a pack's stored scores with a recompute
        (a :class:`rescore.reconcile.ReconcileReport`: drift found, repairs made)."""
