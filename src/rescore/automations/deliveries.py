"""The engine's delivery operations: the automations' outbox as people and the dispatcher
see it (listing, counts, requeue; claims, attempts, digests)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.automations.operations import plain as _plain
from rescore.automations.outbox import key_of
from rescore.db.dialect import for_claim, insert_ignoring
from rescore.db.schema import DEFAULT_TENANT, deliveries, firings
from rescore.operations import Parts

__all__ = ["Claimed", "DeliveryOperations", "DigestGroup"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Claimed:
    """A delivery a dispatcher holds: what to send and the firing behind it."""

    id: int
    key: str
    tenant: str
    rule: str
    action: int
    kind: str
    attempts: int
    entity: str | None
    pack: str | None
    context: Mapping[str, Any]
    message: Mapping[str, Any] | None


@dataclass(frozen=True, kw_only=True, slots=True)
class DigestGroup:
    """The deliveries of one rule action whose digest window ended."""

    tenant: str
    rule: str
    action: int
    due_at: datetime
    members: tuple[Claimed, ...]


class DeliveryOperations(Parts):
    """Deliveries: for people (list, count, requeue) and for the dispatcher."""

    def deliveries(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        status: str | None = None,
        rule: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Deliveries, newest first (``status="dead"``: the automation dead letter)."""
        query = sa.select(deliveries).where(deliveries.c.tenant == tenant)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        if rule is not None:
            query = query.where(deliveries.c.rule == rule)
        query = query.order_by(deliveries.c.id.desc()).limit(limit).offset(offset)
        with self.db.read() as conn:
            return [_plain(row) for row in conn.execute(query)]

    def delivery_counts(self, *, tenant: str = DEFAULT_TENANT) -> dict[str, int]:
        """Deliveries by status."""
        query = (
            sa.select(deliveries.c.status, sa.func.count())
            .where(deliveries.c.tenant == tenant)
            .group_by(deliveries.c.status)
        )
        with self.db.read() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def requeue_deliveries(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        ids: Sequence[int] | None = None,
        rule: str | None = None,
    ) -> int:
        """Put dead deliveries back in line with fresh attempts; returns how many."""
        query = deliveries.update().where(
            deliveries.c.tenant == tenant, deliveries.c.status == "dead"
        )
        if ids is not None:
            query = query.where(deliveries.c.id.in_(list(ids)))
        if rule is not None:
            query = query.where(deliveries.c.rule == rule)
        values = {"status": "pending", "attempts": 0, "due_at": self.clock(), "claimed_by": None}
        with self.db.begin() as conn:
            return int(conn.execute(query.values(**values)).rowcount)

    # the dispatcher's side ----------------------------------------------------------------

    def claim_deliveries(self, worker: str, *, limit: int = 100) -> list[Claimed]:
        """Claim due deliveries for ``worker`` (skipping rows other dispatchers hold)."""
        now = self.clock()
        free = sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now)
        query = (
            sa.select(deliveries.c.id)
            .where(deliveries.c.status == "pending", deliveries.c.due_at <= now, free)
            .order_by(deliveries.c.due_at, deliveries.c.id)
            .limit(limit)
        )
        with self.db.begin() as conn:
            ids = [row.id for row in conn.execute(for_claim(conn, query))]
            if not ids:
                return []
            until = now + timedelta(seconds=self.settings.delivery_lease)
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(ids))
                .values(claimed_by=worker, claimed_until=until)
            )
            return list(_claimed(conn, ids))

    def finish_delivery(
        self,
        claimed: Claimed,
        worker: str,
        *,
        message: Mapping[str, Any] | None = None,
        error: str | None = None,
        permanent: bool = False,
    ) -> str:
        """Record an attempt: ``sent``, back to ``pending`` with backoff, or ``dead``; returns
        the new status. Only the claim's holder may finish it."""
        now = self.clock()
        attempts = claimed.attempts + 1
        if error is None:
            values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": None}
        elif permanent or attempts >= self.settings.delivery_attempts:
            values = {"status": "dead", "last_error": error}
        else:
            backoff = self.settings.delivery_backoff * 2 ** (attempts - 1)
            values = {"due_at": now + timedelta(seconds=backoff), "last_error": error}
        values |= {"attempts": attempts, "claimed_by": None, "claimed_until": None}
        if message is not None:
            values["message"] = dict(message)
        with self.db.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == claimed.id, deliveries.c.claimed_by == worker)
                .values(**values)
            )
        return str(values.get("status", "pending"))

    def postpone_delivery(self, claimed: Claimed, worker: str, until: datetime) -> None:
        """Hand a claimed delivery back to wait until ``until`` (quiet hours), no attempt used."""
        with self.db.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == claimed.id, deliveries.c.claimed_by == worker)
                .values(due_at=until, claimed_by=None, claimed_until=None)
            )

    def due_digests(self, *, limit: int = 20) -> list[DigestGroup]:
        """Rule actions whose digest window has ended, with their waiting deliveries."""
        key = (deliveries.c.tenant, deliveries.c.rule, deliveries.c.action, deliveries.c.due_at)
        query = (
            sa.select(*key)
            .where(deliveries.c.status == "digest", deliveries.c.due_at <= self.clock())
            .group_by(*key)
            .limit(limit)
        )
        groups: list[DigestGroup] = []
        with self.db.read() as conn:
            for tenant, rule, action, due in conn.execute(query).all():
                members = sa.select(deliveries.c.id).where(
                    deliveries.c.status == "digest",
                    deliveries.c.tenant == tenant,
                    deliveries.c.rule == rule,
                    deliveries.c.action == action,
                    deliveries.c.due_at == due,
                )
                ids = [row.id for row in conn.execute(members)]
                groups.append(
                    DigestGroup(
                        tenant=tenant,
                        rule=rule,
                        action=action,
                        due_at=due,
                        members=tuple(_claimed(conn, ids)),
                    )
                )
        return groups

    def record_digest(
        self, group: DigestGroup, recipient: str, message: Mapping[str, Any], ids: Sequence[int]
    ) -> bool:
        """One delivery carrying ``ids`` (members of ``group`` for ``recipient``); the members
        become ``digested``. Idempotent on (group, recipient)."""
        key = key_of(
            "digest",
            group.tenant,
            group.rule,
            str(group.action),
            group.due_at.isoformat(),
            recipient,
        )
        now = self.clock()
        row = {
            "tenant": group.tenant,
            "rule": group.rule,
            "action": group.action,
            "kind": "notify",
            "key": key,
            "status": "pending",
            "attempts": 0,
            "due_at": now,
            "created_at": now,
            "message": dict(message),
        }
        with self.db.begin() as conn:
            digest_id = insert_ignoring(conn, deliveries, row, unique=["key"])
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(list(ids)), deliveries.c.status == "digest")
                .values(status="digested", digest_id=digest_id)
            )
        return digest_id is not None


def _claimed(conn: Connection, ids: Sequence[int]) -> Iterator[Claimed]:
    query = (
        sa.select(deliveries, firings.c.entity, firings.c.pack, firings.c.context)
        .select_from(deliveries.outerjoin(firings, firings.c.id == deliveries.c.firing_id))
        .where(deliveries.c.id.in_(list(ids)))
        .order_by(deliveries.c.id)
    )
    for row in conn.execute(query):
        yield Claimed(
            id=row.id,
            key=row.key,
            tenant=row.tenant,
            rule=row.rule,
            action=row.action,
            kind=row.kind,
            attempts=row.attempts,
            entity=row.entity,
            pack=row.pack,
            context=row.context or {},
            message=row.message,
        )
