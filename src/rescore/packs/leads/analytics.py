"""The seed's lead-scoring analytics: what its dashboard shows, computed chunk by chunk.

``score_distribution`` counts contacts in the dashboard's five bands (0-20, 21-40, 41-60,
61-80, 81-100); ``platform_success_rates`` is, per platform, the percentage of validation
rows that are valid; ``premium_leads_count`` counts PREMIUM-tier contacts;
``validated_contacts_count`` those with at least one valid validation;
``multi_platform_count`` those scoring on two platforms or more. :meth:`LeadAnalytics.as_json`
uses the keys the seed's dashboard reads (``scoreDistribution``, ``averageScore``, ...).

Example::

    found = analytics(pack, ParquetSource(Path("/tmp/leads")))
    found.average_score, found.as_json()["scoreDistribution"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from rescore.packs.leads.algorithm import PLATFORMS
from rescore.packs.leads.frame import score_frame
from rescore.population import Source

if TYPE_CHECKING:
    from rescore.packs.leads.pack import LeadsPack

__all__ = ["BANDS", "LeadAnalytics", "analytics"]

#: (label, lowest, highest) of the dashboard's bands, in order.
BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-20", 0, 20),
    ("21-40", 21, 40),
    ("41-60", 41, 60),
    ("61-80", 61, 80),
    ("81-100", 81, 100),
)
TIER_NAMES = ("PREMIUM", "HIGH", "MEDIUM", "LOW", "POOR", "UNKNOWN")


@dataclass(kw_only=True, slots=True)
class LeadAnalytics:
    """Counts over a population (add chunks with :meth:`add`)."""

    total_contacts: int = 0
    score_sum: int = 0
    bands: dict[str, int] = field(default_factory=lambda: {b[0]: 0 for b in BANDS})
    tiers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIER_NAMES, 0))
    attempts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLATFORMS, 0))
    valid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLATFORMS, 0))
    validated_contacts_count: int = 0
    multi_platform_count: int = 0

    @property
    def average_score(self) -> float:
        return self.score_sum / self.total_contacts if self.total_contacts else 0.0

    @property
    def premium_leads_count(self) -> int:
        return self.tiers["PREMIUM"]

    @property
    def platform_success_rates(self) -> dict[str, float]:
        """Percentage of validations that were valid, per platform."""
        return {
            p: round(100 * self.valid[p] / self.attempts[p], 2) if self.attempts[p] else 0.0
            for p in PLATFORMS
        }

    def add(self, scored: pl.DataFrame, validations: pl.DataFrame) -> None:
        """Count one scored chunk and its validation rows."""
        total = scored["total_score"]
        self.total_contacts += scored.height
        self.score_sum += int(total.sum())
        for label, low, high in BANDS:
            self.bands[label] += int(total.is_between(low, high).sum())
        for tier, count in scored["quality_tier"].value_counts().iter_rows():
            self.tiers[tier] += int(count)
        self.multi_platform_count += int((scored["platform_count"] >= 2).sum())
        by = validations.group_by("platform").agg(
            pl.len().alias("n"), pl.col("is_valid").sum().alias("ok")
        )
        for platform, n, ok in by.iter_rows():
            self.attempts[platform] += int(n)
            self.valid[platform] += int(ok)
        with_valid = validations.filter(pl.col("is_valid"))["contact_id"].n_unique()
        self.validated_contacts_count += int(with_valid)

    def as_json(self) -> dict[str, Any]:
        """The seed's analytics payload (its dashboard's keys), plus tiers and totals."""
        return {
            "totalContacts": self.total_contacts,
            "scoreDistribution": [self.bands[b[0]] for b in BANDS],
            "scoreBands": [b[0] for b in BANDS],
            "platformSuccessRates": [self.platform_success_rates[p] for p in PLATFORMS],
            "platforms": list(PLATFORMS),
            "premiumLeadsCount": self.premium_leads_count,
            "averageScore": round(self.average_score, 4),
            "validatedContactsCount": self.validated_contacts_count,
            "multiPlatformCount": self.multi_platform_count,
            "tierCounts": dict(self.tiers),
        }


def analytics(pack: LeadsPack, source: Source, *, chunk_size: int = 500_000) -> LeadAnalytics:
    """Score ``source`` chunk by chunk (fresh, not from the store) and count."""
    found = LeadAnalytics()
    as_of = pack.as_of()
    for people, checks, ladas in pack.chunks(source, chunk_size):
        scored = score_frame(
            people, checks, as_of=as_of, quality_factors=pack.quality_factors, ladas=ladas
        )
        found.add(scored, checks)
    return found
