"""Demo data and the business-day simulator: realistic, reproducible, consistent."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from rescore.exceptions import PluginError
from rescore.packs.credit import EVENT_ROUTES, CreditPack
from rescore.packs.credit.demo import add_months
from rescore.packs.credit.schema import clients, loans, payment_plans, payments
from rescore.packs.credit.simulator import MIX, CreditSimulator

TODAY = date(2026, 1, 23)
PACK = CreditPack(today=lambda: TODAY)
TABLES = (clients, loans, payments, payment_plans)


def fresh(seed: int, size: int | None) -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    PACK.source_metadata().create_all(engine)
    with engine.begin() as conn:
        PACK.generate_demo_data(conn, seed=seed, size=size)
    return engine


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
            for t in TABLES
        }


@pytest.fixture(scope="module")
def default_data() -> dict[str, list[tuple[Any, ...]]]:
    engine = fresh(seed=42, size=None)  # its speed is measured by `rescore bench`, not here
    return dump(engine)


def test_default_size_is_the_seeds_1870_clients(default_data: dict[str, Any]) -> None:
    assert len(default_data["clients"]) == 1870
    assert len(default_data["loans"]) >= 1870
    assert len(default_data["payments"]) > 10 * 1870


def test_cedulas_are_unique_colombian_ids(default_data: dict[str, Any]) -> None:
    cedulas = [row[0] for row in default_data["clients"]]
    assert len(set(cedulas)) == len(cedulas)
    assert all(c.isdigit() and 8 <= len(c) <= 10 and c[0] != "0" for c in cedulas)
    assert {len(c) for c in cedulas} == {8, 10}


def test_the_data_is_a_realistic_mix(default_data: dict[str, Any]) -> None:
    bureau = [row[3] for row in default_data["clients"]]
    missing = sum(1 for b in bureau if b is None)
    assert 0.05 < missing / len(bureau) < 0.2
    assert all(150 <= b <= 950 for b in bureau if b is not None)
    since = [row[2] for row in default_data["clients"]]
    assert any((TODAY - s).days < 90 for s in since)  # new clients
    assert any((TODAY - s).days > 3 * 365 for s in since)  # seasoned ones
    pay_status = Counter(row[6] for row in default_data["payments"])
    assert set(pay_status) == {"pending", "paid", "late", "defaulted"}
    due = [row for row in default_data["payments"] if row[3] < TODAY]
    on_time = sum(1 for row in due if row[4] is not None and row[4] <= row[3])
    assert on_time / len(due) > 0.7  # mostly on time
    assert {row[5] for row in default_data["loans"]} == {"active", "paid", "defaulted"}
    assert {row[2] for row in default_data["payment_plans"]} == {
        "active", "pending", "defaulted", "cancelled", "completed"
    }  # fmt: skip


def test_the_data_is_relative_to_the_pack_clock(default_data: dict[str, Any]) -> None:
    assert max(row[2] for row in default_data["clients"]) <= TODAY
    assert all(row[4] is None or row[4] <= TODAY for row in default_data["payments"])
    assert any(row[3] > TODAY for row in default_data["payments"])  # instalments to come
    assert all(row[5] is None or row[5] <= TODAY for row in default_data["payment_plans"])
    unpaid_past = [r for r in default_data["payments"] if r[6] == "pending" and r[3] < TODAY]
    assert unpaid_past, "some instalments are overdue but not flagged late yet"


def test_instalments_are_monthly_and_match_their_loan(default_data: dict[str, Any]) -> None:
    by_loan: dict[int, list[tuple[Any, ...]]] = {}
    for row in default_data["payments"]:
        by_loan.setdefault(row[1], []).append(row)
    for loan in default_data["loans"][:200]:
        rows = sorted(by_loan[loan[0]], key=lambda r: r[3])
        assert len(rows) == loan[4]  # term_months
        assert [r[3] for r in rows] == [add_months(loan[3], k) for k in range(1, loan[4] + 1)]
        assert {r[2] for r in rows} == {loan[1]}  # same cédula


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert dump(fresh(seed=5, size=120)) == dump(fresh(seed=5, size=120))
    assert dump(fresh(seed=5, size=120)) != dump(fresh(seed=6, size=120))


def test_a_second_batch_adds_clients_without_clashes() -> None:
    engine = fresh(seed=1, size=50)
    with engine.begin() as conn:
        assert PACK.generate_demo_data(conn, seed=1, size=50) == 50
        assert conn.execute(sa.select(sa.func.count()).select_from(clients)).scalar() == 100


def test_a_negative_size_is_refused() -> None:
    engine = sa.create_engine("sqlite://")
    PACK.source_metadata().create_all(engine)
    with engine.begin() as conn, pytest.raises(ValueError, match="size"):
        PACK.generate_demo_data(conn, seed=1, size=-1)


# -- simulator ---------------------------------------------------------------------------


def run_simulator(engine: sa.Engine, seed: int, steps: int) -> list[dict[str, Any]]:
    sim = PACK.simulator(seed)
    with engine.begin() as conn:
        return [sim.step(conn) for _ in range(steps)]


def test_the_stream_is_reproducible() -> None:
    first = run_simulator(fresh(seed=9, size=150), seed=3, steps=120)
    again = run_simulator(fresh(seed=9, size=150), seed=3, steps=120)
    assert first == again
    assert first != run_simulator(fresh(seed=9, size=150), seed=4, steps=120)


def test_events_have_the_documented_shape() -> None:
    engine = fresh(seed=9, size=150)
    events = run_simulator(engine, seed=1, steps=150)
    with engine.connect() as conn:
        known = set(conn.execute(sa.select(clients.c.cedula)).scalars())
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == len(ids)
    for event in events:
        assert set(event) == {"event_id", "type", "entity", "occurred_at", "payload"}
        assert uuid.UUID(event["event_id"]).version == 4
        assert event["type"] in EVENT_ROUTES
        assert event["entity"] in known
        assert event["occurred_at"].endswith("+00:00")
        assert datetime.fromisoformat(event["occurred_at"]).date() == TODAY
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times)


def test_the_mix_looks_like_a_business_day() -> None:
    events = run_simulator(fresh(seed=2, size=400), seed=8, steps=500)
    counts = Counter(e["type"] for e in events)
    assert set(counts) == set(MIX)
    assert 0.6 < counts["payment_made"] / 500 < 0.8
    assert counts["payment_late"] > counts["new_loan"] > counts["client_default"]


def _check(conn: sa.Connection, event: dict[str, Any]) -> None:
    """The source reflects the change the event announces."""
    kind, data, cedula = event["type"], event["payload"], event["entity"]
    if kind in ("payment_made", "payment_late"):
        row = conn.execute(sa.select(payments).where(payments.c.id == data["payment_id"])).one()
        assert row.cedula == cedula
        assert row.status == ("paid" if kind == "payment_made" else "late")
    elif kind == "new_loan":
        count = sa.select(sa.func.count()).where(payments.c.loan_id == data["loan_id"])
        assert conn.execute(count).scalar() == data["term_months"]
    elif kind == "limit_increase":
        limit = conn.execute(sa.select(clients.c.credit_limit).where(clients.c.cedula == cedula))
        assert limit.scalar() == data["new_limit"] > data["old_limit"]
    elif kind.startswith("plan_") or kind == "new_payment_plan":
        plan = sa.select(payment_plans).where(payment_plans.c.id == data["plan_id"])
        status = conn.execute(plan).one().status
        assert status == {"plan_defaulted": "defaulted", "plan_cancelled": "cancelled"}.get(
            kind, data.get("plan_status")
        )
    elif kind == "client_default":
        open_ = sa.select(sa.func.count()).where(
            payments.c.cedula == cedula, payments.c.status.in_(("pending", "late"))
        )
        assert conn.execute(open_).scalar() == 0
        active = sa.select(sa.func.count()).where(
            loans.c.cedula == cedula, loans.c.status == "active"
        )
        assert conn.execute(active).scalar() == 0


def test_each_step_changes_the_source_as_its_event_says() -> None:
    engine = fresh(seed=4, size=300)
    sim = PACK.simulator(11)
    seen: set[str] = set()
    with engine.begin() as conn:
        for _ in range(400):
            event = sim.step(conn)
            _check(conn, event)
            seen.add(event["type"])
    assert seen == set(MIX)


def times(engine: sa.Engine, sim: CreditSimulator, steps: int) -> list[datetime]:
    with engine.begin() as conn:
        return [datetime.fromisoformat(sim.step(conn)["occurred_at"]) for _ in range(steps)]


@pytest.mark.parametrize("hour", [0, 9])
def test_the_replay_never_runs_ahead_of_the_clock(hour: int) -> None:
    """CI once ran the demo at 00:05 UTC: the day opened at 08:00 and, 1,770 events on, dated
    one past the next midnight, which ingest refused (more than a day ahead of the clock)."""
    clock = datetime.combine(TODAY, time(hour, 5), tzinfo=UTC)
    sim = CreditSimulator(3, today=TODAY, clock=lambda: clock)
    seen = times(fresh(seed=9, size=150), sim, 200)
    assert seen == sorted(seen)
    assert max(seen) == clock  # 200 steps of 5-60 s from 08:00 pass 09:05
    opening = datetime.combine(TODAY, time(8), tzinfo=UTC)  # the first step ticks 5-60 s
    if hour < 8:
        assert min(seen) == clock
    else:
        assert opening < min(seen) <= opening + timedelta(minutes=1)
    free = times(fresh(seed=9, size=150), CreditSimulator(3, today=TODAY), 200)
    assert max(free) > clock + timedelta(minutes=30)  # without a clock the day runs on


def test_only_the_wall_clock_pack_holds_its_replay_back() -> None:
    assert PACK.simulator(1).clock is None  # a given day replays reproducibly
    live = CreditPack().simulator(1)
    assert live.clock is not None
    assert abs(live.clock() - datetime.now(UTC)) < timedelta(minutes=1)


def test_an_empty_source_cannot_be_simulated() -> None:
    engine = sa.create_engine("sqlite://")
    PACK.source_metadata().create_all(engine)
    with engine.begin() as conn, pytest.raises(PluginError, match="demo data"):
        PACK.simulator(1).step(conn)


def test_demo_clients_are_the_same_on_any_day() -> None:
    """The README, --help and the API examples name demo clients: they must exist every day."""
    from datetime import date

    import sqlalchemy as sa

    from rescore.packs.credit import demo as credit_demo
    from rescore.packs.credit.schema import clients, metadata

    found = []
    for today in (date(2026, 1, 23), date(2026, 11, 30)):
        engine = sa.create_engine("sqlite://")
        metadata.create_all(engine)
        with engine.begin() as conn:
            credit_demo.generate(conn, seed=7, size=50, today=today)
            found.append(list(conn.execute(sa.select(clients.c.cedula)).scalars()))
    assert found[0] == found[1]
    assert set(credit_demo.SHOWCASE_CEDULAS) <= set(found[0])
