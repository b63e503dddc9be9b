"""The typed rows the credit loader hands to the scorers, and how one instalment is judged.

The loader turns source rows into these frozen values so scorers read attributes that mypy
checks instead of untyped dicts. ``client`` stays a (typed) dict because analysts and tests
build it by hand most often.

Every scorer judges an instalment the same way, through :func:`outcome`, so "late" means the
same thing in payment performance and in deterioration velocity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypedDict

__all__ = [
    "Client",
    "Loan",
    "Outcome",
    "Payment",
    "Plan",
    "as_of_of",
    "days_late",
    "loans_of",
    "months_between",
    "outcome",
    "payments_of",
    "plans_of",
]


class Client(TypedDict):
    """One ``clients`` row plus ``months_as_client``, derived from ``client_since`` and as-of."""

    cedula: str
    full_name: str
    client_since: date
    months_as_client: int
    bureau_score: int | None
    credit_limit: int
    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Loan:
    """One loan (amounts in whole Colombian pesos)."""

    id: int
    amount: int
    opened_at: date
    term_months: int
    status: str  # active | paid | defaulted


@dataclass(frozen=True, kw_only=True, slots=True)
class Payment:
    """One monthly instalment of a loan, paid or not."""

    id: int
    loan_id: int
    due_date: date
    paid_date: date | None
    amount: int
    status: str  # pending | paid | late | defaulted


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    """One payment plan (a restructuring agreed with the client)."""

    id: int
    status: str  # active | pending | defaulted | cancelled | completed
    amount: int
    created_at: date
    ended_at: date | None

    def closed_on(self) -> date:
        """When the plan last changed state: its end, or its creation while still open."""
        return self.ended_at or self.created_at


class Outcome(StrEnum):
    """What an instalment says about the client, as of a date."""

    EARLY = "early"  # paid before the due date
    ON_TIME = "on_time"  # paid on the due date
    PAID_LATE = "paid_late"  # paid after the due date
    OVERDUE = "overdue"  # due date passed, still unpaid
    DEFAULTED = "defaulted"  # written off

    @property
    def good(self) -> bool:
        return self in (Outcome.EARLY, Outcome.ON_TIME)


def outcome(payment: Payment, as_of: date) -> Outcome | None:
    """Judge one instalment; ``None`` means not due yet, so it says nothing.

    The dates decide, not only the status flag: an unpaid instalment past its due date is
    overdue even if the nightly job has not flagged it ``late`` yet.
    """
    if payment.status == "defaulted":
        return Outcome.DEFAULTED
    if payment.paid_date is not None:
        days = (payment.paid_date - payment.due_date).days
        if days < 0:
            return Outcome.EARLY
        return Outcome.ON_TIME if days == 0 else Outcome.PAID_LATE
    if payment.due_date < as_of or payment.status == "late":
        return Outcome.OVERDUE
    return None


def days_late(payment: Payment) -> int:
    """Days between due date and payment (0 when paid on time or not paid)."""
    if payment.paid_date is None:
        return 0
    return max(0, (payment.paid_date - payment.due_date).days)


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (0 if ``end`` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(0, months)


def payments_of(inputs: Mapping[str, Any]) -> Sequence[Payment]:
    """The ``payments`` part of a scorer's inputs (empty when the client has none)."""
    value: Sequence[Payment] = inputs.get("payments", ())
    return value


def plans_of(inputs: Mapping[str, Any]) -> Sequence[Plan]:
    """The ``plans`` part of a scorer's inputs."""
    value: Sequence[Plan] = inputs.get("plans", ())
    return value


def loans_of(inputs: Mapping[str, Any]) -> Sequence[Loan]:
    """The ``loans`` part of a scorer's inputs."""
    value: Sequence[Loan] = inputs.get("loans", ())
    return value


def as_of_of(inputs: Mapping[str, Any]) -> date:
    """The reference date every credit scorer measures ages against (never the wall clock)."""
    value = inputs["as_of"]
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise TypeError(f"as_of must be a date, not {type(value).__name__}")
    return value
