"""Seed 003's two automation modes, both real, both metered: which customers each rule acts on.

**Event-driven** (what the seed moved to) asks the database only for the customers a rule acts
on, through the indexes of :mod:`.schema`: birthdays by ``(business_id, birth_month,
birth_day)``, inactive customers by ``(business_id, last_visit_at)``, new registrations by
``(business_id, registered_at)``; one query per distinct local date for birthdays, one for
each other rule.

**Legacy** (what the seed moved away from) is the hourly cron job it replaced: for every
business, for every rule, read every customer of the business and test the rule in code.

Both give the same actions on the same data (a Hypothesis property test holds them to it);
:class:`Meter` counts the queries each issues (a ``before_cursor_execute`` listener on the
connection) and the rows the database hands back, so ``rescore bench`` and
``GET /v1/packs/loyalty/automations`` can show the difference.

Example::

    plan = Plan(now=datetime(2027, 2, 28, 14, 0))
    with engine.connect() as conn:
        fast = run(conn, "event-driven", plan)
        slow = run(conn, "legacy", plan)
    assert fast.actions == slow.actions and fast.rows < slow.rows
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping, Select, event, select

from rescore.packs.loyalty.customers import (
    birthday_keys,
    is_birthday,
    local_time,
    missing_fields,
    required_of,
)
from rescore.packs.loyalty.schema import businesses, customers

__all__ = [
    "MODES",
    "RULES",
    "Action",
    "Meter",
    "ModeResult",
    "Plan",
    "birthdays_today",
    "inactive_customers",
    "local_date",
    "registered_between",
    "run",
]

Mode = Literal["event-driven", "legacy"]
MODES: tuple[Mode, ...] = ("event-driven", "legacy")
RULES = ("birthday", "inactive", "missing_fields")


@dataclass(frozen=True, kw_only=True, slots=True, order=True)
class Action:
    """One message a rule sends: to whom, and (for missing fields) what to ask for."""

    rule: str
    business_id: str
    entity: str
    missing: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"rule": self.rule, "business_id": self.business_id}
        found["entity"] = self.entity
        if self.rule == "missing_fields":
            found["missing_fields"] = list(self.missing)
        return found


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    """What to evaluate: at ``now`` (naive UTC), for one business or all, which rules.

    ``since`` bounds the registrations the missing-fields rule looks at (default: the hour
    before ``now``, the legacy cron job's period)."""

    now: datetime
    business_id: str | None = None
    rules: tuple[str, ...] = RULES
    since: datetime | None = None
    inactive_days: int = 30

    @property
    def registered_since(self) -> datetime:
        return self.since if self.since is not None else self.now - timedelta(hours=1)

    @property
    def inactive_before(self) -> datetime:
        return self.now - timedelta(days=self.inactive_days)


@dataclass(kw_only=True, slots=True)
class Meter:
    """Queries issued and rows read on one connection while :meth:`watching` it."""

    queries: int = 0
    rows: int = 0

    @contextmanager
    def watching(self, conn: Connection) -> Iterator[Meter]:
        def count(*_args: Any) -> None:
            self.queries += 1

        event.listen(conn, "before_cursor_execute", count)
        try:
            yield self
        finally:
            event.remove(conn, "before_cursor_execute", count)

    def fetch(self, conn: Connection, query: Select[Any]) -> Sequence[RowMapping]:
        rows = conn.execute(query).mappings().all()
        self.rows += len(rows)
        return rows


@dataclass(frozen=True, kw_only=True, slots=True)
class ModeResult:
    mode: str
    actions: list[Action] = field(default_factory=list)
    queries: int = 0
    rows: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(RULES, 0)
        for action in self.actions:
            found[action.rule] += 1
        return found


def local_date(now: datetime, zone: str) -> date:
    """The date at naive-UTC ``now`` in the IANA ``zone``."""
    return local_time(now, zone).date()


def run(conn: Connection, mode: Mode, plan: Plan) -> ModeResult:
    """The actions ``mode`` finds for ``plan``, sorted, with its queries, rows and time."""
    meter = Meter()
    started = time.perf_counter()
    with meter.watching(conn):
        found = (
            _event_driven(conn, plan, meter)
            if mode == "event-driven"
            else _legacy(conn, plan, meter)
        )
    seconds = time.perf_counter() - started
    return ModeResult(
        mode=mode, actions=sorted(found), queries=meter.queries, rows=meter.rows, seconds=seconds
    )


# -- event-driven --------------------------------------------------------------------------


def _businesses(conn: Connection, business_id: str | None, meter: Meter) -> Sequence[RowMapping]:
    query = select(businesses).order_by(businesses.c.id)
    if business_id is not None:
        query = query.where(businesses.c.id == business_id)
    return meter.fetch(conn, query)


def birthdays_today(
    conn: Connection, business_id: str | None, local: date, meter: Meter | None = None
) -> Sequence[RowMapping]:
    """Customers (of one business, or of every business) whose birthday is ``local``, by the
    ``(business_id, birth_month, birth_day)`` index; 29 February birthdays match on
    28 February of a non-leap year."""
    meter = meter or Meter()
    if business_id is not None:
        return meter.fetch(conn, _birthday_query([business_id], local))
    ids = [b["id"] for b in _businesses(conn, None, meter)]
    return meter.fetch(conn, _birthday_query(ids, local)) if ids else []


#: What an action needs of a customer: the event-driven rules read only this (the audiences
#: and the legacy scan read whole rows).
KEYS = (customers.c.id, customers.c.business_id)


def _birthday_query(
    business_ids: list[str], local: date, columns: Sequence[Any] = (customers,)
) -> Select[Any]:
    keys = birthday_keys(local)
    return (
        select(*columns)
        .where(
            customers.c.business_id.in_(business_ids),
            customers.c.birth_month == keys[0][0],
            customers.c.birth_day.in_([day for _, day in keys]),
        )
        .order_by(customers.c.business_id, customers.c.id)
    )


def inactive_customers(
    conn: Connection,
    business_id: str | None,
    as_of: datetime,
    days: int = 30,
    meter: Meter | None = None,
) -> Sequence[RowMapping]:
    """Customers whose last visit is more than ``days`` days before ``as_of`` (naive UTC), by
    the ``(business_id, last_visit_at)`` index. Someone who never visited is not inactive."""
    meter = meter or Meter()
    ids = _ids(conn, business_id, meter)
    return meter.fetch(conn, _inactive_query(ids, as_of - timedelta(days=days)))


def _inactive_query(
    business_ids: list[str], cutoff: datetime, columns: Sequence[Any] = (customers,)
) -> Select[Any]:
    return (
        select(*columns)
        .where(customers.c.business_id.in_(business_ids), customers.c.last_visit_at < cutoff)
        .order_by(customers.c.business_id, customers.c.id)
    )


def registered_between(
    conn: Connection, business_ids: list[str], since: datetime, until: datetime, meter: Meter
) -> Sequence[RowMapping]:
    """Customers registered in ``[since, until)``, by the ``(business_id, registered_at)``
    index (the missing-fields rule's event-driven form)."""
    query = select(customers).where(
        customers.c.business_id.in_(business_ids),
        customers.c.registered_at >= since,
        customers.c.registered_at < until,
    )
    return meter.fetch(conn, query.order_by(customers.c.business_id, customers.c.id))


def _ids(conn: Connection, business_id: str | None, meter: Meter) -> list[str]:
    if business_id is not None:
        return [business_id]
    return [b["id"] for b in _businesses(conn, None, meter)]


def _event_driven(conn: Connection, plan: Plan, meter: Meter) -> list[Action]:
    known = _businesses(conn, plan.business_id, meter)
    actions: list[Action] = []
    if "birthday" in plan.rules:
        by_date: dict[date, list[str]] = {}
        for b in known:
            by_date.setdefault(local_date(plan.now, b["time_zone"]), []).append(b["id"])
        for local, ids in sorted(by_date.items()):
            rows = meter.fetch(conn, _birthday_query(ids, local, KEYS))
            actions += [_action("birthday", row) for row in rows]
    ids = [b["id"] for b in known]
    if "inactive" in plan.rules and ids:
        rows = meter.fetch(conn, _inactive_query(ids, plan.inactive_before, KEYS))
        actions += [_action("inactive", row) for row in rows]
    if "missing_fields" in plan.rules and ids:
        required = {b["id"]: required_of(b["required_fields"]) for b in known}
        rows = registered_between(conn, ids, plan.registered_since, plan.now, meter)
        actions += _missing(rows, required)
    return actions


def _action(rule: str, row: RowMapping) -> Action:
    return Action(rule=rule, business_id=row["business_id"], entity=row["id"])


def _missing(rows: Sequence[RowMapping], required: dict[str, list[str]]) -> list[Action]:
    found = []
    for row in rows:
        missing = missing_fields(row, required[row["business_id"]])
        if missing:
            found.append(
                Action(
                    rule="missing_fields",
                    business_id=row["business_id"],
                    entity=row["id"],
                    missing=tuple(missing),
                )
            )
    return found


# -- legacy ---------------------------------------------------------------------------------


def _legacy(conn: Connection, plan: Plan, meter: Meter) -> list[Action]:
    """Every business, every rule, every customer of the business read and tested in code."""
    actions: list[Action] = []
    for business in _businesses(conn, plan.business_id, meter):
        for rule in plan.rules:
            query = select(customers).where(customers.c.business_id == business["id"])
            everyone = meter.fetch(conn, query)
            actions += _legacy_rule(rule, business, everyone, plan)
    return actions


def _legacy_rule(
    rule: str, business: RowMapping, everyone: Sequence[RowMapping], plan: Plan
) -> list[Action]:
    if rule == "birthday":
        today = local_date(plan.now, business["time_zone"])
        return [_action(rule, c) for c in everyone if is_birthday(c["birth_date"], today)]
    if rule == "inactive":
        cutoff = plan.inactive_before
        return [
            _action(rule, c)
            for c in everyone
            if c["last_visit_at"] is not None and c["last_visit_at"] < cutoff
        ]
    since, until = plan.registered_since, plan.now
    new = [c for c in everyone if since <= c["registered_at"] < until]
    return _missing(new, {business["id"]: required_of(business["required_fields"])})
