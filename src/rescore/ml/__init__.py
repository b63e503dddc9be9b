"""Machine learning beside the rule-based scorers: train, save safely, load safely, predict.

Models are saved with skops (never pickle) next to a JSON metadata file (version, features,
metrics, trained_at); loading refuses any type outside a short allowlist, so a tampered file
cannot run code. scikit-learn and skops come with the ``ml`` extra; this package imports them
only when used.

Example::

    model = train_forest(X, y, features)                 # RandomForest, 80/20 split, metrics
    save_model(model, Path(".rescore/models"), "leads")  # leads.skops + leads.json
    loaded = load_model(Path(".rescore/models"), "leads")
    scores, spread = loaded.predict(X)                   # prediction and spread of the trees
"""

from __future__ import annotations

from rescore.ml.forest import TrainedModel, train_forest
from rescore.ml.store import TRUSTED_TYPES, load_model, model_paths, save_model

__all__ = [
    "TRUSTED_TYPES",
    "TrainedModel",
    "load_model",
    "model_paths",
    "save_model",
    "train_forest",
]
