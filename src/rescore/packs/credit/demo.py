"""Realistic, reproducible demo data for the credit pack.

Everything comes from the seed and a reference date (the pack clock's today): the clients'
cédulas from the seed alone (the showcase clients the docs use come first), each client's
history from its own ``random.Random`` seeded by the seed and its cédula, so the same seed
gives the same clients on any day and the same rows on the same day, and "recent" means recent
to the scorers. Each client gets a hidden risk (the chance of paying an instalment late); most
clients are punctual, a few drift into overdue instalments, payment plans and default.

Each client also gets a labelled outcome (``credit_outcomes``): whether it defaults within
12 months of the generation date, drawn from its hidden risk, its visible history and noise.
The demo knows that future in advance; a lender loads its observed outcomes there instead.

Rows are built in memory and written with one bulk insert per table, in foreign-key order.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Table, func, select

from rescore.packs.credit.schema import clients, loans, outcomes, payment_plans, payments

__all__ = [
    "DEFAULT_SIZE",
    "OUTCOME_HORIZON_MONTHS",
    "SHOWCASE_CEDULAS",
    "add_months",
    "demo_cedulas",
    "generate",
    "new_cedula",
    "random_name",
]

DEFAULT_SIZE = 1870  # the seed's client count
BUREAU_SHARE = 0.88  # clients with an Experian/HCPN score
DEFAULTER_SHARE = 0.03
TERMS = (3, 6, 9, 12, 18, 24)
GRACE_DAYS = 10  # unpaid instalments this fresh are not flagged late yet
OUTCOME_HORIZON_MONTHS = 12
#: The outcome process: log-odds of defaulting within the horizon (see ``_outcome``).
OUTCOME_BASE, OUTCOME_RISK, OUTCOME_LATE, OUTCOME_BROKEN_PLAN, OUTCOME_DEFAULTER = (
    -4.1,
    9.0,
    0.3,
    0.6,
    1.5,
)
OUTCOME_NOISE = 0.8  # what no source column shows (a lost job, a new competitor)

FIRST_NAMES = (
    "Andrés", "Camila", "Carlos", "Daniela", "Diana", "Felipe", "Juan", "Juliana", "Laura",
    "Luisa", "María", "Mateo", "Natalia", "Paula", "Santiago", "Sebastián", "Sofía", "Valentina",
    "Alejandro", "Catalina", "Jorge", "Luis", "Manuela", "Óscar", "Esteban", "Gloria", "Hernán",
)  # fmt: skip
MIDDLE_NAMES = ("Alejandra", "Andrea", "David", "Eduardo", "Fernanda", "José", "Lucía", "Miguel")
SURNAMES = (
    "Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández", "Sánchez",
    "Ramírez", "Pérez", "Díaz", "Muñoz", "Rojas", "Moreno", "Jiménez", "Vargas", "Castro",
    "Ortiz", "Gutiérrez", "Restrepo", "Ospina", "Cárdenas", "Zapata", "Quintero", "Salazar",
)  # fmt: skip


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, the day of month capped at 28 (instalment calendars)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, min(day.day, 28))


#: Clients every demo database has (the README, ``--help`` and the API examples use them).
SHOWCASE_CEDULAS = ("1001257568", "1000740529", "80283877")


def demo_cedulas(seed: int, size: int, taken: set[str]) -> list[str]:
    """The demo's cédulas: the showcase clients first, then ones drawn from the seed alone,
    so the same seed gives the same clients on any day."""
    found = [c for c in SHOWCASE_CEDULAS[:size] if c not in taken]
    taken.update(found)
    ids = random.Random(seed)
    while len(found) < size:
        found.append(new_cedula(ids, taken))
    return found


def new_cedula(rng: random.Random, taken: set[str]) -> str:
    """A unique Colombian cédula: 10 digits (issued since 2003) or 8 (older ones)."""
    while True:
        if rng.random() < 0.7:
            cedula = str(rng.randint(1_000_000_000, 1_130_000_000))
        else:
            cedula = str(rng.randint(10_000_000, 99_999_999))
        if cedula not in taken:
            taken.add(cedula)
            return cedula


def random_name(rng: random.Random) -> str:
    """A Colombian full name: one or two given names and two surnames."""
    given = [rng.choice(FIRST_NAMES)]
    if rng.random() < 0.4:
        given.append(rng.choice(MIDDLE_NAMES))
    return " ".join([*given, rng.choice(SURNAMES), rng.choice(SURNAMES)])


@dataclass
class _Batch:
    """Rows to insert, with the next free id of each table."""

    next_loan: int
    next_payment: int
    next_plan: int
    clients: list[dict[str, Any]] = field(default_factory=list)
    loans: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)


def generate(conn: Connection, *, seed: int, size: int, today: date) -> int:
    """Insert ``size`` clients with loans, instalments and plans; return ``size``."""
    if size < 0:
        raise ValueError(f"size must be >= 0, not {size}")
    batch = _Batch(_next_id(conn, loans), _next_id(conn, payments), _next_id(conn, payment_plans))
    taken = set(conn.execute(select(clients.c.cedula)).scalars())
    for cedula in demo_cedulas(seed, size, taken):
        # one generator per client: a client's history depends on the seed, its cédula and
        # the date only, never on how many draws the clients before it took
        _client(random.Random(f"{seed}:{cedula}"), batch, cedula, today)
    for table, rows in (
        (clients, batch.clients),
        (loans, batch.loans),
        (payments, batch.payments),
        (payment_plans, batch.plans),
        (outcomes, batch.outcomes),
    ):
        if rows:
            conn.execute(table.insert(), rows)
    return size


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _tenure_months(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.25:
        return rng.randint(0, 5)  # new
    if roll < 0.6:
        return rng.randint(6, 23)
    return rng.randint(24, 72)  # seasoned


def _client(rng: random.Random, batch: _Batch, cedula: str, today: date) -> None:
    since = add_months(today, -_tenure_months(rng)) - timedelta(days=rng.randint(0, 27))
    risk = rng.betavariate(1.3, 9.0)  # chance of paying an instalment late, mean ~0.13
    defaulter = rng.random() < DEFAULTER_SHARE
    bureau = None
    if rng.random() < BUREAU_SHARE:
        bureau = round(min(950.0, max(150.0, rng.gauss(660 - 450 * risk, 90))))
    batch.clients.append(
        {
            "cedula": cedula,
            "full_name": random_name(rng),
            "client_since": since,
            "bureau_score": bureau,
            "credit_limit": rng.randrange(1_000_000, 20_000_000, 100_000),
            "status": "defaulted" if defaulter else "active",
            "updated_at": datetime.combine(today, time(0), tzinfo=UTC),
        }
    )
    first_payment, first_plan = len(batch.payments), len(batch.plans)
    count = 1 if (today - since).days < 60 else rng.choices((1, 2, 3, 4), (40, 30, 20, 10))[0]
    for index in range(count):
        _loan(rng, batch, cedula, since, today, risk, defaulter and index == count - 1)
    if rng.random() < 0.08 + 1.2 * risk:
        for _ in range(rng.choices((1, 2, 3), (75, 20, 5))[0]):
            _plan(rng, batch, cedula, since, today)
    history = (batch.payments[first_payment:], batch.plans[first_plan:])
    batch.outcomes.append(_outcome(rng, cedula, risk, defaulter, history, today))


def _outcome(
    rng: random.Random,
    cedula: str,
    risk: float,
    defaulter: bool,
    history: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    today: date,
) -> dict[str, Any]:
    """Does the client default within the horizon after ``today``? A draw whose log-odds
    grow with the hidden risk, the visible late instalments (capped at 8) and broken plans,
    a past default, and noise no column shows: learnable from the history, never certain."""
    instalments, plans = history
    late = sum(1 for p in instalments if p["status"] in ("late", "defaulted") or _paid_late(p))
    broken = sum(1 for p in plans if p["status"] == "defaulted")
    log_odds = (
        OUTCOME_BASE
        + OUTCOME_RISK * risk
        + OUTCOME_LATE * min(late, 8)
        + OUTCOME_BROKEN_PLAN * broken
        + (OUTCOME_DEFAULTER if defaulter else 0.0)
        + rng.gauss(0.0, OUTCOME_NOISE)
    )
    return {
        "cedula": cedula,
        "observed_from": today,
        "horizon_months": OUTCOME_HORIZON_MONTHS,
        "defaulted": rng.random() < 1.0 / (1.0 + math.exp(-log_odds)),
        "labelled_at": today,
    }


def _paid_late(instalment: dict[str, Any]) -> bool:
    paid: date | None = instalment["paid_date"]
    return paid is not None and paid > instalment["due_date"]


def _loan(
    rng: random.Random,
    batch: _Batch,
    cedula: str,
    since: date,
    today: date,
    risk: float,
    defaults: bool,
) -> None:
    loan_id = batch.next_loan
    batch.next_loan += 1
    opened = since + timedelta(days=rng.randint(0, max(0, (today - since).days - 1)))
    term = rng.choice(TERMS)
    amount = rng.randrange(500_000, 15_000_000, 50_000)
    rows = [
        _instalment(rng, batch, loan_id, cedula, add_months(opened, k), amount // term, today, risk)
        for k in range(1, term + 1)
    ]
    status, closed = _loan_status(rows)
    if defaults:
        status, closed = _default(rng, rows, today)
    batch.payments.extend(rows)
    batch.loans.append(
        {
            "id": loan_id,
            "cedula": cedula,
            "amount": amount,
            "opened_at": opened,
            "term_months": term,
            "status": status,
            "closed_at": closed,
        }
    )


def _instalment(
    rng: random.Random,
    batch: _Batch,
    loan_id: int,
    cedula: str,
    due: date,
    amount: int,
    today: date,
    risk: float,
) -> dict[str, Any]:
    row = {
        "id": batch.next_payment,
        "loan_id": loan_id,
        "cedula": cedula,
        "due_date": due,
        "paid_date": None,
        "amount": amount - amount % 100,
        "status": "pending",
    }
    batch.next_payment += 1
    paid, status = _payment_fate(rng, due, today, risk)
    row["paid_date"], row["status"] = paid, status
    return row


def _payment_fate(
    rng: random.Random, due: date, today: date, risk: float
) -> tuple[date | None, str]:
    """When an instalment was paid (if at all) and its status as of ``today``."""
    if due >= today:
        if (due - today).days <= 15 and rng.random() < 0.15:
            return today - timedelta(days=rng.randint(0, 3)), "paid"  # paid ahead
        return None, "pending"
    roll = rng.random()
    if (today - due).days <= GRACE_DAYS and roll < 2 * risk:
        return None, "pending"  # a few days overdue, not flagged late yet
    if roll < risk * 0.15:
        return None, "pending" if (today - due).days <= GRACE_DAYS else "late"
    if roll < risk:
        paid = due + timedelta(days=min(90, 1 + int(rng.expovariate(1 / 8))))
        if paid > today:
            return None, "pending" if (today - due).days <= GRACE_DAYS else "late"
        return paid, "paid"
    return due - timedelta(days=rng.choice((0, 0, 0, 1, 2, 3, 5))), "paid"


def _loan_status(rows: list[dict[str, Any]]) -> tuple[str, date | None]:
    if all(row["status"] == "paid" for row in rows):
        return "paid", max(row["paid_date"] for row in rows)
    return "active", None


def _default(
    rng: random.Random, rows: list[dict[str, Any]], today: date
) -> tuple[str, date | None]:
    """Write the loan off from a random instalment already due: it and all later unpaid ones."""
    due = [index for index, row in enumerate(rows) if row["due_date"] < today]
    if not due:
        return _loan_status(rows)
    first = rng.choice(due)
    for row in rows[first:]:
        row["paid_date"], row["status"] = None, "defaulted"
    closed = min(today, rows[first]["due_date"] + timedelta(days=60))
    return "defaulted", closed


def _plan(rng: random.Random, batch: _Batch, cedula: str, since: date, today: date) -> None:
    status = rng.choices(
        ("completed", "active", "pending", "cancelled", "defaulted"), (30, 20, 8, 17, 25)
    )[0]
    span = max(1, (today - since).days)
    if status in ("active", "pending"):
        created = today - timedelta(days=rng.randint(0, min(span, 180)))
        ended = None
    else:
        created = since + timedelta(days=rng.randint(0, span))
        ended = min(today, created + timedelta(days=rng.randint(20, 270)))
    batch.plans.append(
        {
            "id": batch.next_plan,
            "cedula": cedula,
            "status": status,
            "amount": rng.randrange(300_000, 5_000_000, 10_000),
            "created_at": created,
            "ended_at": ended,
        }
    )
    batch.next_plan += 1
