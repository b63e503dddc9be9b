"""The examples the loyalty pack's routes document, on the demo data (seed 7: the first
business and the first customer by id), answered as of 2026-11-30 14:00 UTC with the demo data
generated as of then; lists are cut to their first item."""

from __future__ import annotations

from typing import Any

BUSINESS = "06d2318c-60f5-4bb8-b588-475f7066c1cd"
CUSTOMER = "00309793-6b95-4e7a-8c5f-061c706b3642"

#: Business 06d2318c requires phone, name and birth date: this customer gives no birth date.
REGISTER: dict[str, Any] = {
    "business_id": BUSINESS,
    "name": "Camila Torres",
    "phone": "+573001234567",
    "email": "camila.torres@example.com",
}
REGISTERED: dict[str, Any] = {
    "customer_id": "4eb77edd-bd20-4aaf-ac84-d9d6572c0b05",
    "business_id": BUSINESS,
    "missing_fields": ["birth_date"],
    "event_id": "loyalty:customer_registered:4eb77edd-bd20-4aaf-ac84-d9d6572c0b05",
    "duplicate": False,
}

LOAD: dict[str, Any] = {"customer_id": CUSTOMER, "points": 25, "amount": 52.5}
LOADED: dict[str, Any] = {
    "customer_id": CUSTOMER,
    "points": 25,
    "balance": 66,
    "event_id": "loyalty:points_loaded:598fcacb-d067-4293-b382-0be87597a991",
    "fresh": True,
    "loyalty": 53.09,
    "tier": "silver",
    "churn_risk": 41.77,
}

AUTOMATIONS: dict[str, Any] = {
    "mode": "event-driven",
    "business_id": BUSINESS,
    "now": "2026-11-30T14:00:00Z",
    "counts": {"birthday": 1, "inactive": 30, "missing_fields": 0},
    "queries": 4,
    "rows_read": 32,
    "milliseconds": 2.376,
    "actions": [
        {
            "rule": "birthday",
            "business_id": BUSINESS,
            "entity": "8443eedd-2713-43d5-bbc5-53790e6ae488",
        }
    ],
}

EVENTS: dict[str, Any] = {
    "event": "birthdays",
    "audience": "birthdays",
    "business_id": BUSINESS,
    "now": "2026-11-30T14:00:00Z",
    "count": 1,
    "members": [
        {
            "entity": "8443eedd-2713-43d5-bbc5-53790e6ae488",
            "business_id": BUSINESS,
            "name": "Luis Gómez",
            "phone": "+573091851980",
            "email": "cliente.8443eedd@example.com",
            "birth_date": "1964-11-30",
            "points_balance": 0,
        }
    ],
}
