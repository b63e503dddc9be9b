"""The loyalty pack's source schema: seed 003's loyalty platform, its own tables.

``loyalty_businesses`` (each with its IANA time zone and the customer fields it requires),
``loyalty_customers``, ``loyalty_points`` (points transactions) and ``loyalty_visits``. Ids are
UUID strings, as the seed's API passes them. Times are naive UTC; a business's time zone says
what "today" is for its customers.

Two indexes carry the event-driven automations (seed 003's whole point):
``ix_loyalty_customers_birthday`` on ``(business_id, birth_month, birth_day)`` answers "whose
birthday is today" without reading anyone else, and ``ix_loyalty_customers_last_visit`` on
``(business_id, last_visit_at)`` answers "who has not come back in 30 days". ``birth_month`` and
``birth_day`` are kept beside ``birth_date`` because no index on an expression works the same on
SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
)

__all__ = [
    "CUSTOMER_FIELDS",
    "businesses",
    "customers",
    "metadata",
    "points",
    "visits",
]

#: The customer fields a business may require (``required_fields`` holds a list of these).
CUSTOMER_FIELDS = ("name", "phone", "email", "birth_date")

metadata = MetaData()

_id = String(36)
_amount = Numeric(12, 2, asdecimal=False)

businesses = Table(
    "loyalty_businesses",
    metadata,
    Column("id", _id, primary_key=True),
    Column("name", String(120), nullable=False),
    Column("time_zone", String(64), nullable=False, comment="IANA, e.g. America/Bogota"),
    Column("required_fields", JSON, nullable=False, comment="subset of CUSTOMER_FIELDS"),
)

customers = Table(
    "loyalty_customers",
    metadata,
    Column("id", _id, primary_key=True),
    Column("business_id", _id, ForeignKey("loyalty_businesses.id"), nullable=False),
    Column("name", String(120)),
    Column("phone", String(20)),
    Column("email", String(120)),
    Column("birth_date", Date),
    Column("birth_month", SmallInteger, comment="1-12, from birth_date (indexed)"),
    Column("birth_day", SmallInteger, comment="1-31, from birth_date (indexed)"),
    Column("registered_at", DateTime, nullable=False),
    Column("last_visit_at", DateTime),
    Column("points_balance", BigInteger, nullable=False, default=0),
    Index("ix_loyalty_customers_birthday", "business_id", "birth_month", "birth_day"),
    Index("ix_loyalty_customers_last_visit", "business_id", "last_visit_at"),
    Index("ix_loyalty_customers_registered", "business_id", "registered_at"),
)

points = Table(
    "loyalty_points",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("customer_id", _id, ForeignKey("loyalty_customers.id"), nullable=False),
    Column("points", Integer, nullable=False, comment="negative for a redemption"),
    Column("amount", _amount, nullable=False, default=0, comment="what was spent"),
    Column("occurred_at", DateTime, nullable=False),
    Index("ix_loyalty_points_customer", "customer_id", "occurred_at"),
)

visits = Table(
    "loyalty_visits",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("customer_id", _id, ForeignKey("loyalty_customers.id"), nullable=False),
    Column("visited_at", DateTime, nullable=False),
    Column("amount", _amount, nullable=False, default=0),
    Index("ix_loyalty_visits_customer", "customer_id", "visited_at"),
)
