"""The business changes seed 003's API makes to the source, each with the event announcing it.

Registering a customer, updating one, loading points and recording a visit; each writes
through the caller's connection (so it is part of the caller's transaction) and returns the
event the change calls for, with the payload the shipped rules read: ``customer_registered``
carries ``missing_fields`` (against the business's required fields at that moment) and
``points_loaded`` carries ``points`` and the new ``balance``. ``birth_month`` and ``birth_day``
are always written from ``birth_date`` here, so the birthday index never disagrees with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from rescore.exceptions import Conflict, EntityNotFound, InvalidInput
from rescore.packs.loyalty.customers import missing_fields, required_of
from rescore.packs.loyalty.schema import CUSTOMER_FIELDS, businesses, customers, points, visits

__all__ = [
    "Change",
    "business_of",
    "first_business",
    "load_points",
    "record_visit",
    "register_customer",
    "undo",
    "update_customer",
]

Change = dict[str, Any]
"""An event as a dict: ``event_id``, ``type``, ``entity``, ``occurred_at``, ``payload``."""


def _event(type_: str, entity: str, at: datetime, payload: dict[str, Any], key: str) -> Change:
    return {
        "event_id": f"loyalty:{type_}:{key}",
        "type": type_,
        "entity": entity,
        "occurred_at": at.isoformat() + "Z",
        "payload": payload,
        "pack": "loyalty",
    }


def business_of(conn: Connection, business_id: str) -> RowMapping:
    """The business row, or :class:`EntityNotFound` naming ``business_id``."""
    row = conn.execute(select(businesses).where(businesses.c.id == business_id)).mappings().first()
    if row is None:
        raise EntityNotFound(f"no business {business_id}", field="business_id")
    return row


def first_business(conn: Connection) -> str:
    """The first business by id (the seed's test endpoint registers there by default)."""
    found = conn.execute(select(businesses.c.id).order_by(businesses.c.id).limit(1)).scalar()
    if found is None:
        raise EntityNotFound(
            "no business yet: create one or generate demo data", field="business_id"
        )
    return str(found)


def _birth(value: date | None) -> dict[str, Any]:
    return {
        "birth_date": value,
        "birth_month": value.month if value else None,
        "birth_day": value.day if value else None,
    }


def register_customer(
    conn: Connection,
    *,
    business_id: str,
    fields: Mapping[str, Any],
    now: datetime,
    customer_id: str | None = None,
) -> Change:
    """Add a customer (registering is a visit: ``last_visit_at`` is ``now``); return its
    ``customer_registered`` event. ``fields`` holds any of name, phone, email, birth_date."""
    business = business_of(conn, business_id)
    key = customer_id or str(uuid.uuid4())
    taken = conn.execute(select(customers.c.id).where(customers.c.id == key)).first()
    if taken is not None:
        raise Conflict(f"customer {key} is already registered", field="id")
    given = {name: fields.get(name) for name in ("name", "phone", "email")}
    row = {
        "id": key,
        "business_id": business_id,
        **given,
        **_birth(fields.get("birth_date")),
        "registered_at": now,
        "last_visit_at": now,
        "points_balance": 0,
    }
    conn.execute(insert(customers).values(**row))
    missing = missing_fields(row, required_of(business["required_fields"]))
    payload = {"business_id": business_id, "missing_fields": missing}
    return _event("customer_registered", key, now, payload, key)


def update_customer(
    conn: Connection,
    customer_id: str,
    fields: Mapping[str, Any],
    *,
    now: datetime,
    key: str | None = None,
) -> Change:
    """Change some of a customer's fields; return its ``customer_updated`` event."""
    unknown = sorted(set(fields) - set(CUSTOMER_FIELDS))
    if unknown:
        raise InvalidInput(f"not a customer field: {', '.join(unknown)}", field=unknown[0])
    values = {k: v for k, v in fields.items() if k != "birth_date"}
    if "birth_date" in fields:
        values |= _birth(fields["birth_date"])
    _customer(conn, customer_id)
    conn.execute(update(customers).where(customers.c.id == customer_id).values(**values))
    payload = {"fields": sorted(fields)}
    return _event("customer_updated", customer_id, now, payload, key or str(uuid.uuid4()))


def _customer(conn: Connection, customer_id: str) -> RowMapping:
    query = select(customers).where(customers.c.id == customer_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise EntityNotFound(f"no customer {customer_id}", field="customer_id")
    return row


def load_points(
    conn: Connection,
    customer_id: str,
    *,
    points_delta: int,
    amount: float,
    now: datetime,
    key: str | None = None,
) -> Change:
    """Record a points transaction and move the balance (never below zero); return the
    ``points_loaded`` event with ``points`` and the new ``balance``."""
    _customer(conn, customer_id)
    balance_now = customers.c.points_balance
    moved = conn.execute(
        update(customers)
        .where(customers.c.id == customer_id, balance_now + points_delta >= 0)
        .values(points_balance=balance_now + points_delta)
    )
    if moved.rowcount == 0:
        raise InvalidInput(f"the balance is too low to take {-points_delta} points", field="points")
    query = select(customers.c.points_balance).where(customers.c.id == customer_id)
    balance = int(conn.execute(query).scalar_one())
    done = conn.execute(
        insert(points).values(
            customer_id=customer_id, points=points_delta, amount=amount, occurred_at=now
        )
    )
    transaction = int(done.inserted_primary_key[0])  # type: ignore[index]
    payload = {
        "points": points_delta,
        "balance": balance,
        "amount": amount,
        "transaction_id": transaction,
    }
    return _event("points_loaded", customer_id, now, payload, key or str(uuid.uuid4()))


def undo(conn: Connection, change: Change) -> None:
    """Take back a registration or a points load whose event could not be ingested, so the
    caller's request leaves nothing half-written."""
    entity, payload = change["entity"], change["payload"]
    if change["type"] == "customer_registered":
        conn.execute(delete(customers).where(customers.c.id == entity))
    elif change["type"] == "points_loaded":
        conn.execute(delete(points).where(points.c.id == payload["transaction_id"]))
        balance = customers.c.points_balance - payload["points"]
        conn.execute(
            update(customers).where(customers.c.id == entity).values(points_balance=balance)
        )
    else:
        raise InvalidInput(f"{change['type']} cannot be undone", field="type")


def record_visit(
    conn: Connection, customer_id: str, *, amount: float, now: datetime, key: str | None = None
) -> Change:
    """Record a visit (and what was spent); return the ``visit_recorded`` event."""
    _customer(conn, customer_id)
    conn.execute(insert(visits).values(customer_id=customer_id, visited_at=now, amount=amount))
    conn.execute(update(customers).where(customers.c.id == customer_id).values(last_visit_at=now))
    payload = {"amount": amount}
    return _event("visit_recorded", customer_id, now, payload, key or str(uuid.uuid4()))
