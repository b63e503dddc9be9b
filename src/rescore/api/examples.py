"""Requests and answers the OpenAPI schema documents, taken from the demo data
(``rescore init --demo-data``, seed 7): /docs prefills them, schemathesis sends them, and a test
sends each one to a server on the demo data and checks the answer has the documented keys."""

from __future__ import annotations

import base64
import json
from typing import Any

PACK = "credit"
#: A client of the demo data (the same whatever the date; see the credit pack's demo module).
CEDULA = "1001257568"

EVENT: dict[str, Any] = {
    "event_id": "docs-payment-1",
    "type": "payment_made",
    "entity": CEDULA,
    "occurred_at": "2026-01-23T10:30:00Z",
    "payload": {"payment_id": 88121, "amount": 250000},
}
PUBSUB: dict[str, Any] = {
    "message": {
        "data": base64.b64encode(
            json.dumps({"event_type": "new_payment_plan", "cedula": CEDULA}).encode()
        ).decode(),
        "messageId": "docs-pubsub-1",
        "publishTime": "2026-01-23T10:30:01Z",
    },
    "subscription": "projects/platam-analytics/subscriptions/scoring",
}
REQUEUE: dict[str, Any] = {"pack": PACK}

# answers (as the demo data gave them; lists cut to one item) ---------------------------------

INGESTED: dict[str, Any] = {
    "accepted": 1,
    "duplicates": 0,
    "queued": {"critical": 0, "normal": 1},
    "fresh": None,
    "scores": None,
}
SCORES: dict[str, Any] = {
    "tenant": "default",
    "pack": "credit",
    "entity": CEDULA,
    "scores": {
        "hybrid": {
            "value": 805.1,
            "components": {"internal": 237.55, "bureau": 567.55},
            "reasons": [
                "27% PLATAM (895.39), 73% bureau (768 -> 772 of 1000)",
                "7 months as client and 3 paid instalments",
            ],
            "version": "1.0.0",
            "watermark": 2,
            "changed_at": "2026-11-30T03:46:36.532904+00:00",
            "computed_at": "2026-11-30T03:46:47.428459+00:00",
        },
        "platam": {
            "value": 895.39,
            "components": {
                "payment_performance": 495.39,
                "payment_plan": 150.0,
                "deterioration": 250.0,
            },
            "reasons": [
                "PLATAM 895.39 of 1000 = payment_performance 495.39, payment_plan 150, "
                "deterioration 250"
            ],
            "version": "1.0.0",
            "watermark": 2,
            "changed_at": "2026-11-30T03:46:36.532904+00:00",
            "computed_at": "2026-11-30T03:46:47.428459+00:00",
        },
    },
    "versions": {"hybrid": "1.0.0", "platam": "1.0.0"},
    "watermark": 2,
    "updated_at": "2026-11-30T03:46:47.428459+00:00",
    "pending": False,
    "age_seconds": 0.043,
    "stale": False,
    "source": "database",
}
HISTORY: dict[str, Any] = {
    "items": [
        {
            "id": 80,
            "scorer": "hybrid",
            "version": "1.0.0",
            "before": None,
            "after": 805.1,
            "deltas": {"bureau": 567.55, "internal": 237.55},
            "components": {"internal": 237.55, "bureau": 567.55},
            "reasons": ["27% PLATAM (895.39), 73% bureau (768 -> 772 of 1000)"],
            "event_ids": [],
            "watermark": 0,
            "changed_at": "2026-11-30T03:46:36.532904+00:00",
        }
    ],
    "limit": 50,
    "offset": 0,
}
EXPLAINED: dict[str, Any] = {
    "pack": "credit",
    "entity": CEDULA,
    "current": {
        "hybrid": {
            "value": 805.1,
            "components": {"internal": 237.55, "bureau": 567.55},
            "version": "1.0.0",
        }
    },
    "changes": [
        {
            "scorer": "hybrid",
            "version": "1.0.0",
            "before": None,
            "after": 805.1,
            "deltas": {"bureau": 567.55, "internal": 237.55},
            "reasons": ["27% PLATAM (895.39), 73% bureau (768 -> 772 of 1000)"],
            "changed_at": "2026-11-30T03:46:36.532904+00:00",
            "events": [],
        }
    ],
}
PENDING: dict[str, Any] = {
    "counts": {"critical": 0, "normal": 1, "dead": 0},
    "items": [
        {
            "pack": "credit",
            "entity": CEDULA,
            "lane": "normal",
            "priority": 5,
            "state": "waiting",
            "attempts": 0,
            "last_error": None,
            "first_seq": 3,
            "watermark": 3,
            "enqueued_at": "2026-11-30T03:46:47.428459+00:00",
        }
    ],
}
DEAD_LETTER: dict[str, Any] = {"counts": {"critical": 0, "normal": 0, "dead": 0}, "items": []}
REQUEUED: dict[str, Any] = {"requeued": 0}
HEALTH: dict[str, Any] = {"status": "ok"}
READY: dict[str, Any] = {
    "ready": True,
    "database": True,
    "workers": True,
    "lag_seconds": {"critical": 0.0, "normal": 0.0},
    "max_lag_seconds": {"critical": 5.0, "normal": 11.0},
}
#: The start of ``GET /metrics`` on the demo data (the text exposition format).
METRICS = """\
# HELP rescore_events_ingested_total New events stored
# TYPE rescore_events_ingested_total counter
rescore_events_ingested_total{lane="normal",pack="credit",type="payment_made"} 1.0
# HELP rescore_database_up 1 when the queue could be read
# TYPE rescore_database_up gauge
rescore_database_up 1.0
# HELP rescore_pending Entities waiting, by lane (dead: dead letters)
# TYPE rescore_pending gauge
rescore_pending{lane="critical"} 0.0
rescore_pending{lane="dead"} 0.0
rescore_pending{lane="normal"} 0.0
"""

# automations ---------------------------------------------------------------------------------

#: A rule the credit pack ships (seed 000: tell the risk team at once when a client defaults).
RULE_NAME = "credit.default_alert"
RULE: dict[str, Any] = {
    "name": "docs.hybrid_low",
    "pack": "credit",
    "description": "The hybrid score fell below 500.",
    "trigger": {"kind": "score", "scorer": "hybrid", "crosses": {"below": 500, "band": 25}},
    "actions": [
        {
            "notify": {
                "channel": "slack",
                "title": "{{ entity }} below 500",
                "body": "hybrid {{ before | round }} -> {{ after | round }}",
            }
        }
    ],
    "throttle": {"count": 1, "per": "1d"},
}
RULES: dict[str, Any] = {
    "rules": [
        {
            "name": RULE_NAME,
            "pack": "credit",
            "description": "A client defaulted: tell the risk team at once.",
            "trigger": {"kind": "event", "type": "client_default"},
            "actions": [{"notify": {"channel": "slack", "body": "Client {{ entity }} ..."}}],
            "enabled": True,
            "origin": "pack",
        }
    ]
}
RULES_ADDED: dict[str, Any] = {"added": 1, "names": ["docs.hybrid_low"]}
RULE_REMOVED: dict[str, Any] = {"removed": "docs.hybrid_low"}
RULE_TESTED: dict[str, Any] = {
    "rule": RULE_NAME,
    "entity": CEDULA,
    "would_fire": False,
    "reason": "'1001257568' has no 'client_default' event",
}
FIRINGS: dict[str, Any] = {
    "firings": [
        {
            "id": 1,
            "tenant": "default",
            "rule": RULE_NAME,
            "pack": "credit",
            "entity": "80283877",
            "occurrence": "event:sim-000001",
            "key": "5f2c...",
            "status": "fired",
            "context": {"entity": "80283877", "event": {"type": "client_default"}},
            "fired_at": "2026-01-23T10:30:00.120000+00:00",
        }
    ]
}
DELIVERIES: dict[str, Any] = {
    "counts": {"sent": 1},
    "deliveries": [
        {
            "id": 1,
            "firing_id": 1,
            "rule": RULE_NAME,
            "kind": "notify",
            "status": "sent",
            "attempts": 1,
            "message": {"title": "Default: 80283877", "via": "file:.rescore/inbox/slack.jsonl"},
            "last_error": None,
        }
    ],
}
DELIVERIES_REQUEUED: dict[str, Any] = {"requeued": 0}
