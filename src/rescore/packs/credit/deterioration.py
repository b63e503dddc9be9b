"""Deterioration velocity (0-250): is the client's behaviour getting worse, and how fast?

Compares the last 90 days with the 180 days before them. Higher means stable or improving.

* ``lateness_trend`` (0-100): the share of instalments not paid on time, recent vs before.
  A rise costs up to 70 points, the recent level itself up to 30.
* ``days_late_trend`` (0-70): mean days late of the instalments paid in each window. A rise of
  30 days or more costs 45 points, the recent level (60 days or more) up to 25.
* ``new_defaults`` (0-80): each loan written off in the window costs 50, each payment plan
  defaulted in the window 30.

An instalment is dated by its due date, or by the as-of date when written off before falling
due, so a default always lands in the recent window. A window with nothing in it borrows the
other window's rate: no evidence is not a trend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from rescore.packs.credit.points import clamp, ratio, total
from rescore.packs.credit.records import (
    Outcome,
    Payment,
    Plan,
    as_of_of,
    days_late,
    outcome,
    payments_of,
    plans_of,
)
from rescore.scoring import Inputs, Scorer, ScoreResult

__all__ = ["DeteriorationVelocity", "Window"]

RECENT_DAYS = 90
PREVIOUS_DAYS = 180
LATENESS_MAX, LATENESS_RISE, LATENESS_LEVEL = 100.0, 70.0, 30.0
DAYS_MAX, DAYS_RISE, DAYS_LEVEL = 70.0, 45.0, 25.0
DAYS_RISE_FULL, DAYS_LEVEL_FULL = 30.0, 60.0
DEFAULTS_MAX, LOAN_DEFAULT_COST, PLAN_DEFAULT_COST = 80.0, 50.0, 30.0

_PAID = (Outcome.EARLY, Outcome.ON_TIME, Outcome.PAID_LATE)


@dataclass(frozen=True, kw_only=True, slots=True)
class Window:
    """What the instalments of one window say."""

    due: int  # instalments judged in the window
    late: int  # of which not paid on time (paid late, overdue or defaulted)
    paid: int  # of which paid
    days_late: float  # total days late of the paid ones

    @property
    def late_rate(self) -> float:
        return ratio(self.late, self.due)

    @property
    def mean_days_late(self) -> float:
        return ratio(self.days_late, self.paid)


def _window(payments: Sequence[Payment], as_of: date, newest: int, oldest: int) -> Window:
    """Instalments dated in ``(as_of - oldest days, as_of - newest days]``."""
    start, end = as_of - timedelta(days=oldest), as_of - timedelta(days=newest)
    judged = [
        (p, o)
        for p in payments
        if (o := outcome(p, as_of)) is not None and start < min(p.due_date, as_of) <= end
    ]
    paid = [p for p, o in judged if o in _PAID]
    return Window(
        due=len(judged),
        late=sum(1 for _, o in judged if not o.good),
        paid=len(paid),
        days_late=float(sum(days_late(p) for p in paid)),
    )


def _compare(recent: float | None, previous: float | None) -> tuple[float, float]:
    """``(recent, previous)``, an empty window taking the other one's value."""
    if recent is None and previous is None:
        return 0.0, 0.0
    if recent is None:
        return previous or 0.0, previous or 0.0
    return recent, recent if previous is None else previous


def _lateness_points(recent: Window, previous: Window) -> float:
    now, before = _compare(
        recent.late_rate if recent.due else None, previous.late_rate if previous.due else None
    )
    return LATENESS_MAX - LATENESS_RISE * max(0.0, now - before) - LATENESS_LEVEL * now


def _days_points(recent: Window, previous: Window) -> float:
    now, before = _compare(
        recent.mean_days_late if recent.paid else None,
        previous.mean_days_late if previous.paid else None,
    )
    rise = clamp((now - before) / DAYS_RISE_FULL, 0.0, 1.0)
    return DAYS_MAX - DAYS_RISE * rise - DAYS_LEVEL * clamp(now / DAYS_LEVEL_FULL, 0.0, 1.0)


def _new_default_loans(payments: Sequence[Payment], as_of: date) -> int:
    since = as_of - timedelta(days=RECENT_DAYS)
    return len({p.loan_id for p in payments if p.status == "defaulted" and p.due_date > since})


def _new_plan_defaults(plans: Sequence[Plan], as_of: date) -> int:
    since = as_of - timedelta(days=RECENT_DAYS)
    return sum(1 for p in plans if p.status == "defaulted" and p.closed_on() > since)


class DeteriorationVelocity(Scorer):
    """Recent vs older behaviour (PLATAM ``calculate_deterioration_velocity``)."""

    name = "deterioration"
    version = "1.0.0"
    inputs = frozenset({"payments", "plans", "as_of"})
    max_value = LATENESS_MAX + DAYS_MAX + DEFAULTS_MAX
    description = "Last 90 days vs the 180 before: lateness, days late, new defaults (0-250)."

    def score(self, inputs: Inputs) -> ScoreResult:
        as_of = as_of_of(inputs)
        payments = payments_of(inputs)
        recent = _window(payments, as_of, 0, RECENT_DAYS)
        previous = _window(payments, as_of, RECENT_DAYS, RECENT_DAYS + PREVIOUS_DAYS)
        loans = _new_default_loans(payments, as_of)
        plans = _new_plan_defaults(plans_of(inputs), as_of)
        defaults = max(0.0, DEFAULTS_MAX - LOAN_DEFAULT_COST * loans - PLAN_DEFAULT_COST * plans)
        components = {
            "lateness_trend": round(_lateness_points(recent, previous), 2),
            "days_late_trend": round(_days_points(recent, previous), 2),
            "new_defaults": round(defaults, 2),
        }
        return ScoreResult(
            value=total(components),
            components=components,
            reasons=_reasons(recent, previous, loans, plans),
            features=_features(recent, previous, loans, plans),
        )


def _features(recent: Window, previous: Window, loans: int, plans: int) -> dict[str, float | int]:
    return {
        "due_last_90d": recent.due,
        "late_last_90d": recent.late,
        "due_prev_180d": previous.due,
        "late_prev_180d": previous.late,
        "late_rate_recent": round(recent.late_rate, 4),
        "late_rate_previous": round(previous.late_rate, 4),
        "days_late_recent": round(recent.mean_days_late, 2),
        "days_late_previous": round(previous.mean_days_late, 2),
        "new_default_loans": loans,
        "new_plan_defaults": plans,
    }


def _reasons(recent: Window, previous: Window, loans: int, plans: int) -> tuple[str, ...]:
    if not recent.due and not previous.due:
        reasons = ["no instalments due in the last 270 days: no trend to measure"]
    else:
        reasons = [
            f"{recent.late} of {recent.due} payments late in the last 90 days, "
            f"{previous.late} of {previous.due} in the 180 days before"
        ]
    if recent.paid and previous.paid:
        reasons.append(
            f"mean days late {recent.mean_days_late:.1f} now vs "
            f"{previous.mean_days_late:.1f} before"
        )
    if loans:
        reasons.append(f"{loans} loan(s) written off in the last 90 days")
    if plans:
        reasons.append(f"{plans} payment plan(s) defaulted in the last 90 days")
    return tuple(reasons)
