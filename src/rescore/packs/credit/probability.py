"""``default_probability``: the chance (in %) that a client defaults within 12 months.

Seed 000 recomputes the ML prediction on every event with the same trained model, from 22
features in a fixed order. They are, in this order (:data:`FEATURES`)::

     1 num_planes            payment plans ever              (payment_plan features)
     2 tiene_plan_activo     an active plan now (0/1)
     3 tiene_plan_pendiente  a pending plan now (0/1)
     4 tiene_plan_default    a defaulted plan ever (0/1)
     5 payment_count         instalments due so far          (payment_performance features)
     6 months_as_client      whole months since client_since (hybrid features)
     7 pct_early             share of due instalments paid early
     8 pct_late              share of due instalments not paid on time
     9 creditos_mora         loans with an overdue or written-off instalment
    10 hist_neg_12m          bad marks in the last 12 months: instalments due then and not
                             paid on time, plans defaulted or cancelled then
    11 platam_score          0-1000
    12 hybrid_score          0-1000
    13 payment_performance_score  0-600
    14 payment_plan_score    0-150
    15 deterioration_score   0-250
    16 bureau_score          Experian/HCPN 150-950, 0 when the client has none ...
    17 has_bureau            ... and this says which (0/1)
    18 avg_days_late         mean days late of the instalments paid late
    19 max_days_late
    20 late_last_90d         instalments due in the last 90 days not paid on time
    21 on_time_streak        on-time instalments in a row, newest first
    22 active_loans

The value is the calibrated probability **in percent** (0-100), so the store's four decimals
keep a hundredth of a basis point and the breakdown adds up within the contract's tolerance;
seed 000's ``/predict`` answers it as ``ml_probability_default`` on the 0-1 scale.

The breakdown explains the prediction like Einstein's "fields that most influence this
score": ``baseline`` (the probability of the training population's average client) plus the
:data:`TOP` features that moved this client's probability most, each with its signed
contribution in percentage points, plus ``other_features`` for the rest. Contributions are
exact (:mod:`rescore.ml.explain`: coefficient x (value - mean) in log-odds for the logistic
regression, the trees' decision paths for gradient boosting), carried to the probability
scale through the Platt curve, so the components add up to the value.

The model is loaded once per process (per scorer instance), from the pack's ``models_dir``
when ``rescore ml train credit`` has saved one there, else from the model shipped in this
package (trained on the demo data, seed 7): every install scores out of the box, and a
lender's own model replaces it by training on its own outcomes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from rescore.exceptions import ScoringError
from rescore.packs.credit.records import (
    Outcome,
    as_of_of,
    outcome,
    payments_of,
    plans_of,
)
from rescore.scoring import Inputs, Scorer, ScoreResult

__all__ = [
    "DEPENDS_ON",
    "FEATURES",
    "MODEL_NAME",
    "TOP",
    "DefaultProbability",
    "candidate",
    "features_of",
    "load_explainer",
    "shipped_models_dir",
]

MODEL_NAME = "default_probability"
TOP = 5
DEPENDS_ON = ("payment_performance", "payment_plan", "deterioration", "platam", "hybrid")
FEATURES: tuple[str, ...] = (
    "num_planes",
    "tiene_plan_activo",
    "tiene_plan_pendiente",
    "tiene_plan_default",
    "payment_count",
    "months_as_client",
    "pct_early",
    "pct_late",
    "creditos_mora",
    "hist_neg_12m",
    "platam_score",
    "hybrid_score",
    "payment_performance_score",
    "payment_plan_score",
    "deterioration_score",
    "bureau_score",
    "has_bureau",
    "avg_days_late",
    "max_days_late",
    "late_last_90d",
    "on_time_streak",
    "active_loans",
)
_YEAR = timedelta(days=365)
_BAD = (Outcome.PAID_LATE, Outcome.OVERDUE, Outcome.DEFAULTED)


def shipped_models_dir() -> Path:
    """The folder of the model trained on the demo data, inside the installed package."""
    return Path(str(resources.files("rescore.packs.credit").joinpath("model")))


def _number(value: Any) -> float:
    return 0.0 if value is None else float(value)


def features_of(inputs: Inputs) -> dict[str, float]:
    """The 22 features of one client, from its inputs and the five upstream results."""
    performance = inputs["payment_performance"].features
    plan = inputs["payment_plan"].features
    hybrid = inputs["hybrid"].features
    bureau = hybrid.get("bureau_score")
    found: dict[str, Any] = {
        **{k: plan.get(k) for k in FEATURES[:4]},
        "payment_count": performance.get("payment_count"),
        "months_as_client": hybrid.get("months_as_client"),
        "pct_early": performance.get("pct_early"),
        "pct_late": performance.get("pct_late"),
        **_arrears(inputs),
        "platam_score": inputs["platam"].value,
        "hybrid_score": inputs["hybrid"].value,
        "payment_performance_score": inputs["payment_performance"].value,
        "payment_plan_score": inputs["payment_plan"].value,
        "deterioration_score": inputs["deterioration"].value,
        "bureau_score": bureau,
        "has_bureau": bureau is not None,
        **{k: performance.get(k) for k in FEATURES[17:]},
    }
    return {name: _number(found[name]) for name in FEATURES}


def _arrears(inputs: Inputs) -> dict[str, int]:
    as_of = as_of_of(inputs)
    since = as_of - _YEAR
    judged = [(p, outcome(p, as_of)) for p in payments_of(inputs)]
    in_arrears = {p.loan_id for p, o in judged if o in (Outcome.OVERDUE, Outcome.DEFAULTED)}
    bad_instalments = sum(1 for p, o in judged if o in _BAD and p.due_date > since)
    bad_plans = sum(
        1
        for plan in plans_of(inputs)
        if plan.status in ("defaulted", "cancelled") and plan.closed_on() > since
    )
    return {"creditos_mora": len(in_arrears), "hist_neg_12m": bad_instalments + bad_plans}


class DefaultProbability(Scorer):
    """Probability of default within 12 months (%), from the trained PD model."""

    name = "default_probability"
    version = "1.0.0"
    inputs = frozenset({"payments", "plans", "as_of"})
    depends_on = DEPENDS_ON
    max_value = 100.0
    description = "Calibrated probability (%) of default within 12 months, with its reasons."

    def __init__(self, models_dir: Path | None = None, *, fallback: bool = True) -> None:
        self.models_dir = models_dir
        self.fallback = fallback
        self._explainer: Any = None
        self._lock = threading.Lock()

    @property
    def explainer(self) -> Any:
        """The loaded model's explainer (loaded on first use, once per instance)."""
        if self._explainer is None:
            with self._lock:
                if self._explainer is None:
                    self._explainer = load_explainer(self.models_dir, fallback=self.fallback)
        return self._explainer

    def warm(self) -> None:
        """Load the model now (the pack's ``prepare``), not on the first event scored."""
        _ = self.explainer

    def score(self, inputs: Inputs) -> ScoreResult:
        features = features_of(inputs)
        explainer = self.explainer
        found = explainer.explain([features[name] for name in FEATURES])
        components = _components(found.probability, found.baseline, found.contributions)
        model = explainer.model
        return ScoreResult(
            value=round(100.0 * found.probability, 4),
            components=components,
            reasons=_reasons(components),
            features={
                **features,
                "model_version": model.version,
                "model": model.metrics.get("model"),
                "model_fingerprint": model.fingerprint[:12],
            },
        )


def candidate(models_dir: Path) -> DefaultProbability:
    """The scorer of the model retrained into ``models_dir`` (a folder named by its training
    data's fingerprint), offered as version ``1.0.0+model.<fingerprint>``: a release candidate
    to shadow, replay and promote (``rescore releases``), never live by itself."""
    version = f"{DefaultProbability.version}+model.{models_dir.name}"
    kind = type("DefaultProbabilityCandidate", (DefaultProbability,), {"version": version})
    found: DefaultProbability = kind(models_dir, fallback=False)
    return found


def load_explainer(models_dir: Path | None, *, fallback: bool = True) -> Any:
    """The trained model in ``models_dir`` if any, else (with ``fallback``) the shipped one,
    as an Explainer."""
    from rescore.ml import Explainer, TrainedClassifier, load_model

    for folder in (models_dir, shipped_models_dir() if fallback else None):
        if folder is None:
            continue
        model = load_model(folder, MODEL_NAME, TrainedClassifier, features=FEATURES)
        if model is not None:
            return Explainer(model)
    raise ScoringError(f"no {MODEL_NAME} model in {models_dir} nor in the package")


def _components(
    probability: float, baseline: float, contributions: Mapping[str, float]
) -> dict[str, float]:
    """Baseline, the :data:`TOP` strongest features and the rest, in percentage points,
    rounded so that they add up to the rounded value exactly (the baseline absorbs it)."""
    ranked = sorted(contributions, key=lambda k: (-abs(contributions[k]), k))
    top = {name: round(100.0 * contributions[name], 4) for name in ranked[:TOP]}
    other = round(100.0 * math.fsum(contributions[k] for k in ranked[TOP:]), 4)
    value = round(100.0 * probability, 4)
    base = round(value - math.fsum(top.values()) - other, 4)
    return {"baseline": base, **top, "other_features": other}


def _reasons(components: Mapping[str, float]) -> tuple[str, ...]:
    moved = [(k, v) for k, v in components.items() if k not in ("baseline", "other_features")]
    reasons = [f"average client: {components['baseline']:.2f}%"]
    for name, points in moved[:3]:
        verb = "raises" if points > 0 else "lowers"
        reasons.append(f"{name} {verb} it by {abs(points):.2f} points")
    return tuple(reasons)
