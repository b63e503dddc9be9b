"""T2-T4: seed 001's intelligence, measured with what the tenders pack supplies.

- **T2** semantic vs keyword alerts on the pack's labelled set (30 profiles x 145 tenders,
  173 relevant pairs): recall, precision and relevant matches of each, for the offline E5
  and MiniLM models when they are installed and for the hashing fallback always. The seed
  claims semantic alerts find at least twice the relevant matches keywords do; that is the
  goal.
- **T3** semantic match throughput: 10,000 subscriber profiles embedded into a
  :class:`rescore.vectors.VectorIndex` (usearch HNSW), then tenders embedded and searched in
  batches of 256, each against every profile, as the ``match`` scorer does; tenders/s end to
  end (embedding included) and for the index search alone.
- **T4** win probability: the pack's generator writes 24 months of Compra Ágil quotes; the
  seed's six features, :func:`rescore.ml.train_classifier_by_time` on the newest 100,000
  quotes (older 80% train, newest 20% test). Accuracy above 70% is the seed's bar; the
  accuracy of always answering "loses" is printed beside it, because most quotes lose.

The core never imports a pack: the pack is found by name and asked through the protocols here.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rescore.bench.report import Measurement
from rescore.embeddings import (
    E5Embedder,
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    e5_installed,
    minilm_installed,
)
from rescore.exceptions import RescoreError
from rescore.plugins import discover

__all__ = ["PROFILES", "alert_recall", "match_throughput", "win_probability"]

PROFILES = 10_000
GOAL_RATIO = 2.0
GOAL_ACCURACY = 0.70
BATCH = 256
#: T3's minimum similarity by embedder (the tenders pack's alert thresholds, rounded).
FLOORS = {"e5": 0.86, "minilm": 0.5, "hashing": 0.19}


@runtime_checkable
class _Intel(Protocol):
    """What the tenders pack offers the benchmarks (``TendersPack``)."""

    def alert_evaluation(self, embedder: Any) -> dict[str, Any]: ...

    def alert_workload(
        self, *, profiles: int, tenders: int, seed: int
    ) -> tuple[list[str], list[str]]: ...

    def win_evaluation(
        self, *, months: int, rows_per_month: int, seed: int, limit: int
    ) -> dict[str, Any]: ...


def _pack() -> _Intel | str:
    """The tenders pack, or why it cannot be benchmarked."""
    try:
        pack = discover(["tenders"])["tenders"]
    except RescoreError as exc:
        return f"the tenders pack is not installed ({exc})"
    return pack if isinstance(pack, _Intel) else "the tenders pack offers no intelligence"


def _embedders() -> list[tuple[str, Embedder]]:
    """Each installed embedder, by the prefix of its numbers."""
    found: list[tuple[str, Embedder]] = [("hashing", HashingEmbedder())]
    if minilm_installed():
        found.insert(0, ("minilm", MiniLMEmbedder()))
    if e5_installed():
        found.insert(0, ("e5", E5Embedder()))
    return found


def _skipped(id_: str, title: str, why: str) -> Measurement:
    return Measurement(id=id_, title=title, method="", skipped=why)


T2_TITLE = "semantic vs keyword alerts (seed 001: semantic finds >= 2x the relevant matches)"


def alert_recall() -> Measurement:
    """T2: both alert kinds on the labelled set, per embedder, on held-out halves."""
    pack = _pack()
    if isinstance(pack, str):
        return _skipped("T2", T2_TITLE, pack)
    numbers: dict[str, float] = {}
    ratios = []
    for prefix, embedder in _embedders():
        found = pack.alert_evaluation(embedder)["test"]
        numbers |= _alert_numbers(prefix, found)
        ratios.append(found["relevant_ratio"])
    return Measurement(
        id="T2",
        title=T2_TITLE,
        method=(
            "the pack's labelled set (30 profiles x 145 tenders, 173 relevant pairs); keyword "
            "alerts: the subscriber's keywords as whole words, accents/case/plurals folded; "
            "semantic: cosine of embeddings >= a threshold chosen (best F1) on the other half "
            "of the tenders, counts of both halves added; 'both' = a subscriber with both"
        ),
        numbers=numbers,
        goal=f"semantic relevant matches >= {GOAL_RATIO:g}x keyword's (every embedder)",
        met=min(ratios) >= GOAL_RATIO,
    )


def _alert_numbers(prefix: str, found: dict[str, Any]) -> dict[str, float]:
    out = {
        "keyword_recall": found["keyword"]["recall"],
        "keyword_precision": found["keyword"]["precision"],
        f"{prefix}_recall": found["semantic"]["recall"],
        f"{prefix}_precision": found["semantic"]["precision"],
        f"{prefix}_both_recall": found["both"]["recall"],
        f"{prefix}_both_precision": found["both"]["precision"],
        f"{prefix}_threshold": float(np.mean(found["thresholds"])),
        f"{prefix}_relevant_ratio": found["relevant_ratio"],
    }
    return out


T3_TITLE = f"semantic match throughput against {PROFILES:,} subscriber profiles"


def match_throughput(tenders: int = 2_000) -> Measurement:
    """T3: tenders/s embedded and searched against 10,000 indexed profiles."""
    from rescore.vectors import VectorIndex

    pack = _pack()
    if isinstance(pack, str):
        return _skipped("T3", T3_TITLE, pack)
    profiles, asked = pack.alert_workload(profiles=PROFILES, tenders=tenders, seed=1)
    numbers: dict[str, float] = {}
    for prefix, embedder in _embedders():
        count = tenders if prefix == "hashing" else min(tenders, 1_000)
        index = VectorIndex(embedder=embedder.name, dim=embedder.dim)
        started = time.perf_counter()
        index.add([f"p{i}" for i in range(len(profiles))], embedder.embed(profiles))
        numbers[f"{prefix}_index_s"] = time.perf_counter() - started
        numbers |= _searches(prefix, embedder, index, asked[:count])
    return Measurement(
        id="T3",
        title=T3_TITLE,
        method=(
            f"{PROFILES:,} profile sentences embedded into a usearch HNSW index (cosine); "
            f"tenders embedded and searched in batches of {BATCH} (k=500, min similarity "
            "0.19 hashing / 0.5 MiniLM / 0.86 E5): end to end and search alone; the models on "
            "1,000 tenders"
        ),
        numbers=numbers,
        goal=">= 100 tenders/s end to end (a day of Compra Ágil is a few thousand)",
        met=min(v for k, v in numbers.items() if k.endswith("_tenders_per_s")) >= 100,
    )


def _searches(prefix: str, embedder: Embedder, index: Any, texts: list[str]) -> dict[str, float]:
    floor = FLOORS[prefix]
    searching = 0.0
    matched = 0
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        vectors = embedder.embed(texts[start : start + BATCH])
        began = time.perf_counter()
        found = index.search_many(vectors, k=500, min_similarity=floor)
        searching += time.perf_counter() - began
        matched += sum(len(f) for f in found)
    total = time.perf_counter() - started
    return {
        f"{prefix}_tenders_per_s": len(texts) / total,
        f"{prefix}_search_only_per_s": len(texts) / searching if searching else 0.0,
        f"{prefix}_profiles_per_tender": matched / len(texts),
    }


T4_TITLE = "win probability on generated history, trained by time (seed 001: accuracy > 70%)"


def win_probability(months: int = 24, rows_per_month: int = 10_000) -> Measurement:
    """T4: the win model's holdout accuracy and AUC on the newest fifth."""
    pack = _pack()
    if isinstance(pack, str):
        return _skipped("T4", T4_TITLE, pack)
    started = time.perf_counter()
    found = pack.win_evaluation(months=months, rows_per_month=rows_per_month, seed=7, limit=100_000)
    holdout = found["holdout"]
    return Measurement(
        id="T4",
        title=T4_TITLE,
        method=(
            f"the pack's generator, {months} months x {rows_per_month:,} quotes, parsed by the "
            "importer's row parser; features from earlier days only; newest 100,000 quotes: "
            "older 80% train (model chosen by 3 forward-chaining folds, Platt-calibrated), "
            "newest 20% test"
        ),
        numbers={
            "history_rows": found["history_rows"],
            "holdout_quotes": holdout["samples"],
            "accuracy": holdout["accuracy"],
            "always_lose_accuracy": holdout["majority_accuracy"],
            "auc": holdout["auc"],
            "brier": holdout["brier"],
            "forward_cv_auc": found["cv_auc"],
            "train_s": time.perf_counter() - started,
        },
        goal=f"holdout accuracy > {GOAL_ACCURACY:.0%}",
        met=holdout["accuracy"] > GOAL_ACCURACY,
    )
