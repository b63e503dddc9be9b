"""Seed 001's business metrics (its Grafana panels), in the engine's ``/metrics`` registry.

- ``rescore_tenders_subscriptions{tier}`` (gauge): subscribers per tier, read at scrape time
  (the seed's ``compra_agil_subscriptions``, panel "Usuarios Activos por Tier").
- ``rescore_tenders_mrr_clp`` (gauge): monthly recurring revenue in CLP, each paid subscriber
  whose tier has not expired (``vence_en`` null or ahead) counted at its tier's price.
- ``rescore_tenders_blocked_features_total{tier,feature}`` (counter): requests refused for a
  tier that lacks a feature or a spent quota (the seed's conversion panel).
- ``rescore_tenders_feature_uses_total{tier,feature}`` (counter): units of quota taken.
- ``rescore_tenders_commands_total{tier,command,status}`` (counter): the bot's commands (the
  seed's ``compra_agil_commands_total``), counted by :func:`count_command`.

An engine without metrics (a bare CLI engine) counts nothing; a metric never fails its caller.

Example PromQL (the seed's panels)::

    rescore_tenders_subscriptions
    rate(rescore_tenders_commands_total[5m])
    increase(rescore_tenders_blocked_features_total[1h])
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, or_, select

from rescore.packs.sdk import metrics_registry, source_read
from rescore.packs.tenders.schema import subscribers
from rescore.packs.tenders.tier_table import catalog

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["attach", "count_blocked", "count_command", "count_used", "snapshot"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Counters:
    blocked: Counter
    uses: Counter
    commands: Counter


_LOCK = threading.Lock()
#: One set of counters per registry (per service), dropped with it.
_ATTACHED: weakref.WeakKeyDictionary[CollectorRegistry, _Counters] = weakref.WeakKeyDictionary()


def attach(engine: Engine) -> _Counters | None:
    """Register the business metrics in ``engine``'s registry once (idempotent); the counters,
    or None when the engine carries no metrics."""
    registry = metrics_registry(engine)
    if registry is None:
        return None
    with _LOCK:
        found = _ATTACHED.get(registry)
        if found is None:
            found = _register(registry, engine)
            _ATTACHED[registry] = found
    return found


def _register(registry: CollectorRegistry, engine: Engine) -> _Counters:
    def counter(name: str, doc: str, labels: list[str]) -> Counter:
        return Counter(name, doc, labels, registry=registry)

    registry.register(_Gauges(weakref.ref(engine)))
    return _Counters(
        blocked=counter(
            "rescore_tenders_blocked_features",
            "Requests refused: the tier lacks the feature or its quota is spent",
            ["tier", "feature"],
        ),
        uses=counter(
            "rescore_tenders_feature_uses", "Units of a feature's quota taken", ["tier", "feature"]
        ),
        commands=counter(
            "rescore_tenders_commands",
            "Commands by tier, command and status",
            ["tier", "command", "status"],
        ),
    )


def count_blocked(engine: Engine, tier: str, feature: str) -> None:
    """One request refused for ``tier`` and ``feature`` (:mod:`.tiers` calls it)."""
    found = attach(engine)
    if found is not None:
        found.blocked.labels(tier, feature).inc()


def count_used(engine: Engine, tier: str, feature: str) -> None:
    """One unit of ``feature`` taken by a ``tier`` subscriber (:mod:`.tiers` calls it)."""
    found = attach(engine)
    if found is not None:
        found.uses.labels(tier, feature).inc()


def count_command(engine: Engine, tier: str, command: str, status: str) -> None:
    """One ``command`` (e.g. ``precio``) of a ``tier`` subscriber ended with ``status``
    (``ok``, ``blocked``, ``error``): the Telegram bot calls it for each command."""
    found = attach(engine)
    if found is not None:
        found.commands.labels(tier, command, status).inc()


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """Subscribers per tier (every tier of the table, zeros included) and the MRR in CLP."""

    by_tier: dict[str, int]
    mrr_clp: int


def snapshot(engine: Engine, now: datetime | None = None) -> Snapshot:
    """What the gauges show, read now from ``suscriptores``; a subscription counts in the MRR
    until ``vence_en`` passes by the pack's clock (its ``as_of``: the wall clock in service,
    the demo's fixed "now" in a demo or a test, so its payments do not expire under it)."""
    moment = (now or _pack_now(engine)).astimezone(UTC).replace(tzinfo=None)
    s = subscribers.c
    current = or_(s.vence_en.is_(None), s.vence_en > moment)
    with source_read(engine) as conn:
        all_rows = conn.execute(select(s.tier, func.count()).group_by(s.tier)).all()
        paid = conn.execute(select(s.tier, func.count()).where(current).group_by(s.tier)).all()
    tiers = catalog().tiers
    by_tier = {t.name: 0 for t in tiers} | {str(t): int(n) for t, n in all_rows}
    prices = {t.name: t.price_clp for t in tiers}
    return Snapshot(by_tier=by_tier, mrr_clp=sum(prices.get(t, 0) * int(n) for t, n in paid))


def _pack_now(engine: Engine) -> datetime:
    """The tenders pack's clock, its ``as_of`` (naive UTC), as an aware time."""
    pack = cast("TendersPack", engine.registry["tenders"])
    return pack.as_of().replace(tzinfo=UTC)


class _Gauges(Collector):
    """The scrape-time gauges; a database that cannot be read leaves them out of this scrape."""

    def __init__(self, engine: weakref.ref[Engine]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        engine = self._engine()
        if engine is None:
            return
        try:
            found = snapshot(engine)
        except Exception as exc:  # a scrape must not fail on the database
            log.warning("tenders business metrics: %s", exc)
            return
        tiers = GaugeMetricFamily(
            "rescore_tenders_subscriptions", "Subscribers by tier", labels=["tier"]
        )
        for tier, count in found.by_tier.items():
            tiers.add_metric([tier], count)
        yield tiers
        yield GaugeMetricFamily(
            "rescore_tenders_mrr_clp",
            "Monthly recurring revenue (CLP) of paid, unexpired subscriptions",
            value=found.mrr_clp,
        )
