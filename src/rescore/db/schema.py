"""The core tables. Every name starts with ``rescore_`` so they sit beside a pack's source tables.

- ``rescore_events``: append-only, one row per accepted event; ``seq`` is the watermark unit;
  ``digest`` tells a redelivery (same id, same digest) from a reused id (another digest).
- ``rescore_pending``: one row per (pack, entity) waiting to be rescored. It keeps the range of
  event sequences not yet reflected (``first_seq``..``watermark``); the scorers to run are
  derived from those events' routes, so the events stay the one record of what happened.
- ``rescore_scores``: the current score of each (pack, entity, scorer).
- ``rescore_history``: one row per change of a score, with before/after, component deltas and
  the causing event ids. On PostgreSQL it is partitioned by month of ``changed_at`` (migration
  0005, ``rescore.db.partitions``), with the primary key ``(id, changed_at)`` there.
- ``rescore_api_keys``: API keys of the HTTP service, stored as salted hashes.
- ``rescore_rules``: automation rules users added (packs' shipped rules live in the packs; a
  user rule of the same name overrides one, e.g. to disable it).
- ``rescore_rule_state``: a threshold rule that fired for an entity and waits to be re-armed
  (hysteresis: the score must come back past the band first).
- ``rescore_firings``: the transactional outbox: one row per (rule, entity, occurrence), written
  in the transaction of the event or score write that caused it; ``key`` makes it idempotent.
- ``rescore_deliveries``: one row per firing and action, delivered by the dispatcher with
  retries, throttled, digested, postponed by quiet hours, dead-lettered.
- ``rescore_schedule_runs``: one row per (schedule, due time) claimed by a scheduler, so a
  restarted or second scheduler never runs a tick twice.
- ``rescore_releases``: which version of a scorer serves (``live``) and which one runs beside
  it unserved (``shadow``); none means the pack's registered scorer serves alone.
- ``rescore_shadow_scores``: the shadow version's latest result per entity, for comparison
  and for an atomic promotion.
- ``rescore_workers``: every claimant of pending work that is alive, with its process (host,
  pid) and the heartbeat that process last wrote; a claimant whose heartbeat stopped is pruned
  and its claims are given back (procrastinate's ``procrastinate_workers`` is the model).

Every row belongs to a ``tenant`` (seed 003's ``business_id``; ``"default"`` for a single
business): an API key of one tenant never reads or writes another tenant's rows.

MariaDB/MySQL need two types spelled out: ``DATETIME(6)`` (a plain ``DATETIME`` drops the
microseconds that order changes and answer ``as_of``) and ``DOUBLE`` (``FLOAT`` is single
precision there). Every key fits InnoDB's 3072-byte index limit in utf8mb4 (the widest,
``rescore_scores``' primary key, is 1280 bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

__all__ = [
    "DEFAULT_TENANT",
    "api_keys",
    "deliveries",
    "events",
    "firings",
    "history",
    "metadata",
    "pending",
    "releases",
    "rule_state",
    "rules",
    "schedule_runs",
    "scores",
    "shadow_scores",
    "utc_text",
    "workers",
]

DEFAULT_TENANT = "default"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (stored naive, in UTC)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: rescore stores UTC-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, the text SQLAlchemy would store (``2026-01-23 10:30:00.000000``) made by
        one C call instead of its Python formatting: a fifth of HTTP ingest's time went there."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return utc_text

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def utc_text(value: datetime | None) -> str | None:
    """A UTC datetime as the naive text SQLite stores (``2026-01-23 10:30:00.000000``), which
    PostgreSQL's ``COPY`` and MariaDB read as the same time."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: rescore stores UTC-aware datetimes only")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


Seq = BigInteger().with_variant(Integer(), "sqlite")
Value = Float().with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
Key = String(128)
Name = String(64)

metadata = MetaData()

events = Table(
    "rescore_events",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("event_id", Key, nullable=False),
    Column("tenant", Name, nullable=False, server_default=DEFAULT_TENANT),
    Column("pack", Name, nullable=False),
    Column("type", Name, nullable=False),
    Column("entity", Key, nullable=False),
    Column("lane", String(8), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("payload", JSON(), nullable=False),
    Column("digest", String(64), nullable=True),  # of pack, type, entity, payload (0003)
    Index("ix_rescore_events_entity", "tenant", "pack", "entity", "seq"),
    UniqueConstraint("tenant", "event_id", name="uq_rescore_events_tenant_event_id"),
)

pending = Table(
    "rescore_pending",
    metadata,
    Column("tenant", Name, primary_key=True, server_default=DEFAULT_TENANT),
    Column("pack", Name, primary_key=True),
    Column("entity", Key, primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("first_seq", Seq, nullable=False),
    Column("watermark", Seq, nullable=False),
    Column("state", String(8), nullable=False, server_default="waiting"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("enqueued_at", UTCDateTime(), nullable=False),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("claim_watermark", Seq, nullable=True),
    Index("ix_rescore_pending_claim", "state", "priority", "available_at"),
    Index("ix_rescore_pending_claimed_by", "claimed_by"),
)

scores = Table(
    "rescore_scores",
    metadata,
    Column("tenant", Name, primary_key=True, server_default=DEFAULT_TENANT),
    Column("pack", Name, primary_key=True),
    Column("entity", Key, primary_key=True),
    Column("scorer", Name, primary_key=True),
    Column("version", String(32), nullable=False),
    Column("value", Value, nullable=False),
    Column("components", JSON(), nullable=False),
    Column("reasons", JSON(), nullable=False),
    Column("features", JSON(), nullable=False),
    Column("watermark", Seq, nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
    Column("computed_at", UTCDateTime(), nullable=False),
    # set by a population write (a digest of the pack's scored row, its watermark and the
    # scorers' versions), cleared by every other write: a re-run skips entities whose every
    # score still carries the digest it computes (rescore.population)
    Column("population_digest", String(32), nullable=True),
)

history = Table(
    "rescore_history",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("tenant", Name, nullable=False, server_default=DEFAULT_TENANT),
    Column("pack", Name, nullable=False),
    Column("entity", Key, nullable=False),
    Column("scorer", Name, nullable=False),
    Column("version", String(32), nullable=False),
    Column("before_value", Value, nullable=True),
    Column("after_value", Value, nullable=False),
    Column("deltas", JSON(), nullable=False),
    Column("components", JSON(), nullable=False),
    Column("reasons", JSON(), nullable=False),
    Column("event_ids", JSON(), nullable=False),
    Column("watermark", Seq, nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
    # what wrote the change: event (a worker, caused by event_ids), manual, population,
    # reconciliation (the stored score had drifted from a recompute)
    Column("trigger", String(16), nullable=False, server_default="event"),
    Index("ix_rescore_history_entity", "tenant", "pack", "entity", "changed_at"),
)

api_keys = Table(
    "rescore_api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("tenant", Name, nullable=False),
    Column("scope", String(8), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("digest", String(128), nullable=False),
    Column("label", String(128), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

workers = Table(
    "rescore_workers",
    metadata,
    Column("name", String(64), primary_key=True),  # what rescore_pending.claimed_by holds
    Column("process", String(64), nullable=False),  # one heartbeat per process, many claimants
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
    Index("ix_rescore_workers_process", "process"),
    Index("ix_rescore_workers_heartbeat", "heartbeat_at"),
)

rules = Table(
    "rescore_rules",
    metadata,
    Column("tenant", Name, primary_key=True),
    Column("name", Key, primary_key=True),
    Column("pack", Name, nullable=True),
    Column("body", JSON(), nullable=False),  # the rule as validated data
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

rule_state = Table(
    "rescore_rule_state",
    metadata,
    Column("tenant", Name, primary_key=True),
    Column("rule", Key, primary_key=True),
    Column("entity", Key, primary_key=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

firings = Table(
    "rescore_firings",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("tenant", Name, nullable=False),
    Column("rule", Key, nullable=False),
    Column("pack", Name, nullable=True),
    Column("entity", Key, nullable=False),
    Column("occurrence", String(160), nullable=False),  # event:<id>, score:<seq>, at:<iso>
    Column("key", String(64), nullable=False),  # sha256 of tenant, rule, entity, occurrence
    Column("status", String(12), nullable=False),  # fired | throttled
    Column("context", JSON(), nullable=False),
    Column("fired_at", UTCDateTime(), nullable=False),
    UniqueConstraint("key", name="uq_rescore_firings_key"),
    Index("ix_rescore_firings_rule_entity", "tenant", "rule", "entity", "fired_at"),
    Index("ix_rescore_firings_fired_at", "tenant", "fired_at"),
)

deliveries = Table(
    "rescore_deliveries",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("firing_id", Seq, nullable=True),  # none for a digest (it carries many)
    Column("tenant", Name, nullable=False),
    Column("rule", Key, nullable=False),
    Column("action", Integer, nullable=False),  # index in the rule's actions
    Column("kind", String(12), nullable=False),  # notify | webhook | ingest
    Column("key", String(80), nullable=False),  # the idempotency key receivers get
    # digest (waits for its window) | pending | sent | digested | dead
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("digest_id", Seq, nullable=True),  # the digest delivery that carried this one
    Column("message", JSON(), nullable=True),  # what was sent (title, body, to, via)
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    UniqueConstraint("key", name="uq_rescore_deliveries_key"),
    Index("ix_rescore_deliveries_due", "status", "due_at"),
    Index("ix_rescore_deliveries_firing", "firing_id"),
    Index("ix_rescore_deliveries_rule", "tenant", "rule", "status"),
)

schedule_runs = Table(
    "rescore_schedule_runs",
    metadata,
    Column("name", Key, primary_key=True),
    Column("due_at", UTCDateTime(), primary_key=True),
    Column("claimed_by", String(64), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("ok", Boolean, nullable=True),
    Column("error", Text, nullable=True),
)

releases = Table(
    "rescore_releases",
    metadata,
    Column("pack", Name, primary_key=True),
    Column("scorer", Name, primary_key=True),
    Column("live", String(32), nullable=False),
    Column("shadow", String(32), nullable=True),
    Column("changed_at", UTCDateTime(), nullable=False),
)

shadow_scores = Table(
    "rescore_shadow_scores",
    metadata,
    Column("tenant", Name, primary_key=True),
    Column("pack", Name, primary_key=True),
    Column("entity", Key, primary_key=True),
    Column("scorer", Name, primary_key=True),
    Column("version", String(32), primary_key=True),
    Column("value", Value, nullable=False),
    Column("components", JSON(), nullable=False),
    Column("computed_at", UTCDateTime(), nullable=False),
)
