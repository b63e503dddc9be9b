"""Pure facts about one customer: what is missing, whether today is the birthday, the tier.

Both automation modes (:mod:`.modes`) and the scorers use these, so "birthday" and "missing"
mean the same thing in the indexed query, the legacy full scan and a message template.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from rescore.packs.loyalty.schema import CUSTOMER_FIELDS

__all__ = [
    "TIERS",
    "birthday_keys",
    "is_birthday",
    "local_time",
    "missing_fields",
    "required_of",
    "tier_of",
    "zone",
]

#: Tier -> lowest loyalty score in it (bronze < 40 <= silver < 60 <= gold < 80 <= platinum);
#: the shipped tier-up rule uses the same bands.
TIERS: Mapping[str, float] = {"bronze": 0.0, "silver": 40.0, "gold": 60.0, "platinum": 80.0}


def tier_of(score: float) -> str:
    """The tier a loyalty score falls in."""
    found = "bronze"
    for tier, low in TIERS.items():
        if score >= low:
            found = tier
    return found


def missing_fields(customer: Mapping[Any, Any], required: Iterable[str]) -> list[str]:
    """The required fields the customer has not given (empty or blank), in the business's
    order. Unknown field names in ``required`` are ignored."""
    return [name for name in required if name in CUSTOMER_FIELDS and _blank(customer.get(name))]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def required_of(value: Any) -> list[str]:
    """A business's ``required_fields`` column as a list (drivers may hand JSON back as text)."""
    if isinstance(value, str):
        import orjson

        value = orjson.loads(value)
    return [str(v) for v in value or ()]


def birthday_keys(local: date) -> list[tuple[int, int]]:
    """The ``(birth_month, birth_day)`` pairs whose birthday falls on ``local``: the day
    itself, and on 28 February of a non-leap year also 29 February."""
    keys = [(local.month, local.day)]
    if local.month == 2 and local.day == 28 and not calendar.isleap(local.year):
        keys.append((2, 29))
    return keys


def is_birthday(birth: date | None, local: date) -> bool:
    """Whether someone born on ``birth`` celebrates on ``local`` (the legacy scan's test)."""
    return birth is not None and (birth.month, birth.day) in birthday_keys(local)


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, loaded once: ``ZoneInfo`` keeps only 8 zones strongly cached and
    the demo's businesses use 15, so without this every lookup could read the tz database."""
    return ZoneInfo(name)


def local_time(now: datetime, name: str) -> datetime:
    """Naive-UTC ``now`` on the wall clock of the zone ``name``."""
    return now.replace(tzinfo=UTC).astimezone(zone(name))
