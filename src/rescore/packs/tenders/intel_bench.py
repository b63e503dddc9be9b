"""What ``rescore bench`` asks of the tenders pack for T2-T4 (the core measures, the pack
supplies its data): the labelled alert comparison, realistic profile and tender texts at any
count, and the win model trained by time on generated history.

Example::

    profiles, tenders = workload(profiles=10_000, tenders=2_000, seed=1)
    found = win_evaluation(months=24, rows_per_month=10_000, seed=7)
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import polars as pl

from rescore.embeddings import Embedder
from rescore.packs.tenders import win
from rescore.packs.tenders.catalog import CATEGORIES, organisations
from rescore.packs.tenders.cotfile import COLUMNS
from rescore.packs.tenders.evaluation import compare, load_set
from rescore.packs.tenders.generator import World, month_rows, months_back
from rescore.packs.tenders.rows import Rejected, parse_row
from rescore.packs.tenders.schema import history

__all__ = ["alert_evaluation", "generated_history", "win_evaluation", "workload"]

_SELLERS = (
    "Distribuidor autorizado",
    "Empresa regional",
    "Pyme con despacho a todo Chile",
    "Proveedor del Estado",
    "Importadora directa",
)


def alert_evaluation(embedder: Embedder) -> dict[str, Any]:
    """Semantic vs keyword alerts on the labelled set (:func:`.evaluation.compare`)."""
    return compare(load_set(), embedder)


def workload(*, profiles: int, tenders: int, seed: int) -> tuple[list[str], list[str]]:
    """``profiles`` subscriber sentences and ``tenders`` tender texts, varied from the labelled
    set and the generator's catalogue (products with their synonyms, real organisations)."""
    rng = random.Random(seed)
    data = load_set()
    sentences = list(data.sentences.values())
    regions = sorted({o.region for o in organisations()})
    said = [
        f"{rng.choice(_SELLERS)}: {rng.choice(sentences).lower()}, {rng.choice(regions)}"
        for _ in range(profiles)
    ]
    names = [n for c in CATEGORIES for p in c.products for n in p.names]
    buyers = organisations()
    texts = list(data.tenders.values())
    asked = [
        f"{rng.choice(texts)}. Adquisición de {rng.choice(names).lower()} para "
        f"{rng.choice(buyers).name}"
        for _ in range(tenders)
    ]
    return said, asked


def generated_history(*, months: int, rows_per_month: int, seed: int, last: date) -> pl.DataFrame:
    """The generator's rows, checked by the importer's own row parser, as a frame with
    ``historico_licitaciones``'s columns (no database: the benchmark measures the model)."""
    world = World.build(seed)
    parsed = []
    for month in months_back(last, months):
        for row in month_rows(world, month, rows_per_month):
            try:
                parsed.append(parse_row(dict(zip(COLUMNS, map(str, row), strict=True)), month))
            except Rejected:
                continue
    return pl.DataFrame(parsed, schema=[c.name for c in history.columns], orient="row")


def win_evaluation(*, months: int, rows_per_month: int, seed: int, limit: int) -> dict[str, Any]:
    """The win model trained by time on generated history: its metrics, and the sizes."""
    frame = generated_history(
        months=months, rows_per_month=rows_per_month, seed=seed, last=date(2026, 10, 1)
    )
    model = win.train_frame(frame, limit=limit)
    return {"history_rows": frame.height, **model.metrics}
