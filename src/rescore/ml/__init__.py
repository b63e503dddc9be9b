"""Machine learning beside the rule-based scorers: train, save safely, load safely, predict,
explain, and watch for drift.

Models are saved with skops (never pickle) next to a JSON metadata file (version, features,
metrics, trained_at); loading refuses any type outside a short allowlist, so a tampered file
cannot run code, and refuses a model trained on other features than the caller sends.
scikit-learn and skops come with the ``ml`` extra; this package imports them only when used.

Example::

    model = train_classifier(x, y, features)             # CV-chosen, Platt-calibrated
    save_model(model, Path(".rescore/models"), "pd")     # pd.skops + pd.json
    loaded = load_model(Path(".rescore/models"), "pd", TrainedClassifier, features=features)
    Explainer(loaded).explain(row)                       # probability = baseline + parts

    model = train_classifier_by_time(x, y, features, order=dates)   # older -> newer holdout
    forest = train_forest(X, y, features)                # seed 002's regressor, 80/20 split
"""

from __future__ import annotations

from rescore.ml.classifier import TrainedClassifier, train_classifier
from rescore.ml.explain import Explainer, Explanation
from rescore.ml.forest import TrainedModel, train_forest
from rescore.ml.metrics import Reference, psi, summary
from rescore.ml.store import TRUSTED_TYPES, check_features, load_model, model_paths, save_model
from rescore.ml.temporal import accuracy, time_split, train_classifier_by_time

__all__ = [
    "TRUSTED_TYPES",
    "Explainer",
    "Explanation",
    "Reference",
    "TrainedClassifier",
    "TrainedModel",
    "accuracy",
    "check_features",
    "load_model",
    "model_paths",
    "psi",
    "save_model",
    "summary",
    "time_split",
    "train_classifier",
    "train_classifier_by_time",
    "train_forest",
]
