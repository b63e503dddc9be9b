"""The examples the loyalty pack's routes document, on the demo data (seed 7: the first
business and the first customer by id; the answers are cut to their first items)."""

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
    "customer_id": "5b0c2f7e-8d0c-4a43-9d0e-3f1d2b6c9a11",
    "business_id": BUSINESS,
    "missing_fields": ["birth_date"],
    "event_id": "loyalty:customer_registered:5b0c2f7e-8d0c-4a43-9d0e-3f1d2b6c9a11",
    "duplicate": False,
}

LOAD: dict[str, Any] = {"customer_id": CUSTOMER, "points": 25, "amount": 52.5}
LOADED: dict[str, Any] = {
    "customer_id": CUSTOMER,
    "points": 25,
    "balance": 66,
    "event_id": "loyalty:points_loaded:9e4b1c55-2f0a-4c1e-8a57-0d6f3e2b7c90",
    "fresh": True,
    "loyalty": 52.73,
    "tier": "silver",
    "churn_risk": 27.7,
}

AUTOMATIONS: dict[str, Any] = {
    "mode": "event-driven",
    "business_id": BUSINESS,
    "now": "2026-11-30T14:00:00Z",
    "counts": {"birthday": 0, "inactive": 41, "missing_fields": 0},
    "queries": 4,
    "rows_read": 42,
    "milliseconds": 1.9,
    "actions": [
        {
            "rule": "inactive",
            "business_id": BUSINESS,
            "entity": "0151f1e6-3d38-4f5c-a0f7-6c7e3e8c1b52",
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
            "entity": "3e1f6b0a-6c55-4f0e-9d61-2a7b8c9d0e1f",
            "business_id": BUSINESS,
            "name": "Sofía Gómez",
            "phone": "+573104567890",
            "email": None,
            "birth_date": "1988-11-30",
            "points_balance": 120,
        }
    ],
}
