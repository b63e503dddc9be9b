"""Semantic vs keyword alerts on a labelled set: seed 001's "at least 2x more relevant matches".

The set (``data/evaluacion_alertas.yaml``) has 30 subscriber profiles, each written twice as a
subscriber would (a sentence for a semantic alert, the keywords for a keyword alert), and 145
tenders, each with the profiles that should hear about it: 4,350 judged pairs, 173 relevant.

Both kinds are measured on the same pairs: **recall** (relevant pairs found / relevant pairs),
**precision** (relevant pairs found / pairs found) and the relevant matches each finds, whose
ratio is the seed's claim; ``both`` is a subscriber holding both profiles (the union). The
semantic threshold is not tuned on the pairs it is judged on: tenders are split in two halves
(odd and even positions); the threshold that maximises F1 on the first half is judged on the
second, and the other way round (``test`` adds the two up). The pack's default threshold for
an embedder is the one chosen on the whole set
(:data:`rescore.packs.tenders.alerts.DEFAULT_THRESHOLDS` records it).

Example::

    found = compare(load_set(), default_embedder())
    found["test"]["semantic"]["recall"], found["test"]["keyword"]["recall"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from rescore.embeddings import Embedder
from rescore.packs.tenders.matching import KeywordIndex

__all__ = ["EvaluationSet", "Scores", "compare", "keyword_pairs", "load_set", "semantic_pairs"]

Pair = tuple[str, str]
#: Thresholds tried when choosing one (cosine similarity).
GRID = np.round(np.arange(0.05, 0.91, 0.01), 2)


@dataclass(frozen=True, kw_only=True, slots=True)
class EvaluationSet:
    """Profiles (id -> sentence, id -> keywords), tenders (id -> text) and relevant pairs."""

    sentences: dict[str, str]
    keywords: dict[str, list[str]]
    tenders: dict[str, str]
    relevant: frozenset[Pair]

    def half(self, which: int) -> EvaluationSet:
        """Every other tender (``which`` 0 or 1), with its relevant pairs."""
        kept = {t: text for i, (t, text) in enumerate(self.tenders.items()) if i % 2 == which}
        return EvaluationSet(
            sentences=self.sentences,
            keywords=self.keywords,
            tenders=kept,
            relevant=frozenset(p for p in self.relevant if p[0] in kept),
        )


def load_set() -> EvaluationSet:
    """The labelled set shipped in the package."""
    path = resources.files("rescore.packs.tenders").joinpath("data/evaluacion_alertas.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return EvaluationSet(
        sentences={p["id"]: p["descripcion"] for p in data["perfiles"]},
        keywords={p["id"]: list(p["palabras_clave"]) for p in data["perfiles"]},
        tenders={t["id"]: t["texto"] for t in data["licitaciones"]},
        relevant=frozenset((t["id"], p) for t in data["licitaciones"] for p in t["relevantes"]),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Scores:
    """How one alert kind did on a set."""

    found: int
    relevant_found: int
    relevant: int

    @property
    def recall(self) -> float:
        return self.relevant_found / self.relevant if self.relevant else 0.0

    @property
    def precision(self) -> float:
        return self.relevant_found / self.found if self.found else 0.0

    @property
    def f1(self) -> float:
        total = self.recall + self.precision
        return 2 * self.recall * self.precision / total if total else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "f1": round(self.f1, 4),
            "found": self.found,
            "relevant_found": self.relevant_found,
            "relevant": self.relevant,
        }


def _scores(found: set[Pair], relevant: frozenset[Pair]) -> Scores:
    return Scores(found=len(found), relevant_found=len(found & relevant), relevant=len(relevant))


def keyword_pairs(data: EvaluationSet) -> set[Pair]:
    """The pairs keyword alerts find."""
    index = KeywordIndex.of(data.keywords.items())
    return {(t, p) for t, text in data.tenders.items() for p in index.matches(text)}


def similarity_matrix(data: EvaluationSet, embedder: Embedder) -> npt.NDArray[np.float32]:
    """Cosine of every tender (rows, in order) with every profile sentence (columns)."""
    tenders = embedder.embed(list(data.tenders.values()))
    profiles = embedder.embed(list(data.sentences.values()))
    return np.asarray(tenders @ profiles.T, dtype=np.float32)


def semantic_pairs(
    data: EvaluationSet, similarity: npt.NDArray[np.float32], threshold: float
) -> set[Pair]:
    """The pairs semantic alerts find at ``threshold``."""
    tenders, profiles = list(data.tenders), list(data.sentences)
    rows, cols = np.nonzero(similarity >= threshold)
    return {(tenders[i], profiles[j]) for i, j in zip(rows.tolist(), cols.tolist(), strict=True)}


def best_threshold(data: EvaluationSet, similarity: npt.NDArray[np.float32]) -> float:
    """The threshold of :data:`GRID` with the highest F1 on ``data`` (the lowest on ties)."""
    f1 = [_scores(semantic_pairs(data, similarity, t), data.relevant).f1 for t in GRID]
    return float(GRID[int(np.argmax(f1))])


def _rows(data: EvaluationSet, part: EvaluationSet, similarity: npt.NDArray[Any]) -> Any:
    keep = [i for i, t in enumerate(data.tenders) if t in part.tenders]
    return similarity[keep]


def _judge(part: EvaluationSet, similarity: npt.NDArray[Any], threshold: float) -> dict[str, Any]:
    words, meaning = keyword_pairs(part), semantic_pairs(part, similarity, threshold)
    keyword, semantic = _scores(words, part.relevant), _scores(meaning, part.relevant)
    ratio = semantic.relevant_found / keyword.relevant_found if keyword.relevant_found else 0.0
    return {
        "threshold": threshold,
        "keyword": keyword.as_dict(),
        "semantic": semantic.as_dict(),
        "both": _scores(words | meaning, part.relevant).as_dict(),
        "relevant_ratio": round(ratio, 3),
    }


def compare(data: EvaluationSet, embedder: Embedder) -> dict[str, Any]:
    """Keyword and semantic alerts on ``data``: on each half at the threshold chosen on the
    other (``test`` adds both halves up), and on the whole at the threshold chosen on it."""
    similarity = similarity_matrix(data, embedder)
    halves = [data.half(0), data.half(1)]
    judged = []
    for chosen_on, judged_on in ((halves[0], halves[1]), (halves[1], halves[0])):
        threshold = best_threshold(chosen_on, _rows(data, chosen_on, similarity))
        judged.append(_judge(judged_on, _rows(data, judged_on, similarity), threshold))
    whole = best_threshold(data, similarity)
    return {
        "embedder": embedder.name,
        "pairs": len(data.tenders) * len(data.sentences),
        "relevant": len(data.relevant),
        "test": _added(judged),
        "whole": _judge(data, similarity, whole),
    }


def _added(judged: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Both held-out halves as one result (counts added, rates recomputed)."""
    out: dict[str, Any] = {"thresholds": [j["threshold"] for j in judged]}
    for kind in ("keyword", "semantic", "both"):
        found = Scores(
            found=sum(j[kind]["found"] for j in judged),
            relevant_found=sum(j[kind]["relevant_found"] for j in judged),
            relevant=sum(j[kind]["relevant"] for j in judged),
        )
        out[kind] = found.as_dict()
    keyword = out["keyword"]["relevant_found"]
    out["relevant_ratio"] = (
        round(out["semantic"]["relevant_found"] / keyword, 3) if keyword else 0.0
    )
    return out
