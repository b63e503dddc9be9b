"""Seed 001's tier table (``tiers.yaml``) read into values, and the calendar periods quotas
count in. :mod:`.tiers` enforces it; the metrics and invoices read prices from it.

Example::

    table = catalog()
    table.tier("pyme").price_clp                     # 9990
    table.feature("price_analysis").limits["free"]   # 2 (per day); None is unlimited
    period("day", "America/Santiago", now)           # ("2026-11-30", next local midnight, UTC)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rescore.exceptions import InvalidInput

__all__ = [
    "PROFILE_FEATURES",
    "Catalog",
    "Feature",
    "Period",
    "Tier",
    "UnknownFeature",
    "alerted_by",
    "aware",
    "catalog",
    "period",
]

Period = Literal["day", "month"]
#: The feature that limits a subscriber's active alert profiles of each ``tipo``.
PROFILE_FEATURES = {"keyword": "keyword_alerts", "semantic": "semantic_alerts"}


class UnknownFeature(InvalidInput):
    """No such feature in the tier table."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Tier:
    """A plan: its name (``suscriptores.tier``), label and monthly price in CLP."""

    name: str
    label: str
    price_clp: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Feature:
    """One row of the tier table: ``limits`` maps each tier that has it to its number of units
    per ``period`` (``quota``) or of active items (``count``); None there is unlimited."""

    name: str
    label: str
    kind: Literal["quota", "count"]
    period: Period | None
    limits: Mapping[str, int | None]
    seed: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Catalog:
    """Every tier (cheapest first) and every feature."""

    tiers: tuple[Tier, ...]
    features: Mapping[str, Feature]

    def tier(self, name: str) -> Tier:
        """The tier called ``name`` (a stored tier the table lacks is a configuration error)."""
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise InvalidInput(f"no tier {name!r} (one of {self.names()})", field="tier")

    def names(self) -> str:
        return ", ".join(t.name for t in self.tiers)

    def feature(self, name: str) -> Feature:
        """The feature called ``name``, or :class:`UnknownFeature`."""
        found = self.features.get(name)
        if found is None:
            known = ", ".join(sorted(self.features))
            raise UnknownFeature(f"no feature {name!r} (one of {known})", field="feature")
        return found

    def cheapest(self, feature: Feature, more_than: int | None = None) -> Tier | None:
        """The cheapest tier with the feature (and, given ``more_than``, a higher limit)."""
        for tier in self.tiers:
            if tier.name not in feature.limits:
                continue
            limit = feature.limits[tier.name]
            if more_than is None or limit is None or limit > more_than:
                return tier
        return None


@cache
def catalog() -> Catalog:
    """``tiers.yaml``, read once and checked."""
    import yaml

    text = files("rescore.packs.tenders").joinpath("tiers.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text))


def _parse(data: Mapping[str, Any]) -> Catalog:
    tiers = tuple(
        Tier(name=t["name"], label=t["label"], price_clp=int(t["price_clp"])) for t in data["tiers"]
    )
    names = {t.name for t in tiers}
    features = {name: _feature(name, spec, names) for name, spec in data["features"].items()}
    return Catalog(tiers=tiers, features=features)


def _feature(name: str, spec: Mapping[str, Any], tiers: set[str]) -> Feature:
    limits: dict[str, int | None] = {}
    for tier, value in spec["limits"].items():
        if tier not in tiers or not (value == "unlimited" or isinstance(value, int)):
            raise ValueError(f"tiers.yaml: {name}.limits.{tier}: {value!r}")
        limits[tier] = None if value == "unlimited" else int(value)
    kind = spec["kind"]
    if kind not in ("quota", "count") or (kind == "quota") != (spec.get("period") is not None):
        raise ValueError(f"tiers.yaml: {name}: kind {kind!r} with period {spec.get('period')!r}")
    return Feature(
        name=name,
        label=spec["label"],
        kind=kind,
        period=spec.get("period"),
        limits=limits,
        seed=spec["seed"],
    )


def alerted_by(tier: str) -> frozenset[str]:
    """The alert profile kinds (``keyword``, ``semantic``) a ``tier`` subscriber is alerted
    through: FREE none, EMPRENDEDOR keywords, PYME and up both."""
    table = catalog()
    return frozenset(k for k, f in PROFILE_FEATURES.items() if tier in table.feature(f).limits)


# -- periods -----------------------------------------------------------------------------------


def period(kind: Period, zone: str, now: datetime) -> tuple[str, datetime]:
    """The period ``now`` falls in, in time zone ``zone``: its key (``2026-11-30`` or
    ``2026-11``) and when the next one starts (aware, UTC). A naive ``now`` is UTC."""
    local = aware(now).astimezone(ZoneInfo(zone))
    day = local.date()
    if kind == "day":
        return day.isoformat(), _midnight(day + timedelta(days=1), zone)
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return f"{day.year:04d}-{day.month:02d}", _midnight(following, zone)


def _midnight(day: date, zone: str) -> datetime:
    """Local midnight starting ``day`` in UTC; where DST skips midnight (Chile in September)
    the offset before the jump makes it the instant the clocks jump, the day's first moment."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def aware(now: datetime | None) -> datetime:
    """``now`` as an aware time: a naive one is UTC, None is the clock's now."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)
