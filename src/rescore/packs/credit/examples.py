"""The examples the credit pack's contract routes document, on the demo data (seed 7)."""

from __future__ import annotations

from typing import Any

#: Two clients of the demo data (the same whatever the date).
CEDULA = "1001257568"
CEDULA_2 = "1000740529"

UPDATE_SCORE: dict[str, Any] = {
    "cedula": CEDULA,
    "event_type": "payment_made",
    "event_data": {"amount": 250000},
}
UPDATE_BATCH: dict[str, Any] = {"cedulas": [CEDULA, CEDULA_2]}
PREDICT: dict[str, Any] = {"cedula": CEDULA}

# answers (as the demo data gave them) ---------------------------------------------------------

UPDATED: dict[str, Any] = {
    "status": "success",
    "cedula": CEDULA,
    "event_type": "payment_made",
    "event_id": "update-score-453b0ab9-49bc-4918-adf5-0384e2feacbe",
    "duplicate": False,
    "fresh": True,
    "platam_score": 895.39,
    "hybrid_score": 805.1,
    "ml_probability_default": 0.039936,
    "scores": {
        "default_probability": 3.9936,
        "deterioration": 250.0,
        "hybrid": 805.1,
        "payment_performance": 495.39,
        "payment_plan": 150.0,
        "platam": 895.39,
    },
    "updated_at": "2026-11-30T03:46:47.758788+00:00",
    "processing_time_ms": 15.77,
}
BATCHED: dict[str, Any] = {
    "total_processed": 2,
    "successful": 2,
    "failed": 0,
    "results": [
        {
            "cedula": CEDULA,
            "status": "success",
            "platam_score": 895.39,
            "hybrid_score": 805.1,
            "error": None,
        },
        {
            "cedula": CEDULA_2,
            "status": "success",
            "platam_score": 845.59,
            "hybrid_score": 794.12,
            "error": None,
        },
    ],
    "processing_time_ms": 5.62,
}
PREDICTED: dict[str, Any] = {
    "cedula": CEDULA,
    "platam_score": 895.39,
    "hybrid_score": 805.1,
    "ml_probability_default": 0.039936,
    "breakdown": {
        "default_probability": {
            "baseline": 12.5572,
            "bureau_score": -1.8322,
            "hybrid_score": -1.6453,
            "max_days_late": -1.5956,
            "months_as_client": -1.4405,
            "hist_neg_12m": -1.4275,
            "other_features": -0.6225,
        },
        "hybrid": {"internal": 237.55, "bureau": 567.55},
        "platam": {"payment_performance": 495.39, "payment_plan": 150.0, "deterioration": 250.0},
    },
    "updated_at": "2026-11-30T03:46:47.789820+00:00",
    "age_seconds": 0.025,
    "stale": False,
    "source": "database",
}

#: ``GET /v1/packs/credit/drift`` (a quiet month on the demo data, abridged to two features).
DRIFT: dict[str, Any] = {
    "pack": "credit",
    "model": "default_probability",
    "model_version": "1.0.0",
    "model_fingerprint": "9c1f0e2d4b7a",
    "trained_at": "2026-01-23T08:00:00+00:00",
    "checked_at": "2026-02-01T05:00:00+00:00",
    "population": 1870,
    "psi": {
        "pct_late": {"psi": 0.0123, "band": "stable"},
        "hybrid_score": {"psi": 0.0087, "band": "stable"},
    },
    "probability_psi": {"psi": 0.0101, "band": "stable"},
    "outcomes": {
        "labelled_after": "2026-01-23",
        "count": 0,
        "defaults": 0,
        "training_auc": 0.7716,
        "auc": None,
        "auc_drop": None,
        "note": "needs 30 new labels of both outcomes for an AUC",
    },
    "alarms": [],
    "alarm": False,
}

ANALYTICS: dict[str, Any] = {
    "drift": DRIFT,
    "checks": [
        {
            "checked_at": "2026-02-01T05:00:00+00:00",
            "model_version": "1.0.0",
            "worst_feature": "pct_late",
            "worst_feature_psi": 0.0123,
            "probability_psi": 0.0101,
            "auc": None,
            "auc_drop": None,
            "alarm": False,
        }
    ],
}
