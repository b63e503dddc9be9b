"""Is the probability-of-default model still right? Seed 000's monthly drift check.

Two questions, against what the model saved at training time:

* **Has the population moved?** The PSI of each of the 22 features and of the predicted
  probability, over every client in the source now, against the training distributions
  (bands: below 0.1 stable, 0.1-0.25 watch, above 0.25 shifted).
* **Does it still rank?** The AUC on the outcomes labelled since the training labels (the
  model's ``labelled_until``), against the training AUC (the out-of-fold cross-validated
  one). The drop is relative: seed 000 alerts "if AUC drops more than 5%", so
  ``(training - now) / training > 0.05``. Fewer than :data:`MIN_LABELS` new labels, or new
  labels of one outcome only, give no AUC (said in the report), never a false alarm.

The report is stored as JSON beside the model (``default_probability.drift.json``, the latest;
``default_probability.drift.jsonl``, one line per check) and shown by ``rescore ml drift
credit`` and ``GET /v1/packs/credit/drift``. When it alarms, the check ingests a
``model_drift`` event (lane none) for the entity ``model:default_probability``, and the
pack's ``credit.model_drift`` rule tells Slack.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection

from rescore.ml.metrics import PSI_SHIFTED, Reference, auc, band, psi
from rescore.packs.credit.probability import FEATURES, MODEL_NAME
from rescore.packs.credit.training import feature_matrix, labelled

if TYPE_CHECKING:
    from rescore.ml import TrainedClassifier
    from rescore.packs.credit.pack import CreditPack

__all__ = [
    "AUC_DROP_ALARM",
    "DRIFT_ENTITY",
    "MIN_LABELS",
    "check",
    "drift_event",
    "latest_report",
    "report_paths",
    "save_report",
]

AUC_DROP_ALARM = 0.05
MIN_LABELS = 30
DRIFT_ENTITY = f"model:{MODEL_NAME}"


def check(
    pack: CreditPack, conn: Connection, model: TrainedClassifier, *, now: datetime
) -> dict[str, Any]:
    """The drift report of ``model`` over the source behind ``conn``."""
    cedulas, x = feature_matrix(pack, conn, list(pack.entity_keys(conn)))
    reference = model.reference
    features = {
        name: _psi(Reference.from_dict(reference["features"][name]), x[:, j])
        for j, name in enumerate(FEATURES)
    }
    probability = _psi(Reference.from_dict(reference["probability"]), model.predict_proba(x))
    outcomes = _outcomes(pack, conn, model)
    report = {
        "pack": pack.name,
        "model": MODEL_NAME,
        "model_version": model.version,
        "model_fingerprint": model.fingerprint,
        "trained_at": model.trained_at,
        "checked_at": now.isoformat(),
        "population": len(cedulas),
        "psi": features,
        "probability_psi": probability,
        "outcomes": outcomes,
    }
    report["alarms"] = _alarms(features, probability, outcomes)
    report["alarm"] = bool(report["alarms"])
    return report


def _psi(reference: Reference, values: Any) -> dict[str, Any]:
    value = round(psi(reference, values), 4) if len(values) else 0.0
    return {"psi": value, "band": band(value)}


def _outcomes(pack: CreditPack, conn: Connection, model: TrainedClassifier) -> dict[str, Any]:
    since = _date(model.metrics.get("labelled_until"))
    data = labelled(pack, conn, after=since)
    training = float(model.metrics["cv_auc"])
    found: dict[str, Any] = {
        "labelled_after": None if since is None else since.isoformat(),
        "count": len(data.y),
        "defaults": int(data.y.sum()),
        "training_auc": training,
        "auc": None,
        "auc_drop": None,
    }
    if len(data.y) < MIN_LABELS or len(np.unique(data.y)) < 2:
        found["note"] = f"needs {MIN_LABELS} new labels of both outcomes for an AUC"
        return found
    now = auc(data.y, model.predict_proba(data.x))
    found["auc"] = round(now, 4)
    found["auc_drop"] = round((training - now) / training, 4)
    return found


def _date(text: Any) -> date | None:
    return None if text in (None, "None", "") else date.fromisoformat(str(text))


def _alarms(
    features: dict[str, dict[str, Any]], probability: dict[str, Any], outcomes: dict[str, Any]
) -> list[str]:
    alarms = [
        f"PSI of {name} is {found['psi']:.3f} (> {PSI_SHIFTED})"
        for name, found in features.items()
        if found["psi"] > PSI_SHIFTED
    ]
    if probability["psi"] > PSI_SHIFTED:
        alarms.append(f"PSI of the predicted probability is {probability['psi']:.3f}")
    drop = outcomes["auc_drop"]
    if drop is not None and drop > AUC_DROP_ALARM:
        alarms.append(
            f"AUC fell {drop:.1%}: {outcomes['auc']:.3f} on {outcomes['count']} new labels "
            f"vs {outcomes['training_auc']:.3f} at training"
        )
    return alarms


def report_paths(models_dir: Path) -> tuple[Path, Path]:
    """The latest report and the one-line-per-check history."""
    return models_dir / f"{MODEL_NAME}.drift.json", models_dir / f"{MODEL_NAME}.drift.jsonl"


def save_report(report: dict[str, Any], models_dir: Path) -> Path:
    """Store the report as the latest (atomically) and append it to the history."""
    latest, history = report_paths(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = latest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True))
    tmp.replace(latest)
    with history.open("a") as handle:
        handle.write(json.dumps(report, sort_keys=True) + "\n")
    return latest


def latest_report(models_dir: Path) -> dict[str, Any] | None:
    """The last stored report, or None before the first check."""
    latest, _ = report_paths(models_dir)
    if not latest.exists():
        return None
    found: dict[str, Any] = json.loads(latest.read_text())
    return found


def recent_reports(models_dir: Path, limit: int = 12) -> list[dict[str, Any]]:
    """The last ``limit`` checks, newest first, each summed up in one line: when, the largest
    feature PSI, the probability's PSI, the AUC on new outcomes, and whether it alarmed."""
    _, history = report_paths(models_dir)
    if not history.exists():
        return []
    lines = history.read_text().splitlines()[-limit:]
    return [_summary(json.loads(line)) for line in reversed(lines) if line.strip()]


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    psi = report.get("psi", {})
    worst = min(psi, key=lambda name: (-psi[name]["psi"], name), default=None)  # ties: by name
    outcomes = report.get("outcomes", {})
    return {
        "checked_at": report.get("checked_at"),
        "model_version": report.get("model_version"),
        "worst_feature": worst,
        "worst_feature_psi": psi[worst]["psi"] if worst else None,
        "probability_psi": report.get("probability_psi", {}).get("psi"),
        "auc": outcomes.get("auc"),
        "auc_drop": outcomes.get("auc_drop"),
        "alarm": bool(report.get("alarm")),
    }


def drift_event(report: dict[str, Any], due: datetime) -> dict[str, Any]:
    """The ``model_drift`` event announcing an alarming report (one per check time)."""
    worst = max(report["psi"].items(), key=lambda kv: kv[1]["psi"])
    return {
        "event_id": f"model_drift:{MODEL_NAME}:{due.isoformat()}",
        "type": "model_drift",
        "entity": DRIFT_ENTITY,
        "occurred_at": due,
        "pack": report["pack"],
        "payload": {
            "model_version": report["model_version"],
            "alarms": "; ".join(report["alarms"]),
            "auc": report["outcomes"]["auc"],
            "auc_drop": report["outcomes"]["auc_drop"],
            "probability_psi": report["probability_psi"]["psi"],
            "max_psi_feature": worst[0],
            "max_psi": worst[1]["psi"],
        },
    }
