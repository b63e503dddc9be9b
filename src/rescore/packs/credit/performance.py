"""Payment performance (0-600): how punctually and how steadily a client pays.

``timeliness`` (0-400) is a recency-weighted average of how well each instalment was paid,
shrunk towards a neutral prior so two good payments do not look like twenty. ``pattern``
(0-200) rewards a current streak of on-time payments (0-80) and keeps a clean record (0-120)
that defaulted loans and unpaid instalments eat into.

The formula is built so that paying an instalment on time can only raise the score and a
default can only lower it: every bad event adds a zero-quality observation or a deduction,
every on-time payment adds a full-quality one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from rescore.packs.credit.points import ratio, total
from rescore.packs.credit.records import (
    Loan,
    Outcome,
    Payment,
    as_of_of,
    days_late,
    loans_of,
    outcome,
    payments_of,
)
from rescore.scoring import Inputs, Scorer, ScoreResult

__all__ = ["PaymentPerformance", "quality"]

TIMELINESS_MAX = 400.0
STREAK_MAX = 80.0
STREAK_FULL = 12  # on-time instalments in a row that earn the whole streak bonus
RECORD_MAX = 120.0
DEFAULTED_LOAN_COST = 60.0
BAD_INSTALMENT_COST = 15.0  # per instalment overdue or defaulted
HALF_LIFE_DAYS = 180.0  # an instalment due 6 months ago weighs half as much as today's
PRIOR_QUALITY = 0.6  # the neutral quality of a client we know nothing about ...
PRIOR_WEIGHT = 1.0  # ... weighing as much as one instalment due today
RECENT_DAYS = 90

#: (most days late, quality) for instalments paid after their due date.
LATE_QUALITY: tuple[tuple[int, float], ...] = ((5, 0.85), (15, 0.7), (30, 0.5), (60, 0.3))
VERY_LATE_QUALITY = 0.15


@dataclass(frozen=True, slots=True)
class _Judged:
    payment: Payment
    outcome: Outcome


def quality(payment: Payment, judged: Outcome) -> float:
    """How well one instalment was paid, from 1 (early or on time) to 0 (unpaid or written off)."""
    if judged.good:
        return 1.0
    if judged is not Outcome.PAID_LATE:
        return 0.0
    late = days_late(payment)
    return next((q for most, q in LATE_QUALITY if late <= most), VERY_LATE_QUALITY)


def _weight(payment: Payment, as_of: date) -> float:
    age = max(0, (as_of - payment.due_date).days)
    return math.pow(0.5, age / HALF_LIFE_DAYS)


def _judge(payments: Sequence[Payment], as_of: date) -> list[_Judged]:
    judged = [_Judged(p, o) for p in payments if (o := outcome(p, as_of)) is not None]
    return sorted(judged, key=lambda j: (j.payment.due_date, j.payment.id))


def _timeliness_ratio(judged: list[_Judged], as_of: date) -> float:
    weights = [_weight(j.payment, as_of) for j in judged]
    earned = math.fsum(
        w * quality(j.payment, j.outcome) for w, j in zip(weights, judged, strict=True)
    )
    return (earned + PRIOR_WEIGHT * PRIOR_QUALITY) / (math.fsum(weights) + PRIOR_WEIGHT)


def _streak(judged: list[_Judged]) -> int:
    streak = 0
    for item in reversed(judged):
        if not item.outcome.good:
            break
        streak += 1
    return streak


def _record_points(defaulted_loans: int, bad_instalments: int) -> float:
    cost = DEFAULTED_LOAN_COST * defaulted_loans + BAD_INSTALMENT_COST * bad_instalments
    return max(0.0, RECORD_MAX - cost)


class PaymentPerformance(Scorer):
    """Timeliness and pattern of the instalments (PLATAM ``calculate_payment_performance``)."""

    name = "payment_performance"
    version = "1.0.0"
    inputs = frozenset({"payments", "loans", "as_of"})
    max_value = TIMELINESS_MAX + STREAK_MAX + RECORD_MAX
    description = "Timeliness (0-400) and pattern (0-200) of the client's instalments."

    def score(self, inputs: Inputs) -> ScoreResult:
        as_of = as_of_of(inputs)
        judged = _judge(payments_of(inputs), as_of)
        loans = loans_of(inputs)
        counts = _counts(judged, loans)
        streak = _streak(judged)
        ratio_ = _timeliness_ratio(judged, as_of)
        components = {
            "timeliness": round(TIMELINESS_MAX * ratio_, 2),
            "pattern": round(
                STREAK_MAX * min(streak, STREAK_FULL) / STREAK_FULL
                + _record_points(counts["defaulted_loans"], counts["bad_instalments"]),
                2,
            ),
        }
        features = _features(judged, counts, streak, ratio_, as_of)
        return ScoreResult(
            value=total(components),
            components=components,
            reasons=_reasons(judged, counts, streak, as_of),
            features=features,
        )


def _counts(judged: list[_Judged], loans: Sequence[Loan]) -> dict[str, int]:
    by = {o: sum(1 for j in judged if j.outcome is o) for o in Outcome}
    return {
        "payment_count": len(judged),
        "paid_count": by[Outcome.EARLY] + by[Outcome.ON_TIME] + by[Outcome.PAID_LATE],
        "early": by[Outcome.EARLY],
        "on_time": by[Outcome.ON_TIME],
        "paid_late": by[Outcome.PAID_LATE],
        "overdue": by[Outcome.OVERDUE],
        "defaulted_instalments": by[Outcome.DEFAULTED],
        "bad_instalments": by[Outcome.OVERDUE] + by[Outcome.DEFAULTED],
        "defaulted_loans": sum(1 for loan in loans if loan.status == "defaulted"),
        "active_loans": sum(1 for loan in loans if loan.status == "active"),
    }


def _features(
    judged: list[_Judged], counts: dict[str, int], streak: int, ratio_: float, as_of: date
) -> dict[str, float | int]:
    seen = counts["payment_count"]
    late_days = [days_late(j.payment) for j in judged if j.outcome is Outcome.PAID_LATE]
    return {
        **counts,
        "pct_early": round(ratio(counts["early"], seen), 4),
        "pct_on_time": round(ratio(counts["on_time"], seen), 4),
        "pct_late": round(ratio(seen - counts["early"] - counts["on_time"], seen), 4),
        "avg_days_late": round(ratio(sum(late_days), len(late_days)), 2),
        "max_days_late": max(late_days, default=0),
        "late_last_90d": len(_recent_bad(judged, as_of)),
        "on_time_streak": streak,
        "timeliness_ratio": round(ratio_, 4),
    }


def _recent(judged: list[_Judged], as_of: date) -> list[_Judged]:
    since = as_of - timedelta(days=RECENT_DAYS)
    return [j for j in judged if j.payment.due_date > since]


def _recent_bad(judged: list[_Judged], as_of: date) -> list[_Judged]:
    return [j for j in _recent(judged, as_of) if not j.outcome.good]


def _reasons(
    judged: list[_Judged], counts: dict[str, int], streak: int, as_of: date
) -> tuple[str, ...]:
    if not judged:
        neutral = round(TIMELINESS_MAX * PRIOR_QUALITY + RECORD_MAX)
        return (f"no payment history yet: neutral {neutral} of 600",)
    recent = _recent(judged, as_of)
    reasons = [
        f"{len(_recent_bad(judged, as_of))} of {len(recent)} payments late in the last 90 days",
        f"{counts['paid_count']} of {counts['payment_count']} due instalments paid, "
        f"{counts['early'] + counts['on_time']} on time",
    ]
    if streak:
        reasons.append(f"{streak} on-time payments in a row")
    if counts["overdue"]:
        reasons.append(f"{counts['overdue']} instalments overdue and unpaid")
    if counts["defaulted_loans"]:
        reasons.append(f"{counts['defaulted_loans']} defaulted loans")
    return tuple(reasons)
