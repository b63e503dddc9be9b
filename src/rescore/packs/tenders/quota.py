"""The one door from the subscriber side to the tiers: every command, route and job of this
side spends and gives back quota units here, and counts commands here.

The rules themselves (which tier has which feature, daily and monthly limits, exact counters
under concurrency) are :mod:`rescore.packs.tenders.tiers`; the conversion panel's counters
are :mod:`rescore.packs.tenders.business_metrics`. A refusal is that module's error:
``FeatureNotInTier`` (403) or ``QuotaExhausted`` (429, ``retry_after`` seconds), whose message
names the tier that would allow the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["consume", "count", "release"]


def consume(engine: Engine, subscriber_id: str, feature: str) -> None:
    """Spend one unit of ``feature`` for the subscriber, or refuse (403/429)."""
    from rescore.packs.tenders import tiers

    tiers.consume(engine, subscriber_id, feature)


def release(engine: Engine, subscriber_id: str, feature: str) -> None:
    """Give back the unit a request spent when its work failed for good."""
    from rescore.packs.tenders import tiers

    tiers.release(engine, subscriber_id, feature)


def count(engine: Engine, tier: str, command: str, status: str) -> None:
    """Count a bot command by tier and outcome (``ok``, ``blocked``, ``error``)."""
    from rescore.packs.tenders import business_metrics

    business_metrics.count_command(engine, tier, command, status)
