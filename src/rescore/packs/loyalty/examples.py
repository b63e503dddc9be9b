"""The examples the loyalty pack's routes document, on the demo data (seed 7: the first
business and the first customer by id), answered as of 2026-11-30 14:00 UTC with the demo data
generated as of then; lists are cut to their first item."""

from __future__ import annotations

from typing import Any

BUSINESS = "0bb4db71-be57-4209-851d-3d24f4c0cf83"
CUSTOMER = "00309793-6b95-4e7a-8c5f-061c706b3642"

#: Business 0bb4db71 requires phone and e-mail: this customer gives no e-mail.
REGISTER: dict[str, Any] = {
    "business_id": BUSINESS,
    "name": "Camila Torres",
    "phone": "+573001234567",
    "birth_date": "1994-02-28",
}
REGISTERED: dict[str, Any] = {
    "customer_id": "2df0aa2b-bc4f-4d7c-bbe7-83b26d2db5bc",
    "business_id": BUSINESS,
    "missing_fields": ["email"],
    "event_id": "loyalty:customer_registered:2df0aa2b-bc4f-4d7c-bbe7-83b26d2db5bc",
    "duplicate": False,
}

LOAD: dict[str, Any] = {"customer_id": CUSTOMER, "points": 25, "amount": 52.5}
LOADED: dict[str, Any] = {
    "customer_id": CUSTOMER,
    "points": 25,
    "balance": 66,
    "event_id": "loyalty:points_loaded:8ccc42b2-fc92-4d31-a885-ec25bd6dcb09",
    "fresh": True,
    "loyalty": 53.09,
    "tier": "silver",
    "churn_risk": 26.77,
}

AUTOMATIONS: dict[str, Any] = {
    "mode": "event-driven",
    "business_id": BUSINESS,
    "now": "2026-11-30T14:00:00Z",
    "counts": {"birthday": 0, "inactive": 50, "missing_fields": 0},
    "queries": 4,
    "rows_read": 51,
    "milliseconds": 2.624,
    "actions": [
        {
            "rule": "inactive",
            "business_id": BUSINESS,
            "entity": "0eaf4e02-bd3f-4710-85d6-8caa9420ed5e",
        }
    ],
}

#: ``?event=inactive&business_id=BUSINESS``.
EVENTS: dict[str, Any] = {
    "event": "inactive",
    "audience": "inactive",
    "business_id": BUSINESS,
    "now": "2026-11-30T14:00:00Z",
    "count": 50,
    "members": [
        {
            "entity": "0eaf4e02-bd3f-4710-85d6-8caa9420ed5e",
            "business_id": BUSINESS,
            "name": "José Rodríguez",
            "phone": "+573988221402",
            "email": None,
            "birth_date": "1976-12-21",
            "points_balance": 9,
            "days_since_visit": 80,
        }
    ],
    "recorded": {"fired": 50, "throttled": 0, "duplicate": 0, "skipped": 0},
}
