"""Train the probability-of-default model on the labelled outcomes in the credit source.

A client's label is its newest row in ``credit_outcomes`` (did it default within the horizon
after ``observed_from``); its features are the 22 of :mod:`rescore.packs.credit.probability`,
computed from the source as it is now, by the same scorers and the same code the engine runs,
so training and serving cannot disagree. ``rescore ml train credit`` runs :func:`train`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from rescore.exceptions import ConfigurationError
from rescore.packs.credit.blend import all_scorers
from rescore.packs.credit.probability import (
    DEPENDS_ON,
    FEATURES,
    MODEL_NAME,
    candidate,
    features_of,
)
from rescore.packs.credit.schema import outcomes
from rescore.population import DatabaseSource, Source
from rescore.scoring import ScorerGraph, evaluate

if TYPE_CHECKING:
    from rescore.packs.credit.pack import CreditPack

__all__ = ["CANDIDATES", "Labelled", "candidate_dirs", "feature_matrix", "labels", "train"]

MODEL_VERSION = "1.0.0"


@dataclass(frozen=True, kw_only=True, slots=True)
class Labelled:
    """Clients with an outcome: their features (rows in FEATURES order) and labels."""

    cedulas: list[str]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.int8]
    labelled_until: date | None


def labels(
    conn: Connection, *, after: date | None = None, until: date | None = None
) -> dict[str, tuple[bool, date]]:
    """Each client's newest outcome labelled in ``(after, until]``: ``{cedula: (defaulted,
    labelled_at)}``."""
    query = select(outcomes.c.cedula, outcomes.c.defaulted, outcomes.c.labelled_at)
    if after is not None:
        query = query.where(outcomes.c.labelled_at > after)
    if until is not None:
        query = query.where(outcomes.c.labelled_at <= until)
    query = query.order_by(outcomes.c.cedula, outcomes.c.labelled_at, outcomes.c.id)
    return {row.cedula: (bool(row.defaulted), row.labelled_at) for row in conn.execute(query)}


def feature_matrix(
    pack: CreditPack, conn: Connection, cedulas: Sequence[str]
) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The 22 features of the clients found in the source, computed as the engine does."""
    graph = ScorerGraph(pack.name, all_scorers())
    inputs = pack.load_inputs(conn, cedulas, graph.parts(graph.plan(DEPENDS_ON)))
    found = [c for c in cedulas if c in inputs]
    rows = []
    for cedula in found:
        results = evaluate(graph, inputs[cedula], DEPENDS_ON)
        features = features_of({**inputs[cedula], **results})
        rows.append([features[name] for name in FEATURES])
    return found, np.asarray(rows, dtype=np.float64).reshape(len(found), len(FEATURES))


def labelled(
    pack: CreditPack,
    conn: Connection,
    *,
    after: date | None = None,
    until: date | None = None,
    limit: int | None = None,
) -> Labelled:
    """Features and labels of the clients labelled in ``(after, until]`` (first ``limit``)."""
    found = labels(conn, after=after, until=until)
    cedulas = sorted(found)[:limit]
    kept, x = feature_matrix(pack, conn, cedulas)
    y = np.asarray([found[c][0] for c in kept], dtype=np.int8)
    until_ = max((found[c][1] for c in kept), default=None)
    return Labelled(cedulas=kept, x=x, y=y, labelled_until=until_)


def _database(source: Source) -> DatabaseSource:
    if not isinstance(source, DatabaseSource):
        raise ConfigurationError(
            "the credit model trains on the source database's credit_outcomes, not on Parquet"
        )
    return source


#: Where retrained models wait as release candidates, one folder per training fingerprint.
CANDIDATES = "candidates"


def candidate_dirs(models_dir: Path) -> list[Path]:
    """The retrained models' folders under ``models_dir``, oldest name first."""
    root = models_dir / CANDIDATES
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if (d / f"{MODEL_NAME}.json").exists())


def train(
    pack: CreditPack,
    source: Source,
    models_dir: Path,
    *,
    limit: int | None = None,
    live: bool = False,
) -> dict[str, Any]:
    """Train on the labelled clients (first ``limit`` by cédula). The model is saved as a
    release candidate (``models_dir/candidates/<fingerprint>``, scorer version
    ``1.0.0+model.<fingerprint>``) to shadow, replay and promote; ``live`` instead replaces
    the model that version 1.0.0 loads (a first model, before any score is served)."""
    from rescore.ml import save_model, train_classifier

    with _database(source).database.read() as conn:
        data = labelled(pack, conn, until=pack.today(), limit=limit)
    model = train_classifier(data.x, data.y, FEATURES, version=MODEL_VERSION)
    model.metrics["labelled_until"] = str(data.labelled_until)
    folder = models_dir if live else models_dir / CANDIDATES / model.fingerprint[:12]
    path = save_model(model, folder, MODEL_NAME)
    release = MODEL_VERSION if live else candidate(folder).version
    return {**model.metadata(), "path": str(path), "release_version": release, "live": live}
