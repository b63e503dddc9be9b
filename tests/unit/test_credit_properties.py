"""Properties every rule-based credit score keeps, over random client histories (Hypothesis).

The learned default_probability has its own in test_credit_probability.py: a model's
coefficients promise no monotonicity, so "a default never raises it" is not a law there."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rescore.packs.credit import CreditPack, Loan, Payment, Plan, default_client
from rescore.packs.credit.blend import all_scorers
from rescore.packs.credit.schema import PLAN_STATUSES
from rescore.scoring import ScoreResult, ScorerGraph, evaluate

AS_OF = date(2026, 1, 23)
PACK = CreditPack(today=lambda: AS_OF)
GRAPH = ScorerGraph("credit", all_scorers())
PROPERTY = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Each component's range: (low, high).
COMPONENT_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "payment_performance": {"timeliness": (0, 400), "pattern": (0, 200)},
    "payment_plan": {
        "base": (150, 150),
        # deductions: together at most 150 + recovery (checked below)
        "defaulted": (-math.inf, 0),
        "cancelled": (-math.inf, 0),
        "completed": (-math.inf, 0),
        "active": (-math.inf, 0),
        "pending": (-math.inf, 0),
        "recovery": (0, math.inf),
    },
    "deterioration": {
        "lateness_trend": (0, 100),
        "days_late_trend": (0, 70),
        "new_defaults": (0, 80),
    },
    "platam": {
        "payment_performance": (0, 600),
        "payment_plan": (0, 150),
        "deterioration": (0, 250),
    },
    "hybrid": {"internal": (0, 1000), "bureau": (0, 800)},
}


@st.composite
def payments_for(draw: st.DrawFn, loan_ids: list[int]) -> tuple[Payment, ...]:
    if not loan_ids:
        return ()
    rows = []
    for id_ in range(1, draw(st.integers(0, 30)) + 1):
        due = AS_OF + timedelta(days=draw(st.integers(-800, 120)))
        status = draw(st.sampled_from(("pending", "paid", "paid", "late", "defaulted")))
        paid = None
        if status == "paid":
            paid = min(AS_OF, due + timedelta(days=draw(st.integers(-10, 90))))
        rows.append(
            Payment(
                id=id_,
                loan_id=draw(st.sampled_from(loan_ids)),
                due_date=due,
                paid_date=paid,
                amount=100_000,
                status=status,
            )
        )
    return tuple(sorted(rows, key=lambda p: (p.due_date, p.id)))


@st.composite
def plans(draw: st.DrawFn) -> tuple[Plan, ...]:
    rows = []
    for id_ in range(1, draw(st.integers(0, 5)) + 1):
        status = draw(st.sampled_from(PLAN_STATUSES))
        created = AS_OF - timedelta(days=draw(st.integers(0, 1500)))
        ended = None
        if status not in ("active", "pending"):
            ended = min(AS_OF, created + timedelta(days=draw(st.integers(0, 400))))
        rows.append(Plan(id=id_, status=status, amount=500_000, created_at=created, ended_at=ended))
    return tuple(rows)


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    """A whole client's inputs, as the loader would hand them over."""
    loan_statuses = draw(st.lists(st.sampled_from(("active", "paid", "defaulted")), max_size=4))
    loans = tuple(
        Loan(id=i, amount=1_000_000, opened_at=date(2023, 1, 1), term_months=12, status=s)
        for i, s in enumerate(loan_statuses, start=1)
    )
    client = {
        "cedula": "1006157869",
        "full_name": "Ana Gómez Rojas",
        "client_since": AS_OF - timedelta(days=draw(st.integers(0, 3000))),
        "months_as_client": 0,
        "bureau_score": draw(st.none() | st.integers(150, 950)),
        "credit_limit": draw(st.integers(1, 50)) * 1_000_000,
        "status": "active",
    }
    return {
        "as_of": AS_OF,
        "client": client,
        "loans": loans,
        "payments": draw(payments_for([loan.id for loan in loans])),
        "plans": draw(plans()),
    }


def apply_default(data: dict[str, Any]) -> dict[str, Any]:
    """The simulator's client default, on in-memory inputs (``default_client`` on a DB)."""
    loans = tuple(
        dataclasses.replace(loan, status="defaulted") if loan.status == "active" else loan
        for loan in data["loans"]
    )
    payments = tuple(
        dataclasses.replace(p, status="defaulted") if p.status in ("pending", "late") else p
        for p in data["payments"]
    )
    return {**data, "loans": loans, "payments": payments}


def scores(data: dict[str, Any]) -> dict[str, ScoreResult]:
    return evaluate(GRAPH, data)


@PROPERTY
@given(histories())
def test_a_client_default_never_raises_any_score(data: dict[str, Any]) -> None:
    before, after = scores(data), scores(apply_default(data))
    for name in GRAPH.order:
        assert after[name].value <= before[name].value + 1e-9, name


@PROPERTY
@given(histories(), st.data())
def test_an_on_time_payment_never_lowers_payment_performance(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    unpaid = [i for i, p in enumerate(data["payments"]) if p.status in ("pending", "late")]
    if not unpaid:
        return
    index = draw.draw(st.sampled_from(unpaid))
    target = data["payments"][index]
    latest = min(target.due_date, AS_OF)
    paid_on = latest - timedelta(days=draw.draw(st.integers(0, 10)))
    paid = dataclasses.replace(target, status="paid", paid_date=paid_on)
    payments = (*data["payments"][:index], paid, *data["payments"][index + 1 :])
    before = scores(data)["payment_performance"]
    after = scores({**data, "payments": payments})["payment_performance"]
    assert after.value >= before.value - 1e-9
    paid_before = before.features["paid_count"]
    assert isinstance(paid_before, int)
    assert after.features["paid_count"] == paid_before + 1


@PROPERTY
@given(histories(), st.integers(1, 20))
def test_a_limit_increase_changes_no_score(data: dict[str, Any], millions: int) -> None:
    client = {**data["client"], "credit_limit": data["client"]["credit_limit"] + millions * 10**6}
    assert scores({**data, "client": client}) == scores(data)


@PROPERTY
@given(histories())
def test_components_stay_in_range_and_add_up(data: dict[str, Any]) -> None:
    results = scores(data)
    assert set(results) == set(COMPONENT_RANGES)
    for name, result in results.items():
        ranges = COMPONENT_RANGES[name]
        assert set(result.components) == set(ranges), name
        for component, value in result.components.items():
            low, high = ranges[component]
            assert low - 1e-9 <= value <= high + 1e-9, (name, component, value)
            assert round(value, 2) == value
        assert abs(sum(result.components.values()) - result.value) < 1e-3
        assert GRAPH[name].min_value <= result.value <= GRAPH[name].max_value
    plan = results["payment_plan"].components
    deducted = sum(v for k, v in plan.items() if k not in ("base", "recovery"))
    assert deducted >= -150 - plan["recovery"] - 0.01


@PROPERTY
@given(histories())
def test_hybrid_without_bureau_equals_platam(data: dict[str, Any]) -> None:
    client = {**data["client"], "bureau_score": None}
    results = scores({**data, "client": client})
    assert results["hybrid"].value == results["platam"].value
    assert results["hybrid"].features["z"] == 1.0


@PROPERTY
@given(histories())
def test_scores_are_deterministic(data: dict[str, Any]) -> None:
    assert scores(data) == scores(dict(data))


def test_the_in_memory_default_matches_the_simulators() -> None:
    engine = sa.create_engine("sqlite://")
    PACK.source_metadata().create_all(engine)
    parts = frozenset({"client", "loans", "payments", "plans"})
    with engine.begin() as conn:
        PACK.generate_demo_data(conn, seed=11, size=60)
        keys = list(PACK.entity_keys(conn))
        before = PACK.load_inputs(conn, keys, parts)
        for cedula in keys:
            default_client(conn, cedula, AS_OF)
        after = PACK.load_inputs(conn, keys, parts)
    for cedula in keys:
        expected = apply_default(before[cedula])
        assert [p.status for p in after[cedula]["payments"]] == [
            p.status for p in expected["payments"]
        ]
        assert [loan.status for loan in after[cedula]["loans"]] == [
            loan.status for loan in expected["loans"]
        ]
        old, new = scores(before[cedula]), scores(after[cedula])
        assert all(new[name].value <= old[name].value for name in GRAPH.order)
