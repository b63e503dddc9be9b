"""The transactional outbox: a rule's firing and its deliveries, recorded in the caller's
transaction (the ingest or score write that caused it), idempotent on a key.

The key is a hash of (tenant, rule, entity, occurrence): ``event:<event_id>`` for an event,
``score:<scorer>:<time>`` for a score change, ``at:<due time>`` for a schedule. Recording the
same occurrence twice (a retried write, a restarted scheduler) inserts nothing the second time.
A crash before the commit loses nothing either: the firing rolls back with the write that
caused it, and the write is retried.

A throttled firing is recorded (with status ``throttled``, visible) but gets no deliveries.
Each action of a fired rule gets one delivery row: ``pending`` now, or ``digest`` until the end
of its digest window, when the dispatcher folds the window's rows into one message per
recipient.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.automations.rules import Rule, parse_duration
from rescore.db.dialect import insert_ignoring
from rescore.db.schema import deliveries, firings

__all__ = ["Firing", "digest_due", "key_of", "record"]


def key_of(*parts: str) -> str:
    """A stable idempotency key (hex SHA-256 of the parts)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Firing:
    """What fired: the rule, for whom, on which occurrence, with what context."""

    __slots__ = ("context", "entity", "occurrence", "pack", "rule", "tenant")

    def __init__(
        self,
        *,
        rule: Rule,
        tenant: str,
        entity: str,
        occurrence: str,
        context: Mapping[str, Any],
        pack: str | None = None,
    ) -> None:
        self.rule = rule
        self.tenant = tenant
        self.entity = entity
        self.occurrence = occurrence
        self.context = context
        self.pack = pack if pack is not None else rule.pack

    @property
    def key(self) -> str:
        return key_of(self.tenant, self.rule.name, self.entity, self.occurrence)


def record(conn: Connection, firing: Firing, now: datetime) -> str | None:
    """Record a firing and its deliveries; its status (``fired`` or ``throttled``), or None
    when this occurrence was recorded before."""
    status = "throttled" if _throttled(conn, firing, now) else "fired"
    row = {
        "tenant": firing.tenant,
        "rule": firing.rule.name,
        "pack": firing.pack,
        "entity": firing.entity,
        "occurrence": firing.occurrence[:160],
        "key": firing.key,
        "status": status,
        "context": dict(firing.context),
        "fired_at": now,
    }
    firing_id = insert_ignoring(conn, firings, row, unique=["key"])
    if firing_id is None:
        return None
    if status == "fired":
        conn.execute(deliveries.insert(), _deliveries(firing, firing_id, now))
    return status


def _throttled(conn: Connection, firing: Firing, now: datetime) -> bool:
    throttle = firing.rule.throttle
    if throttle is None:
        return False
    since = now - parse_duration(throttle.per)
    query = sa.select(sa.func.count()).where(
        firings.c.tenant == firing.tenant,
        firings.c.rule == firing.rule.name,
        firings.c.entity == firing.entity,
        firings.c.status == "fired",
        firings.c.fired_at > since,
    )
    return int(conn.execute(query).scalar_one()) >= throttle.count


def _deliveries(firing: Firing, firing_id: int, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for index, action in enumerate(firing.rule.actions):
        digested = firing.rule.digest is not None and action.notify is not None
        rows.append(
            {
                "firing_id": firing_id,
                "tenant": firing.tenant,
                "rule": firing.rule.name,
                "action": index,
                "kind": action.kind,
                "key": key_of(firing.key, str(index)),
                "status": "digest" if digested else "pending",
                "attempts": 0,
                "due_at": digest_due(firing.rule, now) if digested else now,
                "created_at": now,
            }
        )
    return rows


def digest_due(rule: Rule, now: datetime) -> datetime:
    """The end of the digest window ``now`` falls in (windows are aligned to the epoch, so
    every process agrees on them)."""
    assert rule.digest is not None
    window = parse_duration(rule.digest.window).total_seconds()
    start = now.timestamp() // window * window
    return datetime.fromtimestamp(start + window, UTC)
