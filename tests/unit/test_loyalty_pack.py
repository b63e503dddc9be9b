"""The loyalty pack (seed 003): its source, loader, scorers, demo data, simulator, both
automation modes, the audiences and the data the automation engine reads, and shipped rules."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from rescore.exceptions import Conflict, EntityNotFound, InvalidInput, PluginError
from rescore.packs.loyalty import (
    BirthdaysAudience,
    InactiveAudience,
    LoyaltyPack,
    Plan,
    birthday_keys,
    birthdays_today,
    inactive_customers,
    missing_fields,
    run,
    tier_of,
)
from rescore.packs.loyalty.generator import business_count
from rescore.packs.loyalty.schema import businesses, customers, points, visits
from rescore.packs.loyalty.scorers import ChurnRisk, LoyaltyScore
from rescore.packs.loyalty.writes import load_points, register_customer, undo, update_customer
from rescore.plugins import discover
from rescore.scoring import check_result

AS_OF = datetime(2027, 2, 28, 15, 0)  # 28 February of a non-leap year, 15:00 UTC


@pytest.fixture
def pack() -> LoyaltyPack:
    return LoyaltyPack(as_of=lambda: AS_OF)


@pytest.fixture
def conn(pack: LoyaltyPack) -> Iterator[sa.Connection]:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        pack.source_metadata().create_all(connection)
        yield connection
    engine.dispose()


def _business(conn: sa.Connection, key: str, zone: str, required: list[str]) -> str:
    conn.execute(
        sa.insert(businesses).values(
            id=key, name=f"Café {key[:4]}", time_zone=zone, required_fields=required
        )
    )
    return key


def _customer(conn: sa.Connection, business: str, key: str, **fields: Any) -> str:
    register_customer(
        conn,
        business_id=business,
        fields=fields,
        now=fields.pop("registered", AS_OF - timedelta(days=400)),
        customer_id=key,
    )
    return key


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def test_the_pack_is_registered_with_its_events_lanes_and_scorers() -> None:
    described = {p["name"]: p for p in discover(["loyalty"]).describe()}["loyalty"]
    assert described["entity"] == "customer"
    lanes = {t: e["lane"] for t, e in described["event_types"].items()}
    assert lanes == {
        "points_loaded": "critical",
        "customer_registered": "normal",
        "customer_updated": "normal",
        "visit_recorded": "normal",
    }
    assert set(described["scorers"]) == {"loyalty", "churn_risk"}


def test_the_birthday_index_is_on_business_month_and_day(pack: LoyaltyPack) -> None:
    indexes = {ix.name: [c.name for c in ix.columns] for ix in customers.indexes}
    assert indexes["ix_loyalty_customers_birthday"] == ["business_id", "birth_month", "birth_day"]
    assert indexes["ix_loyalty_customers_last_visit"] == ["business_id", "last_visit_at"]


def test_29_february_birthdays_are_greeted_on_28_february_of_a_non_leap_year() -> None:
    assert birthday_keys(date(2027, 2, 28)) == [(2, 28), (2, 29)]
    assert birthday_keys(date(2028, 2, 28)) == [(2, 28)]
    assert birthday_keys(date(2028, 2, 29)) == [(2, 29)]
    assert birthday_keys(date(2027, 3, 1)) == [(3, 1)]


def test_missing_fields_lists_what_the_business_requires_and_is_blank() -> None:
    customer = {"name": "Ana", "phone": " ", "email": None, "birth_date": None}
    assert missing_fields(customer, ["phone", "email", "name"]) == ["phone", "email"]
    assert missing_fields(customer, ["name", "unknown"]) == []


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (0, "bronze"),
        (39.99, "bronze"),
        (40, "silver"),
        (59.99, "silver"),
        (60, "gold"),
        (79.99, "gold"),
        (80, "platinum"),
        (100, "platinum"),
    ],
)
def test_tiers_use_the_documented_bands(score: float, tier: str) -> None:
    assert tier_of(score) == tier


def test_the_loader_reads_a_customer_with_the_window_of_visits_and_points(
    conn: sa.Connection, pack: LoyaltyPack
) -> None:
    shop = _business(conn, uid(1), "America/Bogota", ["phone"])
    ana = _customer(conn, shop, uid(10), name="Ana", phone="+573001112233")
    for days in (3, 100, 400):
        conn.execute(
            sa.insert(visits).values(
                customer_id=ana, visited_at=AS_OF - timedelta(days=days), amount=10.0
            )
        )
    load_points(conn, ana, points_delta=20, amount=40.0, now=AS_OF - timedelta(days=5))
    found = pack.load_inputs(conn, [ana, uid(99)], frozenset({"customer", "visits", "points"}))
    assert list(found) == [ana]
    assert [at for at, _ in found[ana]["visits"]] == [
        AS_OF - timedelta(days=100),
        AS_OF - timedelta(days=3),
    ]
    assert found[ana]["points"] == ((AS_OF - timedelta(days=5), 20, 40.0),)
    assert found[ana]["customer"]["points_balance"] == 20
    assert pack.known_entities(conn, [ana, uid(99)]) == {ana}
    with pytest.raises(PluginError, match="no input part"):
        pack.load_inputs(conn, [ana], frozenset({"loans"}))


def _inputs(
    last_visit_days: float | None, visits_days: list[float], spend: float
) -> dict[str, Any]:
    return {
        "as_of": AS_OF,
        "customer": {
            "registered_at": AS_OF - timedelta(days=500),
            "last_visit_at": None
            if last_visit_days is None
            else AS_OF - timedelta(days=last_visit_days),
            "points_balance": 0,
        },
        "visits": tuple(
            (AS_OF - timedelta(days=d), spend / max(1, len(visits_days))) for d in visits_days
        ),
        "points": (),
    }


def test_the_loyalty_score_is_recency_frequency_and_monetary_with_a_tier() -> None:
    regular = _inputs(2, [2 + 15 * i for i in range(24)], 2_000.0)
    result = check_result(LoyaltyScore(), LoyaltyScore().score(regular))
    assert set(result.components) == {"recency", "frequency", "monetary"}
    assert result.components["frequency"] == 30.0
    assert result.components["monetary"] == 30.0
    assert result.components["recency"] == pytest.approx(40 * (1 - 2 / 180), abs=0.01)
    assert result.features["tier"] == "platinum"
    assert result.reasons[0] == "tier platinum"
    lapsed = LoyaltyScore().score(_inputs(200, [200], 15.0))
    assert lapsed.components["recency"] == 0.0
    assert lapsed.features["tier"] == "bronze"


def test_churn_risk_rises_with_inactivity_and_a_slowdown() -> None:
    steady = ChurnRisk().score(_inputs(5, [5, 20, 40, 100, 120, 150], 100.0))
    stopped = ChurnRisk().score(_inputs(120, [120, 130, 150], 100.0))
    assert steady.components["slowdown"] == 0.0
    assert stopped.components["slowdown"] == 25.0
    assert stopped.components["inactivity"] == 60.0
    assert stopped.value > steady.value
    assert stopped.features["band"] == "high"
    check_result(ChurnRisk(), stopped)


def test_points_loaded_right_now_are_not_idle() -> None:
    fresh = _inputs(0, [0], 10.0) | {"points": ((AS_OF, 5, 10.0),)}
    assert ChurnRisk().score(fresh).components["idle_points"] == 0.0
    assert ChurnRisk().score(_inputs(0, [0], 10.0)).components["idle_points"] == 15.0


def test_demo_data_is_reproducible_and_realistic(pack: LoyaltyPack) -> None:
    def make() -> tuple[list[Any], sa.Engine]:
        engine = sa.create_engine("sqlite://")
        with engine.begin() as c:
            pack.source_metadata().create_all(c)
            assert pack.generate_demo_data(c, seed=5, size=3_000) == 3_000
            rows = c.execute(sa.select(customers).order_by(customers.c.id)).all()
        return rows, engine

    first, engine = make()
    second, _ = make()
    assert first == second
    with engine.connect() as c:
        owners = c.execute(sa.select(businesses)).mappings().all()
        assert len(owners) == business_count(3_000) == 30
        assert all(o["time_zone"].startswith("America/") for o in owners)
        assert all("phone" in o["required_fields"] for o in owners)
        history = c.execute(sa.select(sa.func.count()).select_from(visits)).scalar_one()
        loads = c.execute(sa.select(sa.func.count()).select_from(points)).scalar_one()
    assert history > 1_000
    assert loads > 1_000
    born = [r.birth_date for r in first if r.birth_date is not None]
    assert all(
        (r.birth_month, r.birth_day) == (r.birth_date.month, r.birth_date.day)
        for r in first
        if r.birth_date
    )
    assert 0.65 < len(born) / len(first) < 0.85
    inactive = sum(1 for r in first if r.last_visit_at < AS_OF - timedelta(days=30))
    assert 0.25 < inactive / len(first) < 0.6
    assert business_count(1_000_000) == 200


def test_the_generator_writes_29_february_birthdays() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as c:
        LoyaltyPack(as_of=lambda: AS_OF).source_metadata().create_all(c)
        LoyaltyPack(as_of=lambda: AS_OF).generate_demo_data(c, seed=1, size=20_000)
        leap = c.execute(
            sa.select(sa.func.count()).where(
                customers.c.birth_month == 2, customers.c.birth_day == 29
            )
        ).scalar_one()
    assert leap > 0


def _shop_with_birthdays(conn: sa.Connection) -> dict[str, str]:
    bogota = _business(conn, uid(1), "America/Bogota", ["phone", "email"])
    tokyo_like = _business(conn, uid(2), "America/Santiago", ["phone"])
    return {
        "feb28": _customer(conn, bogota, uid(10), phone="+571", birth_date=date(1990, 2, 28)),
        "feb29": _customer(conn, bogota, uid(11), phone="+572", birth_date=date(1992, 2, 29)),
        "mar1": _customer(conn, bogota, uid(12), phone="+573", birth_date=date(1980, 3, 1)),
        "none": _customer(conn, bogota, uid(13), phone="+574"),
        "other": _customer(conn, tokyo_like, uid(14), phone="+575", birth_date=date(2000, 2, 28)),
    }


def test_birthdays_today_uses_the_index_and_counts_29_february(conn: sa.Connection) -> None:
    who = _shop_with_birthdays(conn)
    found = {r["id"] for r in birthdays_today(conn, uid(1), date(2027, 2, 28))}
    assert found == {who["feb28"], who["feb29"]}
    everywhere = {r["id"] for r in birthdays_today(conn, None, date(2027, 2, 28))}
    assert everywhere == {who["feb28"], who["feb29"], who["other"]}
    assert {r["id"] for r in birthdays_today(conn, uid(1), date(2028, 2, 28))} == {who["feb28"]}


def test_both_modes_find_the_same_actions_and_legacy_reads_everyone(conn: sa.Connection) -> None:
    who = _shop_with_birthdays(conn)
    conn.execute(
        sa.update(customers)
        .where(customers.c.id == who["mar1"])
        .values(last_visit_at=AS_OF - timedelta(days=45))
    )
    _customer(conn, uid(1), uid(20), phone="+576", registered=AS_OF - timedelta(minutes=10))
    plan = Plan(now=AS_OF)
    fast, slow = run(conn, "event-driven", plan), run(conn, "legacy", plan)
    assert fast.actions == slow.actions
    assert fast.counts() == {"birthday": 3, "inactive": 5, "missing_fields": 1}
    missing = next(a for a in fast.actions if a.rule == "missing_fields")
    assert (missing.entity, missing.missing) == (uid(20), ("email",))
    assert slow.rows == 2 + 3 * 6  # two businesses, then every customer once per rule
    assert slow.queries == 1 + 2 * 3
    assert fast.rows < slow.rows
    # businesses; one birthday query (both zones are on 28 February); inactive; registrations
    assert fast.queries == 4


def test_a_birthday_is_today_in_the_business_time_zone(conn: sa.Connection) -> None:
    shop = _business(conn, uid(1), "America/Los_Angeles", ["phone"])
    ana = _customer(conn, shop, uid(10), phone="+1", birth_date=date(1990, 3, 1))
    at_utc_midnight = datetime(2027, 3, 1, 3, 0)  # still 28 February in Los Angeles
    plan = Plan(now=at_utc_midnight, rules=("birthday",))
    assert run(conn, "event-driven", plan).actions == run(conn, "legacy", plan).actions == []
    later = Plan(now=datetime(2027, 3, 1, 17, 0), rules=("birthday",))
    assert [a.entity for a in run(conn, "event-driven", later).actions] == [ana]


def test_inactive_customers_are_those_without_a_visit_in_30_days(conn: sa.Connection) -> None:
    shop = _business(conn, uid(1), "America/Lima", ["phone"])
    old = _customer(conn, shop, uid(10), phone="+51", registered=AS_OF - timedelta(days=31))
    _customer(conn, shop, uid(11), phone="+52", registered=AS_OF - timedelta(days=29))
    assert [r["id"] for r in inactive_customers(conn, shop, AS_OF)] == [old]
    assert inactive_customers(conn, shop, AS_OF, days=40) == []


def test_the_audiences_answer_per_business_in_its_zone(conn: sa.Connection) -> None:
    who = _shop_with_birthdays(conn)
    birthdays = BirthdaysAudience()
    assert birthdays.zones(conn) == {uid(1): "America/Bogota", uid(2): "America/Santiago"}
    members = list(birthdays.members(conn, uid(1), datetime(2027, 2, 28, 9, 0)))
    assert {m["entity"] for m in members} == {who["feb28"], who["feb29"]}
    assert {"entity", "name", "phone", "email", "points_balance"} <= set(members[0])
    inactive = InactiveAudience()
    local = datetime(2027, 2, 28, 9, 0)  # naive: 09:00 on the business's clock
    found = list(inactive.members(conn, uid(2), local))
    assert [m["entity"] for m in found] == [who["other"]]
    assert found[0]["days_since_visit"] == 399  # 09:00 in Santiago is 12:00 UTC, 3 h short
    assert list(inactive.members(conn, uid(99), local)) == []


def test_automation_data_has_what_templates_use(conn: sa.Connection, pack: LoyaltyPack) -> None:
    _shop_with_birthdays(conn)
    data = pack.automation_data(conn, [uid(13), uid(99)])
    assert list(data) == [uid(13)]
    assert data[uid(13)]["missing_fields"] == ["email"]
    assert data[uid(13)]["business_name"] == "Café 0000"
    assert data[uid(13)]["time_zone"] == "America/Bogota"
    assert data[uid(13)]["tier"] == tier_of(data[uid(13)]["loyalty"])
    assert {"name", "phone", "email", "points_balance"} <= set(data[uid(13)])


def test_registration_and_points_events_carry_what_the_rules_read(conn: sa.Connection) -> None:
    shop = _business(conn, uid(1), "America/Bogota", ["phone", "email", "birth_date"])
    change = register_customer(
        conn, business_id=shop, fields={"phone": "+57"}, now=AS_OF, customer_id=uid(10)
    )
    assert change["type"] == "customer_registered"
    assert change["payload"]["missing_fields"] == ["email", "birth_date"]
    loaded = load_points(conn, uid(10), points_delta=30, amount=60.0, now=AS_OF)
    assert (loaded["payload"]["points"], loaded["payload"]["balance"]) == (30, 30)
    spent = load_points(conn, uid(10), points_delta=-10, amount=0.0, now=AS_OF)
    assert spent["payload"]["balance"] == 20
    with pytest.raises(InvalidInput) as refused:
        load_points(conn, uid(10), points_delta=-21, amount=0.0, now=AS_OF)
    assert refused.value.field == "points"
    undo(conn, spent)
    balance = sa.select(customers.c.points_balance).where(customers.c.id == uid(10))
    assert conn.execute(balance).scalar_one() == 30
    with pytest.raises(Conflict):
        register_customer(conn, business_id=shop, fields={}, now=AS_OF, customer_id=uid(10))
    with pytest.raises(EntityNotFound) as unknown:
        register_customer(conn, business_id=uid(9), fields={}, now=AS_OF)
    assert unknown.value.field == "business_id"
    update_customer(conn, uid(10), {"birth_date": date(2000, 2, 29)}, now=AS_OF)
    row = conn.execute(sa.select(customers).where(customers.c.id == uid(10))).one()
    assert (row.birth_month, row.birth_day) == (2, 29)
    undo(conn, change)
    assert conn.execute(sa.select(customers).where(customers.c.id == uid(10))).first() is None


def test_the_simulator_is_reproducible(pack: LoyaltyPack) -> None:
    def stream() -> list[dict[str, Any]]:
        engine = sa.create_engine("sqlite://")
        with engine.begin() as c:
            pack.source_metadata().create_all(c)
            pack.generate_demo_data(c, seed=2, size=300)
            simulator = pack.simulator(9)
            return [simulator.step(c) for _ in range(60)]

    first = stream()
    assert first == stream()
    assert {e["type"] for e in first} == set(pack.register_event_types())
    registered = [e for e in first if e["type"] == "customer_registered"]
    assert all("missing_fields" in e["payload"] for e in registered)
    loaded = [e for e in first if e["type"] == "points_loaded"]
    assert all({"points", "balance"} <= set(e["payload"]) for e in loaded)


def test_the_shipped_rules_are_the_seed_automations(pack: LoyaltyPack) -> None:
    rules = yaml.safe_load(pack.rules_file().read_text(encoding="utf-8"))
    by_name = {r["name"]: r for r in rules}
    assert set(by_name) == {
        "loyalty.birthday",
        "loyalty.inactive",
        "loyalty.missing_fields",
        "loyalty.points_loaded",
        "loyalty.tier_up",
    }
    assert by_name["loyalty.birthday"]["trigger"] == {
        "kind": "schedule",
        "cron": "0 9 * * *",
        "timezone": "audience",
        "audience": "birthdays",
    }
    assert by_name["loyalty.inactive"]["trigger"]["audience"] == "inactive"
    assert by_name["loyalty.missing_fields"]["trigger"]["type"] == "customer_registered"
    bands = by_name["loyalty.tier_up"]["trigger"]["tier"]["bands"]
    assert {tier_of(low) for low in bands.values()} == set(bands)
    audiences = {a.name for a in pack.register_audiences()}
    scheduled = {r["trigger"].get("audience") for r in rules} - {None}
    assert scheduled == audiences
    assert {r["trigger"].get("type") for r in rules} - {None} <= set(pack.register_event_types())


def test_the_bench_reports_both_modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rescore.bench.loyalty import birthdays

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = birthdays(size=3_000, repeats=(2, 1))
    assert made.id == "L1"
    assert made.skipped is None
    numbers = made.numbers
    assert numbers["legacy_rows"] == 3_000 + 30  # every customer, and the 30 businesses
    assert numbers["legacy_queries"] == 1 + 30
    assert numbers["event_driven_rows"] == 30 + numbers["birthdays_today"]
    assert numbers["rows_ratio"] == numbers["legacy_rows"] / numbers["event_driven_rows"]
    assert "generate_seconds" in numbers
    again = birthdays(size=3_000, repeats=(1, 1))
    assert "generate_seconds" not in again.numbers, "the population is made once"
    assert again.numbers["birthdays_today"] == numbers["birthdays_today"]
