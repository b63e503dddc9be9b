"""The PLATAM total and the hybrid score that blends it with the credit bureau.

``platam`` (0-1000) is the plain sum of payment performance (600), payment plan (150) and
deterioration velocity (250).

``hybrid`` (0-1000) trusts the internal score as far as the client's own history can carry it,
and the Experian/HCPN bureau score for the rest, with a Bühlmann credibility weight::

    n = months_as_client / 6 + paid instalments / 3
    Z = clamp(n / (n + 6), 0.2, 0.9)
    hybrid = Z * platam + (1 - Z) * bureau_norm,   bureau_norm = (bureau - 150) / 800 * 1000

A new client leans 80% on the bureau, a client with a year and twelve paid instalments is
weighed half and half, a seasoned one up to 90% on PLATAM. Without a bureau score the hybrid is
the PLATAM total (Z = 1).

Dependency order: payment_performance, payment_plan, deterioration -> platam -> hybrid. The
probability-of-default model (:mod:`rescore.packs.credit.probability`) runs after them; the
pack adds it when the ml extra is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rescore.packs.credit.deterioration import DeteriorationVelocity
from rescore.packs.credit.performance import PaymentPerformance
from rescore.packs.credit.plans import PaymentPlanScore
from rescore.packs.credit.points import clamp, total
from rescore.packs.credit.records import as_of_of, months_between, payments_of
from rescore.scoring import Inputs, Scorer, ScoreResult

__all__ = [
    "Credibility",
    "HybridScore",
    "PlatamScore",
    "all_scorers",
    "bureau_normalized",
    "credibility",
]

PARTS = (PaymentPerformance, PaymentPlanScore, DeteriorationVelocity)
PLATAM_MAX = sum(part.max_value for part in PARTS)
BUREAU_MIN, BUREAU_MAX = 150, 950
MONTHS_PER_UNIT = 6.0  # six months as a client count as one unit of own evidence ...
PAYMENTS_PER_UNIT = 3.0  # ... and so do three paid instalments
CREDIBILITY_K = 6.0  # evidence units at which own history and bureau weigh the same
Z_FLOOR, Z_CAP = 0.2, 0.9
FALLBACK_REASON = "no bureau score: hybrid falls back to the internal score"


class PlatamScore(Scorer):
    """The PLATAM internal score: the three sub-scores added up (0-1000)."""

    name = "platam"
    version = "1.0.0"
    depends_on = tuple(part.name for part in PARTS)
    max_value = PLATAM_MAX
    description = "Payment performance + payment plan + deterioration (0-1000)."

    def score(self, inputs: Inputs) -> ScoreResult:
        components = {name: round(inputs[name].value, 2) for name in self.depends_on}
        value = total(components)
        parts = ", ".join(f"{name} {points:g}" for name, points in components.items())
        return ScoreResult(
            value=value,
            components=components,
            reasons=(f"PLATAM {value:g} of 1000 = {parts}",),
            features={"platam_score": value},
        )


@dataclass(frozen=True, slots=True)
class Credibility:
    """The weight of the client's own history: ``n`` evidence units, ``z`` the weight."""

    months: int
    paid: int
    n: float = field(init=False)
    z: float = field(init=False)

    def __post_init__(self) -> None:
        n = self.months / MONTHS_PER_UNIT + self.paid / PAYMENTS_PER_UNIT
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "z", clamp(n / (n + CREDIBILITY_K), Z_FLOOR, Z_CAP))


def credibility(months_as_client: int, paid_instalments: int) -> Credibility:
    """Bühlmann credibility of a client's own history (see the module docstring)."""
    return Credibility(months_as_client, paid_instalments)


def bureau_normalized(bureau_score: int) -> float:
    """The Experian/HCPN score (150-950) on the PLATAM scale (0-1000)."""
    return clamp((bureau_score - BUREAU_MIN) / (BUREAU_MAX - BUREAU_MIN) * 1000.0, 0.0, 1000.0)


class HybridScore(Scorer):
    """PLATAM blended with the bureau score by credibility (PLATAM ``calculate_hybrid_score``)."""

    name = "hybrid"
    version = "1.0.0"
    inputs = frozenset({"client", "payments", "as_of"})
    depends_on = ("platam",)
    max_value = 1000.0
    description = "Z x PLATAM + (1 - Z) x bureau, Z growing with tenure and paid instalments."

    def score(self, inputs: Inputs) -> ScoreResult:
        platam: float = inputs["platam"].value
        client: dict[str, Any] = inputs["client"]
        months = months_between(client["client_since"], as_of_of(inputs))
        paid = sum(1 for p in payments_of(inputs) if p.paid_date is not None)
        cred = credibility(months, paid)
        bureau = client.get("bureau_score")
        if bureau is None:
            return _fallback(platam, cred)
        return _blend(platam, bureau, cred)


def _base_features(cred: Credibility) -> dict[str, float | int | None]:
    return {
        "months_as_client": cred.months,
        "payment_count": cred.paid,
        "n": round(cred.n, 4),
    }


def _fallback(platam: float, cred: Credibility) -> ScoreResult:
    return ScoreResult(
        value=platam,
        components={"internal": platam, "bureau": 0.0},
        reasons=(FALLBACK_REASON,),
        features={**_base_features(cred), "z": 1.0, "bureau_score": None, "bureau_norm": None},
    )


def _blend(platam: float, bureau: int, cred: Credibility) -> ScoreResult:
    norm = bureau_normalized(bureau)
    components = {
        "internal": round(cred.z * platam, 2),
        "bureau": round((1.0 - cred.z) * norm, 2),
    }
    reasons = (
        f"{cred.z:.0%} PLATAM ({platam:g}), {1 - cred.z:.0%} bureau "
        f"({bureau} -> {norm:.0f} of 1000)",
        f"{cred.months} months as client and {cred.paid} paid instalments",
    )
    return ScoreResult(
        value=total(components),
        components=components,
        reasons=reasons,
        features={
            **_base_features(cred),
            "z": round(cred.z, 4),
            "bureau_score": bureau,
            "bureau_norm": round(norm, 2),
        },
    )


def all_scorers() -> list[Scorer]:
    """The rule-based credit scorers, in dependency order (the pack adds the PD model)."""
    return [
        PaymentPerformance(),
        PaymentPlanScore(),
        DeteriorationVelocity(),
        PlatamScore(),
        HybridScore(),
    ]
