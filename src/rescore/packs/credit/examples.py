"""The examples the credit pack's contract routes document, on the demo data (seed 7)."""

from __future__ import annotations

from typing import Any

#: Two clients of the demo data (the same whatever the date).
CEDULA = "1018674163"
CEDULA_2 = "1074111024"

UPDATE_SCORE: dict[str, Any] = {
    "cedula": CEDULA,
    "event_type": "payment_made",
    "event_data": {"amount": 250000},
}
UPDATE_BATCH: dict[str, Any] = {"cedulas": [CEDULA, CEDULA_2]}
PREDICT: dict[str, Any] = {"cedula": CEDULA}

# answers (as the demo data gave them) ---------------------------------------------------------

_AT = "2026-11-30T03:25:32.485612+00:00"
UPDATED: dict[str, Any] = {
    "status": "success",
    "cedula": CEDULA,
    "event_type": "payment_made",
    "event_id": "update-score-b879ba15-e276-4182-a5b9-dad9881a7b08",
    "duplicate": False,
    "fresh": True,
    "platam_score": 893.23,
    "hybrid_score": 740.9,
    "scores": {
        "deterioration": 239.1,
        "hybrid": 740.9,
        "payment_performance": 514.13,
        "payment_plan": 140.0,
        "platam": 893.23,
    },
    "updated_at": _AT,
    "processing_time_ms": 12.09,
}
BATCHED: dict[str, Any] = {
    "total_processed": 2,
    "successful": 2,
    "failed": 0,
    "results": [
        {
            "cedula": CEDULA,
            "status": "success",
            "platam_score": 893.23,
            "hybrid_score": 740.9,
            "error": None,
        },
        {
            "cedula": CEDULA_2,
            "status": "success",
            "platam_score": 909.11,
            "hybrid_score": 708.79,
            "error": None,
        },
    ],
    "processing_time_ms": 6.27,
}
PREDICTED: dict[str, Any] = {
    "cedula": CEDULA,
    "platam_score": 893.23,
    "hybrid_score": 740.9,
    "ml_probability_default": None,
    "breakdown": {
        "hybrid": {"internal": 501.08, "bureau": 239.82},
        "platam": {"payment_performance": 514.13, "payment_plan": 140.0, "deterioration": 239.1},
    },
    "updated_at": _AT,
    "age_seconds": 0.027,
    "stale": False,
    "source": "database",
}
