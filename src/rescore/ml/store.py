"""Save and load models safely: skops for the estimator, JSON for its metadata.

One way for every model of every pack: ``<dir>/<name>.skops`` holds the fitted scikit-learn
pipeline, ``<dir>/<name>.json`` what is known about it (version, feature order, metrics, and
for classifiers the calibration, training fingerprint, drift reference and library versions).
:func:`load_model` asks skops which types in the file are not trusted by default and refuses
the file unless every one of them is in :data:`TRUSTED_TYPES` (a tree ensemble needs only
scikit-learn's ``Tree``): no pickle, no arbitrary object. Given the feature order the caller
will send, it also refuses a model trained on other features, naming the difference, rather
than predicting from columns in the wrong places.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

from rescore.exceptions import ScoringError
from rescore.ml.forest import TrainedModel

__all__ = [
    "TRUSTED_TYPES",
    "SavedModel",
    "check_features",
    "load_model",
    "model_paths",
    "save_model",
]

TRUSTED_TYPES = frozenset({"sklearn.tree._tree.Tree"})


class SavedModel(Protocol):
    """What :func:`save_model` and :func:`load_model` need of a model class."""

    pipeline: Any
    features: list[str]

    def metadata(self) -> dict[str, Any]: ...

    @classmethod
    def from_saved(cls, pipeline: Any, data: dict[str, Any]) -> Self: ...


M = TypeVar("M", bound=SavedModel)


def model_paths(directory: Path, name: str) -> tuple[Path, Path]:
    """Where a model and its metadata live."""
    return directory / f"{name}.skops", directory / f"{name}.json"


def save_model(model: SavedModel, directory: Path, name: str) -> Path:
    """Write the model and its metadata (model first, so metadata never names a missing file)."""
    import skops.io as sio  # type: ignore[import-untyped]

    directory.mkdir(parents=True, exist_ok=True)
    path, meta = model_paths(directory, name)
    tmp = path.with_suffix(".skops.tmp")
    sio.dump(model.pipeline, tmp)
    tmp.replace(path)
    tmp_meta = meta.with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps(model.metadata(), indent=2, sort_keys=True))
    tmp_meta.replace(meta)
    return path


def load_model(
    directory: Path,
    name: str,
    kind: type[M] = TrainedModel,  # type: ignore[assignment]
    *,
    features: Sequence[str] | None = None,
) -> M | None:
    """The saved model as ``kind``, or None when there is none.

    Refuses a file with untrusted types, and (when ``features`` is given) a model whose
    feature order differs from ``features``.
    """
    import skops.io as sio

    path, meta = model_paths(directory, name)
    if not path.exists() or not meta.exists():
        return None
    data = json.loads(meta.read_text())
    if features is not None:
        check_features(path, list(data.get("features", [])), list(features))
    untrusted = set(sio.get_untrusted_types(file=path))
    refused = untrusted - TRUSTED_TYPES
    if refused:
        raise ScoringError(f"{path} holds types that are not trusted: {sorted(refused)}")
    pipeline = sio.load(path, trusted=sorted(untrusted))
    return kind.from_saved(pipeline, data)


def check_features(path: Path, saved: list[str], expected: list[str]) -> None:
    """Raise :class:`ScoringError` saying how ``saved`` differs from ``expected``."""
    if saved == expected:
        return
    missing = [f for f in expected if f not in saved]
    extra = [f for f in saved if f not in expected]
    detail = (
        f"missing {missing}, unexpected {extra}"
        if missing or extra
        else "the same names in another order"
    )
    raise ScoringError(
        f"{path} was trained on other features than this code sends ({detail}): "
        "retrain it (rescore ml train)"
    )
