"""The content pack's scorers: where each lesson stands in the pipeline, and how sure its
classification is. Both read the pack's state table (the truth) through the loader, so the
engine keeps their history: every state a lesson went through, with the event that moved it.

- ``pipeline`` (0-100): the steps finished: download 25, analysis and storage 35, sync 25,
  done 15. A failed lesson keeps the points of the steps it finished; the reasons say the
  state, the attempts and the last error.
- ``classification`` (0-100): the analyser's confidence in the lesson's school (0 before the
  lesson is analysed); the school, level and keywords are its features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rescore.scoring import Inputs, Scorer, ScoreResult

__all__ = ["ClassificationScore", "PipelineScore", "scorers"]

#: Points per finished step, and which stage finishes it (they add up to 100).
STEP_POINTS = {"download": 25.0, "analysis": 35.0, "sync": 25.0, "done": 15.0}
_REACHED = {
    "none": (),
    "downloaded": ("download",),
    "stored": ("download", "analysis"),
    "synced": ("download", "analysis", "sync"),
    "done": ("download", "analysis", "sync", "done"),
}


class PipelineScore(Scorer):
    """How far through the pipeline a lesson is, 0-100 (100: analysed, stored, synced)."""

    name = "pipeline"
    version = "1"
    inputs = frozenset({"lesson"})
    max_value = 100.0

    def score(self, inputs: Inputs) -> ScoreResult:
        lesson: Mapping[str, Any] = inputs["lesson"]
        reached = _REACHED[lesson["stage"]]
        components = {step: (STEP_POINTS[step] if step in reached else 0.0) for step in STEP_POINTS}
        return ScoreResult(
            value=sum(components.values()),
            components=components,
            reasons=_reasons(lesson),
            features={
                "state": lesson["state"],
                "stage": lesson["stage"],
                "attempts": int(lesson["attempts"]),
                "dead": bool(lesson["dead"]),
                "course": lesson["course_title"],
                "title": lesson["title"],
            },
        )


def _reasons(lesson: Mapping[str, Any]) -> tuple[str, ...]:
    reasons = [f"state {lesson['state']}"]
    if lesson["dead"]:
        reasons.append(f"dead letter after {lesson['attempts']} attempts")
    elif lesson["state"] == "failed":
        reasons.append(f"failed {lesson['attempts']} time(s); retried at the next run")
    if lesson["last_error"]:
        reasons.append(f"last error: {str(lesson['last_error'])[:200]}")
    return tuple(reasons)


class ClassificationScore(Scorer):
    """How sure the analyser is of the lesson's school, 0-100; school, level and keywords in
    the features."""

    name = "classification"
    version = "1"
    inputs = frozenset({"document"})
    max_value = 100.0

    def score(self, inputs: Inputs) -> ScoreResult:
        doc: Mapping[str, Any] | None = inputs["document"]
        if doc is None:
            return ScoreResult(
                value=0.0,
                components={"confidence": 0.0},
                reasons=("not analysed yet",),
                features={},
            )
        value = float(doc["confidence"])
        return ScoreResult(
            value=value,
            components={"confidence": value},
            reasons=(f"school {doc['school']}", f"level {doc['level']}", f"by {doc['analyzer']}"),
            features={
                "school": doc["school"],
                "level": doc["level"],
                "keywords": ", ".join(doc["keywords"]),
            },
        )


def scorers() -> list[Scorer]:
    return [PipelineScore(), ClassificationScore()]
