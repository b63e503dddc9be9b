"""The ``match`` scorer: the subscribers a tender concerns, as a score with history.

Value = how many subscribers the tender concerns (0 to
:data:`~rescore.packs.tenders.alerts.MAX_MATCHES`), one component per subscriber (its id, worth
1), so the breakdown is the list of who hears of the tender, and a history row says when each
one was added and by what. Reasons name each subscriber's best profile and its similarity (or
the keywords found); features keep the counts, the best similarity, the embedder and its
default threshold.

The shipped rule ``tenders.alerta`` fires on each *new* component (``new_component``): every
matched subscriber is told once, on the tender's first score or when a later recompute adds
it, and never twice (the firing is keyed by tender and subscriber).

The loader ran the match (``matches`` part: :meth:`.alerts.ProfileIndex.match`), so the scorer
is pure.
"""

from __future__ import annotations

from typing import Any

from rescore.packs.tenders.alerts import MAX_MATCHES
from rescore.scoring import Feature, Inputs, Scorer, ScoreResult

__all__ = ["TenderMatch"]

#: Reasons listed (the best matches); the components list them all.
SHOWN = 10


def _reason(match: dict[str, Any]) -> str:
    if match["tipo"] == "keyword":
        return f"{match['suscriptor_id']}: keywords {', '.join(match['palabras'])}"
    return f'{match["suscriptor_id"]}: "{match["texto"]}" similarity {match["similitud"]:.2f}'


class TenderMatch(Scorer):
    """How many subscribers a tender concerns; one component per subscriber."""

    name = "match"
    version = "1"
    inputs = frozenset({"matches"})
    max_value = float(MAX_MATCHES)
    description = "Subscribers whose alert profiles the tender matches (one component each)."

    def score(self, inputs: Inputs) -> ScoreResult:
        found: dict[str, Any] = inputs["matches"]
        matches: list[dict[str, Any]] = found["suscriptores"]
        semantic = [m["similitud"] for m in matches if m["similitud"] is not None]
        features: dict[str, Feature] = {
            "suscriptores": len(matches),
            "semanticos": len(semantic),
            "por_palabras": len(matches) - len(semantic),
            "mejor_similitud": max(semantic) if semantic else None,
            "embedder": found["embedder"],
            "umbral": found["umbral"],
        }
        reasons = tuple(_reason(m) for m in matches[:SHOWN]) or ("no subscriber matches",)
        return ScoreResult(
            value=float(len(matches)),
            components={m["suscriptor_id"]: 1.0 for m in matches},
            reasons=reasons,
            features=features,
        )
