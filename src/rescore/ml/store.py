"""Save and load models safely: skops for the estimator, JSON for its metadata.

``<dir>/<name>.skops`` holds the pipeline, ``<dir>/<name>.json`` its version, features,
metrics and training time. :func:`load_model` asks skops which types in the file are not
trusted by default and refuses the file unless every one of them is in
:data:`TRUSTED_TYPES` (a random forest needs only scikit-learn's ``Tree``): no pickle, no
arbitrary object.
"""

from __future__ import annotations

import json
from pathlib import Path

from rescore.exceptions import ScoringError
from rescore.ml.forest import TrainedModel

__all__ = ["TRUSTED_TYPES", "load_model", "model_paths", "save_model"]

TRUSTED_TYPES = frozenset({"sklearn.tree._tree.Tree"})


def model_paths(directory: Path, name: str) -> tuple[Path, Path]:
    """Where a model and its metadata live."""
    return directory / f"{name}.skops", directory / f"{name}.json"


def save_model(model: TrainedModel, directory: Path, name: str) -> Path:
    """Write the model and its metadata (model first, so metadata never names a missing file)."""
    import skops.io as sio  # type: ignore[import-untyped]

    directory.mkdir(parents=True, exist_ok=True)
    path, meta = model_paths(directory, name)
    tmp = path.with_suffix(".skops.tmp")
    sio.dump(model.pipeline, tmp)
    tmp.replace(path)
    meta.write_text(json.dumps(model.metadata(), indent=2, sort_keys=True))
    return path


def load_model(directory: Path, name: str) -> TrainedModel | None:
    """The saved model, or None when there is none; refuses a file with untrusted types."""
    import skops.io as sio

    path, meta = model_paths(directory, name)
    if not path.exists() or not meta.exists():
        return None
    untrusted = set(sio.get_untrusted_types(file=path))
    refused = untrusted - TRUSTED_TYPES
    if refused:
        raise ScoringError(f"{path} holds types that are not trusted: {sorted(refused)}")
    pipeline = sio.load(path, trusted=sorted(untrusted))
    data = json.loads(meta.read_text())
    return TrainedModel(
        pipeline=pipeline,
        features=list(data["features"]),
        version=str(data["version"]),
        metrics=dict(data.get("metrics", {})),
        trained_at=str(data.get("trained_at", "")),
    )
