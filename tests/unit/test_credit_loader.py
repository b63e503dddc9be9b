"""The credit loader: many cédulas at once, bound parameters, only the parts asked for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from rescore.exceptions import PluginError
from rescore.packs.credit import CreditPack, Loan, Payment, Plan
from rescore.packs.credit.schema import clients, loans, payment_plans, payments
from rescore.scoring import ScorerGraph, evaluate

AS_OF = date(2026, 1, 23)
ALL_PARTS = frozenset({"client", "loans", "payments", "plans"})


@pytest.fixture
def pack() -> CreditPack:
    return CreditPack(today=lambda: AS_OF)


@pytest.fixture
def engine(pack: CreditPack) -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    pack.source_metadata().create_all(engine)
    with engine.begin() as conn:
        _seed(conn)
    yield engine
    engine.dispose()


def _seed(conn: sa.Connection) -> None:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    conn.execute(
        clients.insert(),
        [
            {
                "cedula": "1006157869",
                "full_name": "Ana Gómez Rojas",
                "client_since": date(2024, 1, 23),
                "bureau_score": 720,
                "credit_limit": 5_000_000,
                "status": "active",
                "updated_at": stamp,
            },
            {
                "cedula": "52345678",
                "full_name": "Luis Pérez Díaz",
                "client_since": date(2025, 12, 24),
                "bureau_score": None,
                "credit_limit": 2_000_000,
                "status": "active",
                "updated_at": stamp,
            },
        ],
    )
    conn.execute(
        loans.insert(),
        [
            {"id": 1, "cedula": "1006157869", "amount": 1_200_000, "opened_at": date(2025, 6, 1),
             "term_months": 12, "status": "active", "closed_at": None},
            {"id": 2, "cedula": "1006157869", "amount": 600_000, "opened_at": date(2024, 2, 1),
             "term_months": 3, "status": "paid", "closed_at": date(2024, 5, 1)},
        ],
    )  # fmt: skip
    conn.execute(
        payments.insert(),
        [
            {"id": 11, "loan_id": 1, "cedula": "1006157869", "due_date": date(2025, 8, 1),
             "paid_date": date(2025, 8, 1), "amount": 100_000, "status": "paid"},
            {"id": 10, "loan_id": 1, "cedula": "1006157869", "due_date": date(2025, 7, 1),
             "paid_date": date(2025, 7, 9), "amount": 100_000, "status": "paid"},
            {"id": 12, "loan_id": 1, "cedula": "1006157869", "due_date": date(2026, 2, 1),
             "paid_date": None, "amount": 100_000, "status": "pending"},
        ],
    )  # fmt: skip
    conn.execute(
        payment_plans.insert(),
        [
            {"id": 1, "cedula": "52345678", "status": "active", "amount": 400_000,
             "created_at": date(2026, 1, 10), "ended_at": None},
        ],
    )  # fmt: skip


def test_loads_typed_rows_in_a_stable_order(pack: CreditPack, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        result = pack.load_inputs(conn, ["1006157869"], ALL_PARTS)
    ana = result["1006157869"]
    assert ana["as_of"] == AS_OF
    assert ana["client"]["months_as_client"] == 24
    assert ana["client"]["bureau_score"] == 720
    assert [p.id for p in ana["payments"]] == [10, 11, 12]  # by due date, then id
    assert all(isinstance(p, Payment) for p in ana["payments"])
    assert ana["payments"][0].paid_date == date(2025, 7, 9)
    assert [loan.id for loan in ana["loans"]] == [1, 2]
    assert isinstance(ana["loans"][0], Loan)
    assert ana["plans"] == ()


def test_many_entities_at_once_and_missing_ones_absent(pack: CreditPack, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        result = pack.load_inputs(
            conn, ["52345678", "999", "1006157869", "52345678"], frozenset({"plans"})
        )
    assert set(result) == {"52345678", "1006157869"}
    assert result["52345678"]["plans"] == (
        Plan(id=1, status="active", amount=400_000, created_at=date(2026, 1, 10), ended_at=None),
    )
    assert result["1006157869"]["plans"] == ()


@pytest.mark.parametrize(
    "parts",
    [frozenset(), frozenset({"client"}), frozenset({"payments", "as_of"}), ALL_PARTS],
)
def test_only_the_parts_asked_for_plus_as_of(
    pack: CreditPack, engine: sa.Engine, parts: frozenset[str]
) -> None:
    with engine.connect() as conn:
        result = pack.load_inputs(conn, ["1006157869"], parts)
    assert set(result["1006157869"]) == parts | {"as_of"}


def test_an_unknown_part_is_refused(pack: CreditPack, engine: sa.Engine) -> None:
    with engine.connect() as conn, pytest.raises(PluginError, match="bureau"):
        pack.load_inputs(conn, ["1006157869"], frozenset({"bureau"}))


def test_no_entities_no_queries(pack: CreditPack, engine: sa.Engine) -> None:
    seen = _record(engine)
    with engine.connect() as conn:
        assert pack.load_inputs(conn, [], ALL_PARTS) == {}
    assert seen == []


def _record(engine: sa.Engine) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _capture(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, params))

    return seen


def test_cedulas_travel_as_bound_parameters(pack: CreditPack, engine: sa.Engine) -> None:
    hostile = "1' OR '1'='1"
    seen = _record(engine)
    with engine.connect() as conn:
        result = pack.load_inputs(conn, ["1006157869", hostile], ALL_PARTS)
    assert set(result) == {"1006157869"}
    assert len(seen) == 4  # clients, loans, payments, plans
    for statement, params in seen:
        assert "1006157869" not in statement
        assert "'1'='1" not in statement
        assert "1006157869" in params
    assert hostile in seen[0][1]


def test_large_lists_are_chunked_by_500(pack: CreditPack) -> None:
    engine = sa.create_engine("sqlite://")
    pack.source_metadata().create_all(engine)
    with engine.begin() as conn:
        pack.generate_demo_data(conn, seed=3, size=1201)
    seen = _record(engine)
    with engine.connect() as conn:
        keys = list(pack.entity_keys(conn))
        seen.clear()
        result = pack.load_inputs(conn, keys, frozenset({"client", "payments"}))
    assert len(result) == 1201
    assert len(seen) == 3 * 2  # three chunks of at most 500, two tables each
    assert max(len(params) for _, params in seen) == 500


def test_entity_keys_are_every_cedula_in_order(pack: CreditPack, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert list(pack.entity_keys(conn)) == ["1006157869", "52345678"]


def test_as_of_comes_from_the_pack_clock(engine: sa.Engine) -> None:
    days = iter([date(2026, 1, 23), date(2026, 7, 23)])
    pack = CreditPack(today=lambda: next(days))
    with engine.connect() as conn:
        first = pack.load_inputs(conn, ["1006157869"], frozenset({"client"}))
        later = pack.load_inputs(conn, ["1006157869"], frozenset({"client"}))
    assert first["1006157869"]["as_of"] == date(2026, 1, 23)
    assert later["1006157869"]["client"]["months_as_client"] == 30


def test_the_default_clock_is_the_utc_date() -> None:
    before = datetime.now(UTC).date()
    today = CreditPack().today()
    assert before <= today <= datetime.now(UTC).date()


def test_loaded_inputs_score_end_to_end(pack: CreditPack, engine: sa.Engine) -> None:
    graph = ScorerGraph("credit", pack.register_scorers())
    with engine.connect() as conn:
        inputs = pack.load_inputs(conn, ["1006157869", "52345678"], graph.parts(graph.order))
    ana = evaluate(graph, inputs["1006157869"])
    luis = evaluate(graph, inputs["52345678"])
    assert ana["payment_performance"].features["paid_count"] == 2
    assert ana["hybrid"].features["bureau_score"] == 720
    assert luis["payment_plan"].value == 130.0  # one active plan
    assert luis["hybrid"].value == luis["platam"].value  # no bureau score
