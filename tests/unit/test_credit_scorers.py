"""The credit formulas at their edges: what earns and what costs how many points."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from rescore.packs.credit import (
    CreditPack,
    Loan,
    Outcome,
    Payment,
    Plan,
    bureau_normalized,
    credibility,
    outcome,
)
from rescore.packs.credit.demo import add_months
from rescore.packs.credit.performance import quality
from rescore.scoring import ScoreResult, ScorerGraph, evaluate

AS_OF = date(2026, 1, 23)
GRAPH = ScorerGraph("credit", CreditPack().register_scorers())


def pay(
    id_: int,
    due_in: int,
    *,
    paid_in: int | None = None,
    status: str | None = None,
    loan_id: int = 1,
) -> Payment:
    """An instalment due ``due_in`` days from AS_OF, paid ``paid_in`` days from AS_OF."""
    paid = None if paid_in is None else AS_OF + timedelta(days=paid_in)
    return Payment(
        id=id_,
        loan_id=loan_id,
        due_date=AS_OF + timedelta(days=due_in),
        paid_date=paid,
        amount=100_000,
        status=status or ("paid" if paid else "pending"),
    )


def plan(id_: int, status: str, *, days_ago: int = 10) -> Plan:
    closed = status not in ("active", "pending")
    day = AS_OF - timedelta(days=days_ago)
    return Plan(
        id=id_,
        status=status,
        amount=1_000_000,
        created_at=day - timedelta(days=30) if closed else day,
        ended_at=day if closed else None,
    )


def loan(id_: int, status: str = "active") -> Loan:
    return Loan(id=id_, amount=1_200_000, opened_at=date(2024, 1, 1), term_months=12, status=status)


def inputs(
    payments: tuple[Payment, ...] = (),
    plans: tuple[Plan, ...] = (),
    loans: tuple[Loan, ...] = (),
    *,
    bureau: int | None = 700,
    months: int = 12,
) -> dict[str, Any]:
    client = {
        "cedula": "1006157869",
        "full_name": "Ana Gómez Rojas",
        "client_since": add_months(AS_OF, -months),
        "months_as_client": months,
        "bureau_score": bureau,
        "credit_limit": 5_000_000,
        "status": "active",
    }
    return {
        "as_of": AS_OF,
        "client": client,
        "payments": payments,
        "plans": plans,
        "loans": loans,
    }


def run(data: dict[str, Any], name: str) -> ScoreResult:
    return evaluate(GRAPH, data)[name]


# -- instalment outcomes -----------------------------------------------------------------


def test_outcome_is_decided_by_dates_not_only_by_the_flag() -> None:
    assert outcome(pay(1, 5), AS_OF) is None  # not due yet says nothing
    assert outcome(pay(1, 0), AS_OF) is None  # due today is not overdue yet
    assert outcome(pay(1, -3), AS_OF) is Outcome.OVERDUE  # unflagged but past due
    assert outcome(pay(1, 5, status="late"), AS_OF) is Outcome.OVERDUE
    assert outcome(pay(1, -3, paid_in=-5), AS_OF) is Outcome.EARLY
    assert outcome(pay(1, -3, paid_in=-3), AS_OF) is Outcome.ON_TIME
    assert outcome(pay(1, -9, paid_in=-3), AS_OF) is Outcome.PAID_LATE
    assert outcome(pay(1, 30, status="defaulted"), AS_OF) is Outcome.DEFAULTED


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, 1.0), (1, 0.85), (5, 0.85), (6, 0.7), (15, 0.7), (30, 0.5), (60, 0.3), (61, 0.15)],
)
def test_quality_of_a_late_payment_falls_with_days_late(days: int, expected: float) -> None:
    p = pay(1, -100, paid_in=-100 + days)
    judged = outcome(p, AS_OF)
    assert judged is not None
    assert quality(p, judged) == expected


# -- payment performance -----------------------------------------------------------------


def test_no_payment_history_gets_the_documented_neutral_value() -> None:
    result = run(inputs(payments=(pay(1, 20),)), "payment_performance")  # not due yet
    assert result.value == 360.0
    assert result.components == {"timeliness": 240.0, "pattern": 120.0}
    assert result.reasons == ("no payment history yet: neutral 360 of 600",)


def test_one_on_time_payment_beats_no_history() -> None:
    result = run(inputs(payments=(pay(1, 0, paid_in=0),)), "payment_performance")
    # timeliness (1 + 0.6) / (1 + 1) * 400 = 320; pattern 80 / 12 streak + 120 record
    assert result.components == {"timeliness": 320.0, "pattern": 126.67}
    assert result.value == 446.67
    assert result.features["on_time_streak"] == 1


def test_older_instalments_weigh_less() -> None:
    old_bad = pay(1, -180, paid_in=-80)  # 100 days late, quality 0.15, weight 0.5
    fresh_good = pay(2, 0, paid_in=0)  # quality 1, weight 1
    result = run(inputs(payments=(old_bad, fresh_good)), "payment_performance")
    ratio = (0.5 * 0.15 + 1.0 + 0.6) / (0.5 + 1.0 + 1.0)
    assert result.components["timeliness"] == round(400 * ratio, 2)


def test_a_long_on_time_streak_earns_the_whole_pattern() -> None:
    history = tuple(pay(i, -30 * i, paid_in=-30 * i) for i in range(1, 15))
    result = run(inputs(payments=history), "payment_performance")
    assert result.components["pattern"] == 200.0
    assert result.features["on_time_streak"] == 14
    assert result.features["pct_late"] == 0.0


def test_defaulted_loans_and_unpaid_instalments_eat_the_record() -> None:
    history = (pay(1, -60, paid_in=-60), pay(2, -30), pay(3, -5))  # two overdue
    result = run(inputs(payments=history, loans=(loan(1),)), "payment_performance")
    assert result.components["pattern"] == 120.0 - 2 * 15
    written_off = run(
        inputs(payments=history, loans=(loan(1, "defaulted"), loan(2, "defaulted"))),
        "payment_performance",
    )
    assert written_off.components["pattern"] == 0.0
    assert "2 defaulted loans" in written_off.reasons
    assert "2 instalments overdue and unpaid" in written_off.reasons


def test_reasons_count_late_payments_in_the_last_90_days() -> None:
    history = (
        pay(1, -80, paid_in=-70),
        pay(2, -50, paid_in=-50),
        pay(3, -20),
        pay(4, -200, paid_in=-150),  # late, but outside the 90 days
    )
    result = run(inputs(payments=history), "payment_performance")
    assert result.reasons[0] == "2 of 3 payments late in the last 90 days"
    assert result.features["payment_count"] == 4
    assert result.features["paid_count"] == 3
    assert result.features["pct_late"] == 0.75
    assert result.features["max_days_late"] == 50


# -- payment plans -----------------------------------------------------------------------


def test_no_plans_keep_all_150_points() -> None:
    result = run(inputs(), "payment_plan")
    assert result.value == 150.0
    assert result.features["num_planes"] == 0
    assert result.features["tiene_plan_activo"] is False


@pytest.mark.parametrize(
    ("status", "days_ago", "cost"),
    [
        ("defaulted", 10, 90.0),
        ("defaulted", 200, 63.0),
        ("defaulted", 500, 36.0),
        ("defaulted", 1000, 18.0),
        ("cancelled", 10, 45.0),
        ("cancelled", 400, 18.0),
        ("completed", 10, 10.0),
        ("active", 900, 20.0),  # open plans cost the same whenever they started
        ("pending", 10, 10.0),
    ],
)
def test_each_plan_costs_by_cause_and_recency(status: str, days_ago: int, cost: float) -> None:
    result = run(inputs(plans=(plan(1, status, days_ago=days_ago),)), "payment_plan")
    assert result.value == 150.0 - cost
    assert result.components[status] == -cost
    assert result.components["base"] == 150.0


def test_completed_plans_win_back_part_of_what_bad_plans_cost() -> None:
    plans = (plan(1, "defaulted"), plan(2, "completed"))
    result = run(inputs(plans=plans), "payment_plan")
    # -90 defaulted, -10 completed, +25 recovery (at most half of 90)
    assert result.components["recovery"] == 25.0
    assert result.value == 75.0
    assert result.features["tiene_plan_default"] is True
    assert result.features["planes_completados"] == 1


def test_recovery_never_exceeds_half_the_bad_plans_cost() -> None:
    plans = (plan(1, "cancelled", days_ago=1000), *(plan(i, "completed") for i in range(2, 6)))
    result = run(inputs(plans=plans), "payment_plan")
    assert result.components["recovery"] == 0.5 * 45 * 0.2


def test_many_defaulted_plans_floor_at_zero_and_still_add_up() -> None:
    plans = (*(plan(i, "defaulted") for i in range(5)), plan(9, "active"))
    result = run(inputs(plans=plans), "payment_plan")
    assert result.value == 0.0
    assert sum(result.components.values()) == pytest.approx(0.0, abs=1e-9)
    assert result.components["defaulted"] < result.components["active"] < 0


# -- deterioration -----------------------------------------------------------------------


def test_no_recent_history_is_stable() -> None:
    result = run(inputs(), "deterioration")
    assert result.value == 250.0
    assert "no trend to measure" in result.reasons[0]


def test_steady_punctual_client_keeps_full_points() -> None:
    history = tuple(pay(i, -30 * i, paid_in=-30 * i) for i in range(1, 9))
    result = run(inputs(payments=history), "deterioration")
    assert result.value == 250.0


def test_lateness_rising_from_none_to_all_costs_everything() -> None:
    before = tuple(pay(i, -100 - 30 * i, paid_in=-100 - 30 * i) for i in range(5))
    recent = (pay(10, -60), pay(11, -30), pay(12, -5))
    result = run(inputs(payments=before + recent), "deterioration")
    assert result.components["lateness_trend"] == 0.0
    assert result.features["late_rate_recent"] == 1.0
    assert result.features["late_rate_previous"] == 0.0
    assert result.reasons[0] == (
        "3 of 3 payments late in the last 90 days, 0 of 5 in the 180 days before"
    )


def test_days_late_rising_by_30_costs_45_plus_the_level() -> None:
    before = (pay(1, -150, paid_in=-150), pay(2, -120, paid_in=-120))
    recent = (pay(3, -60, paid_in=-30),)  # 30 days late
    result = run(inputs(payments=before + recent), "deterioration")
    assert result.components["days_late_trend"] == 70.0 - 45.0 - 25.0 * 30 / 60


def test_new_defaults_cost_50_per_loan_and_30_per_plan() -> None:
    history = (pay(1, 10, status="defaulted", loan_id=1), pay(2, 40, status="defaulted"))
    result = run(inputs(payments=history, plans=(plan(1, "defaulted"),)), "deterioration")
    assert result.components["new_defaults"] == 0.0  # 80 - 50 - 30
    assert result.features["new_default_loans"] == 1
    assert result.features["new_plan_defaults"] == 1


def test_improving_client_is_not_penalised_for_the_past() -> None:
    before = tuple(pay(i, -100 - 30 * i, paid_in=-80 - 30 * i) for i in range(5))
    recent = (pay(10, -60, paid_in=-60), pay(11, -30, paid_in=-31))
    result = run(inputs(payments=before + recent), "deterioration")
    assert result.components["lateness_trend"] == 100.0
    assert result.components["days_late_trend"] == 70.0


# -- platam and hybrid -------------------------------------------------------------------


def test_platam_is_the_sum_of_the_three_sub_scores() -> None:
    results = evaluate(GRAPH, inputs(payments=(pay(1, -10, paid_in=-12),)))
    platam = results["platam"]
    parts = ("payment_performance", "payment_plan", "deterioration")
    assert platam.components == {name: results[name].value for name in parts}
    assert platam.value == pytest.approx(sum(results[name].value for name in parts), abs=1e-9)


@pytest.mark.parametrize(
    ("months", "paid", "z"),
    [(0, 0, 0.2), (3, 0, 0.2), (12, 12, 0.5), (24, 24, 2 / 3), (72, 72, 36 / 42), (120, 120, 0.9)],
)
def test_credibility_grows_with_tenure_and_paid_instalments(
    months: int, paid: int, z: float
) -> None:
    assert credibility(months, paid).z == pytest.approx(z)


@pytest.mark.parametrize(
    ("score", "norm"), [(150, 0.0), (550, 500.0), (950, 1000.0), (990, 1000.0)]
)
def test_bureau_score_is_rescaled_to_0_1000(score: int, norm: float) -> None:
    assert bureau_normalized(score) == norm


def test_hybrid_blends_with_the_credibility_weight() -> None:
    history = tuple(pay(i, -30 * i, paid_in=-30 * i) for i in range(1, 13))  # 12 paid
    results = evaluate(GRAPH, inputs(payments=history, bureau=550, months=12))
    hybrid, platam = results["hybrid"], results["platam"]
    assert hybrid.features["z"] == 0.5
    assert hybrid.features["n"] == 6.0
    assert hybrid.features["bureau_norm"] == 500.0
    assert hybrid.components == {"internal": round(0.5 * platam.value, 2), "bureau": 250.0}
    assert hybrid.value == round(hybrid.components["internal"] + 250.0, 2)


def test_a_new_client_leans_on_the_bureau() -> None:
    results = evaluate(GRAPH, inputs(bureau=950, months=0))
    hybrid = results["hybrid"]
    assert hybrid.features["z"] == 0.2
    assert hybrid.components["bureau"] == 800.0


def test_without_bureau_the_hybrid_falls_back_to_platam() -> None:
    results = evaluate(GRAPH, inputs(bureau=None))
    hybrid = results["hybrid"]
    assert hybrid.value == results["platam"].value
    assert hybrid.features["z"] == 1.0
    assert hybrid.features["bureau_norm"] is None
    assert hybrid.reasons == ("no bureau score: hybrid falls back to the internal score",)


def test_scorers_never_read_the_wall_clock() -> None:
    data = inputs(payments=(pay(1, -10, paid_in=-10), pay(2, -40)), plans=(plan(1, "active"),))
    shifted = dict(data, as_of=AS_OF + timedelta(days=400))
    assert evaluate(GRAPH, data) == evaluate(GRAPH, data)
    assert evaluate(GRAPH, shifted)["payment_plan"] == evaluate(GRAPH, shifted)["payment_plan"]
    assert evaluate(GRAPH, shifted)["deterioration"] != evaluate(GRAPH, data)["deterioration"]
