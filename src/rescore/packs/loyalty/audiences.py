"""What the automation engine reads from the loyalty pack: its audiences and template data.

Two contracts with ``rescore.automations`` (the engine evaluates rules, records firings and
delivers; this module only answers questions about customers):

- **Audiences** for schedule triggers. An audience is split into groups that each have a time
  zone (here: one group per business); at a rule's scheduled local time the engine asks for
  the members of each group whose local clock shows that time. ``birthdays`` and ``inactive``
  use the event-driven queries of :mod:`.modes`, so a 09:00 run reads only the customers it
  greets.
- **Automation data** (:func:`automation_data`): per customer, the fields message templates use
  (``{{ data.name }}``, ``{{ data.points_balance }}``, ``{{ data.missing_fields }}``, ...).

Example::

    audience = BirthdaysAudience()
    with engine.connect() as conn:
        for business, zone in audience.zones(conn).items():
            local = datetime.now(ZoneInfo(zone))
            for member in audience.members(conn, business, local):
                print(member["entity"], member["name"], member["phone"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from rescore.automations import Audience
from rescore.packs.loyalty import loader
from rescore.packs.loyalty.customers import missing_fields, required_of
from rescore.packs.loyalty.customers import zone as zone_of
from rescore.packs.loyalty.modes import birthdays_today, inactive_customers
from rescore.packs.loyalty.schema import businesses, customers
from rescore.packs.loyalty.scorers import LoyaltyScore
from rescore.scoring import ScoreResult

__all__ = ["BirthdaysAudience", "InactiveAudience", "automation_data"]

INACTIVE_DAYS = 30


def _zones(conn: Connection) -> dict[str, str]:
    rows = conn.execute(select(businesses.c.id, businesses.c.time_zone).order_by(businesses.c.id))
    return {str(business): str(zone) for business, zone in rows}


def _utc(local: datetime, zone: str) -> datetime:
    """``local`` as naive UTC; a naive ``local`` is a wall-clock time in ``zone``."""
    aware = local if local.tzinfo is not None else local.replace(tzinfo=zone_of(zone))
    return aware.astimezone(UTC).replace(tzinfo=None)


def _member(row: RowMapping, **extra: Any) -> dict[str, Any]:
    birth: date | None = row["birth_date"]
    return {
        "entity": row["id"],
        "business_id": row["business_id"],
        "name": row["name"],
        "phone": row["phone"],
        "email": row["email"],
        "birth_date": birth.isoformat() if birth else None,
        "points_balance": int(row["points_balance"]),
        **extra,
    }


class BirthdaysAudience(Audience):
    """Customers whose birthday is today in their business's time zone (29 February
    birthdays on 28 February in other years)."""

    name = "birthdays"
    description = "Customers whose birthday is today in their business's time zone"

    def zones(self, conn: Connection) -> Mapping[str, str]:
        """Group (business id) -> IANA time zone."""
        return _zones(conn)

    def members(self, conn: Connection, group: str, local: datetime) -> Iterator[dict[str, Any]]:
        """Customers of business ``group`` whose birthday is ``local``'s date."""
        for row in birthdays_today(conn, group, local.date()):
            yield _member(row)


class InactiveAudience(Audience):
    """Customers of a business with no visit in the last 30 days."""

    name = "inactive"
    description = "Customers with no visit in the last 30 days, per business"

    def zones(self, conn: Connection) -> Mapping[str, str]:
        """Group (business id) -> IANA time zone."""
        return _zones(conn)

    def members(self, conn: Connection, group: str, local: datetime) -> Iterator[dict[str, Any]]:
        """Customers of business ``group`` whose last visit is over 30 days before ``local``."""
        zone = _zones_of(conn, group)
        if zone is None:
            return
        as_of = _utc(local, zone)
        for row in inactive_customers(conn, group, as_of, days=INACTIVE_DAYS):
            days = (as_of - row["last_visit_at"]).days
            yield _member(row, days_since_visit=days)


def _zones_of(conn: Connection, business_id: str) -> str | None:
    query = select(businesses.c.time_zone).where(businesses.c.id == business_id)
    zone: str | None = conn.execute(query).scalar()
    return zone


def automation_data(
    conn: Connection, entities: Sequence[str], as_of: Callable[[], datetime]
) -> dict[str, dict[str, Any]]:
    """Per customer id found: name, phone, email, points_balance, business_name, time_zone,
    missing_fields (against the business's required fields now) and tier (the loyalty score's,
    computed from the source as of ``as_of()``)."""
    wanted = sorted(set(entities))
    now = as_of()
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), loader.CHUNK_SIZE):
        found.update(_data_chunk(conn, wanted[start : start + loader.CHUNK_SIZE], now))
    return found


def _data_chunk(conn: Connection, chunk: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    inputs = loader.load_inputs(conn, chunk, loader.PARTS, now)
    query = (
        select(
            customers,
            businesses.c.name.label("business_name"),
            businesses.c.time_zone,
            businesses.c.required_fields,
        )
        .join(businesses, businesses.c.id == customers.c.business_id)
        .where(customers.c.id.in_(chunk))
    )
    return {
        row["id"]: _data(row, LoyaltyScore().score(inputs[row["id"]]))
        for row in conn.execute(query).mappings()
    }


def _data(row: RowMapping, loyalty: ScoreResult) -> dict[str, Any]:
    return {
        "name": row["name"],
        "phone": row["phone"],
        "email": row["email"],
        "points_balance": int(row["points_balance"]),
        "business_id": row["business_id"],
        "business_name": row["business_name"],
        "time_zone": row["time_zone"],
        "missing_fields": missing_fields(row, required_of(row["required_fields"])),
        "tier": loyalty.features["tier"],
        "loyalty": loyalty.value,
    }
