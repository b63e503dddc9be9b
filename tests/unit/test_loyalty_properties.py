"""Seed 003's promise, as a property: on any data, at any instant, the event-driven mode (indexed
queries) and the legacy full scan find exactly the same actions, and the event-driven one never
reads more rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rescore.packs.loyalty import LoyaltyPack, Plan, run
from rescore.packs.loyalty.schema import CUSTOMER_FIELDS, businesses, customers
from rescore.packs.loyalty.writes import register_customer

ZONES = ("America/Bogota", "America/Los_Angeles", "America/Sao_Paulo", "America/Santiago")
#: Instants around the days that matter: 28 Feb of non-leap and leap years, 29 Feb, 1 March.
DAYS = (date(2027, 2, 28), date(2028, 2, 28), date(2028, 2, 29), date(2027, 3, 1), date(2026, 7, 4))
BIRTHDAYS = st.one_of(
    st.none(),
    st.sampled_from([date(1992, 2, 29), date(1990, 2, 28), date(1985, 3, 1), date(2000, 7, 4)]),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2008, 12, 31)),
)

customer = st.fixed_dictionaries(
    {
        "business": st.integers(0, 2),
        "name": st.sampled_from([None, "", "Ana", "Luis"]),
        "phone": st.sampled_from([None, "+573001112233"]),
        "email": st.sampled_from([None, " ", "a@example.com"]),
        "birth_date": BIRTHDAYS,
        "registered_minutes_ago": st.integers(0, 90),
        "last_visit_days_ago": st.one_of(st.none(), st.floats(0, 60, allow_nan=False)),
    }
)
business = st.tuples(
    st.sampled_from(ZONES), st.lists(st.sampled_from(CUSTOMER_FIELDS), unique=True, max_size=4)
)


def _fill(
    conn: sa.Connection, owners: list[Any], people: list[dict[str, Any]], now: datetime
) -> None:
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(len(owners))]
    for key, (zone, required) in zip(ids, owners, strict=True):
        conn.execute(
            sa.insert(businesses).values(id=key, name=key, time_zone=zone, required_fields=required)
        )
    for n, person in enumerate(people):
        change = register_customer(
            conn,
            business_id=ids[person["business"] % len(ids)],
            fields={k: person[k] for k in ("name", "phone", "email", "birth_date")},
            now=now - timedelta(minutes=person["registered_minutes_ago"]),
            customer_id=f"10000000-0000-4000-8000-{n:012d}",
        )
        days = person["last_visit_days_ago"]
        visit = None if days is None else now - timedelta(days=days)
        conn.execute(
            sa.update(customers)
            .where(customers.c.id == change["entity"])
            .values(last_visit_at=visit)
        )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    owners=st.lists(business, min_size=1, max_size=3),
    people=st.lists(customer, max_size=25),
    day=st.sampled_from(DAYS),
    hour=st.integers(0, 23),
    only=st.sampled_from([None, 0, 1]),
)
def test_both_modes_give_the_same_actions(
    owners: list[Any], people: list[dict[str, Any]], day: date, hour: int, only: int | None
) -> None:
    now = datetime(day.year, day.month, day.day, hour, 30)
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        LoyaltyPack().source_metadata().create_all(conn)
        _fill(conn, owners, people, now)
        business_id = None if only is None else f"00000000-0000-4000-8000-{only:012d}"
        plan = Plan(now=now, business_id=business_id)
        fast, slow = run(conn, "event-driven", plan), run(conn, "legacy", plan)
    engine.dispose()
    assert fast.actions == slow.actions
    assert fast.rows <= slow.rows
