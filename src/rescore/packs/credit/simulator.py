"""A business day at the lender, one change at a time.

Each :meth:`CreditSimulator.step` picks an event type with a realistic mix (mostly payments),
picks the row it touches from the source with ``ORDER BY`` and the simulator's own random
generator, applies the change through the caller's connection and returns the event. Same seed
and same starting data, same stream. When nothing fits the picked type (no open plan to
default, say), the step makes a payment instead, or failing that raises a credit limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, Row, Select, and_, func, select, update

from rescore.exceptions import PluginError
from rescore.packs.credit.demo import TERMS, add_months
from rescore.packs.credit.schema import clients, loans, payment_plans, payments
from rescore.plugins import DemoSimulator

__all__ = ["MIX", "CreditSimulator", "default_client"]

#: Event type -> share of a day's events.
MIX: dict[str, float] = {
    "payment_made": 0.70,
    "payment_late": 0.10,
    "new_loan": 0.06,
    "limit_increase": 0.05,
    "new_payment_plan": 0.04,
    "plan_defaulted": 0.02,
    "plan_cancelled": 0.02,
    "client_default": 0.02,
}
#: What to do instead when nothing fits the drawn type (no open plan to default, say).
FALLBACK = ("payment_made", "limit_increase")
#: The demo client the day opens by writing off (the README's `explain` example).
SHOWCASE_DEFAULTER = "80283877"
ON_TIME_SHARE = 0.85  # of payments made, the share paying an instalment not yet overdue

Event = dict[str, Any]


class CreditSimulator(DemoSimulator):
    """Reproducible stream of credit business changes, opening on ``today`` at 08:00 UTC, or
    at ``clock()`` when that is earlier; ``clock`` returns an aware UTC time."""

    def __init__(
        self, seed: int, *, today: date, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(seed, start=datetime.combine(today, time(8), tzinfo=UTC), clock=clock)
        self._opened = False
        self._actions: dict[str, Callable[[Connection], Event | None]] = {
            "payment_made": self._payment_made,
            "payment_late": self._payment_late,
            "new_loan": self._new_loan,
            "limit_increase": self._limit_increase,
            "new_payment_plan": self._new_payment_plan,
            "plan_defaulted": self._plan_defaulted,
            "plan_cancelled": self._plan_cancelled,
            "client_default": self._client_default,
        }

    @property
    def today(self) -> date:
        return self.now.date()

    def step(self, conn: Connection) -> dict[str, Any]:
        self.tick(5, 60)
        if not self._opened:  # the day opens with the showcase default the README explains
            self._opened = True
            opening = self._default(conn, SHOWCASE_DEFAULTER)
            if opening is not None:
                return opening
        kind = self.rng.choices(list(MIX), list(MIX.values()))[0]
        for action in (kind, *FALLBACK):
            event = self._actions[action](conn)
            if event is not None:
                return event
        raise PluginError("no active client to simulate: generate demo data first")

    # -- helpers -------------------------------------------------------------------------

    def _event(self, type_: str, cedula: str, payload: dict[str, Any]) -> Event:
        return {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "type": type_,
            "entity": cedula,
            "occurred_at": self.now.isoformat(),
            "payload": payload,
        }

    def _pick(self, conn: Connection, query: Select[Any]) -> Row[Any] | None:
        """One row of an ordered query, chosen by the simulator's generator."""
        count = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        if not count:
            return None
        return conn.execute(query.offset(self.rng.randrange(count)).limit(1)).one()

    def _active_client(self, conn: Connection) -> Row[Any] | None:
        query = select(clients).where(clients.c.status == "active").order_by(clients.c.cedula)
        return self._pick(conn, query)

    def _touch(self, conn: Connection, cedula: str, **values: Any) -> None:
        conn.execute(
            update(clients).where(clients.c.cedula == cedula).values(updated_at=self.now, **values)
        )

    # -- payments ------------------------------------------------------------------------

    def _payment_made(self, conn: Connection) -> Event | None:
        unpaid = payments.c.status.in_(("pending", "late"))
        if self.rng.random() < ON_TIME_SHARE:
            window = payments.c.due_date.between(self.today, self.today + timedelta(days=30))
            where = and_(unpaid, window)
        else:
            where = and_(unpaid, payments.c.due_date < self.today)
        row = self._pick(conn, select(payments).where(where).order_by(payments.c.id))
        if row is None:
            return None
        conn.execute(
            update(payments)
            .where(payments.c.id == row.id)
            .values(status="paid", paid_date=self.today)
        )
        self._close_if_paid(conn, row.loan_id)
        payload = {
            "payment_id": row.id,
            "loan_id": row.loan_id,
            "amount": row.amount,
            "due_date": row.due_date.isoformat(),
            "paid_date": self.today.isoformat(),
            "days_late": max(0, (self.today - row.due_date).days),
        }
        return self._event("payment_made", row.cedula, payload)

    def _close_if_paid(self, conn: Connection, loan_id: int) -> None:
        open_ = select(func.count()).where(
            payments.c.loan_id == loan_id, payments.c.status != "paid"
        )
        if conn.execute(open_).scalar_one() == 0:
            conn.execute(
                update(loans)
                .where(loans.c.id == loan_id)
                .values(status="paid", closed_at=self.today)
            )

    def _payment_late(self, conn: Connection) -> Event | None:
        query = (
            select(payments)
            .where(payments.c.status == "pending", payments.c.due_date < self.today)
            .order_by(payments.c.id)
        )
        row = self._pick(conn, query)
        if row is None:
            return None
        conn.execute(update(payments).where(payments.c.id == row.id).values(status="late"))
        payload = {
            "payment_id": row.id,
            "loan_id": row.loan_id,
            "amount": row.amount,
            "due_date": row.due_date.isoformat(),
            "days_overdue": (self.today - row.due_date).days,
        }
        return self._event("payment_late", row.cedula, payload)

    # -- loans and limits ----------------------------------------------------------------

    def _new_loan(self, conn: Connection) -> Event | None:
        client = self._active_client(conn)
        if client is None:
            return None
        term = self.rng.choice(TERMS)
        amount = self.rng.randrange(500_000, 15_000_000, 50_000)
        loan_id = _insert(
            conn,
            loans.insert().values(
                cedula=client.cedula,
                amount=amount,
                opened_at=self.today,
                term_months=term,
                status="active",
            ),
        )
        instalment = amount // term - amount // term % 100
        conn.execute(
            payments.insert(),
            [
                {
                    "loan_id": loan_id,
                    "cedula": client.cedula,
                    "due_date": add_months(self.today, k),
                    "paid_date": None,
                    "amount": instalment,
                    "status": "pending",
                }
                for k in range(1, term + 1)
            ],
        )
        payload = {"loan_id": loan_id, "amount": amount, "term_months": term}
        return self._event("new_loan", client.cedula, {**payload, "instalment": instalment})

    def _limit_increase(self, conn: Connection) -> Event | None:
        client = self._active_client(conn)
        if client is None:
            return None
        raised = client.credit_limit * (1 + self.rng.uniform(0.1, 0.3))
        new_limit = round(raised / 100_000) * 100_000
        self._touch(conn, client.cedula, credit_limit=new_limit)
        payload = {"old_limit": client.credit_limit, "new_limit": new_limit}
        return self._event("limit_increase", client.cedula, payload)

    # -- payment plans -------------------------------------------------------------------

    def _client_in_arrears(self, conn: Connection) -> Row[Any] | None:
        query = (
            select(clients)
            .where(
                clients.c.status == "active",
                clients.c.cedula.in_(select(payments.c.cedula).where(payments.c.status == "late")),
            )
            .order_by(clients.c.cedula)
        )
        return self._pick(conn, query)

    def _new_payment_plan(self, conn: Connection) -> Event | None:
        client = self._client_in_arrears(conn) if self.rng.random() < 0.7 else None
        client = client or self._active_client(conn)
        if client is None:
            return None
        status = "active" if self.rng.random() < 0.75 else "pending"
        amount = self.rng.randrange(300_000, 5_000_000, 10_000)
        plan_id = _insert(
            conn,
            payment_plans.insert().values(
                cedula=client.cedula, status=status, amount=amount, created_at=self.today
            ),
        )
        payload = {"plan_id": plan_id, "plan_status": status, "plan_amount": amount}
        return self._event("new_payment_plan", client.cedula, payload)

    def _close_plan(self, conn: Connection, from_: tuple[str, ...], to: str) -> Event | None:
        query = (
            select(payment_plans)
            .where(payment_plans.c.status.in_(from_))
            .order_by(payment_plans.c.id)
        )
        plan = self._pick(conn, query)
        if plan is None:
            return None
        conn.execute(
            update(payment_plans)
            .where(payment_plans.c.id == plan.id)
            .values(status=to, ended_at=self.today)
        )
        payload = {"plan_id": plan.id, "previous_status": plan.status, "plan_amount": plan.amount}
        return self._event(f"plan_{to}", plan.cedula, payload)

    def _plan_defaulted(self, conn: Connection) -> Event | None:
        return self._close_plan(conn, ("active",), "defaulted")

    def _plan_cancelled(self, conn: Connection) -> Event | None:
        return self._close_plan(conn, ("active", "pending"), "cancelled")

    # -- default -------------------------------------------------------------------------

    def _client_default(self, conn: Connection) -> Event | None:
        client = self._client_in_arrears(conn)
        return None if client is None else self._default(conn, client.cedula)

    def _default(self, conn: Connection, cedula: str) -> Event | None:
        """Write ``cedula`` off, if it has an active loan."""
        loan_ids = list(
            conn.execute(
                select(loans.c.id)
                .where(loans.c.cedula == cedula, loans.c.status == "active")
                .order_by(loans.c.id)
            ).scalars()
        )
        if not loan_ids:
            return None
        written_off = default_client(conn, cedula, self.today)
        self._touch(conn, cedula, status="defaulted")
        payload = {"loan_ids": loan_ids, "instalments_defaulted": written_off}
        return self._event("client_default", cedula, payload)


def _insert(conn: Connection, statement: Insert) -> int:
    """Run a one-row insert and return the new row's id."""
    key = conn.execute(statement).inserted_primary_key
    if key is None:  # pragma: no cover - every credit table has an integer id
        raise PluginError("insert returned no primary key")
    return int(key[0])


def default_client(conn: Connection, cedula: str, today: date) -> int:
    """Write a client off: active loans and unpaid instalments become ``defaulted``.

    Returns how many instalments were written off. Shared with the tests, so the property
    "a default never raises a score" is checked against the very change the simulator makes.
    """
    conn.execute(
        update(loans)
        .where(loans.c.cedula == cedula, loans.c.status == "active")
        .values(status="defaulted", closed_at=today)
    )
    result = conn.execute(
        update(payments)
        .where(payments.c.cedula == cedula, payments.c.status.in_(("pending", "late")))
        .values(status="defaulted")
    )
    return result.rowcount
