"""Audiences: the entities a scheduled rule fires for, as a pack finds them.

A schedule trigger (``kind: schedule``) with an ``audience`` runs, at each cron tick, the
pack's query for that audience: seed 003's birthdays of today, customers inactive for 30 days.
An audience splits its entities into groups that each have their own time zone (a business
and its zone), so ``0 9 * * *`` with ``timezone: audience`` is 09:00 in every business's own
zone. A pack publishes its audiences with ``Pack.register_audiences``::

    class Birthdays(Audience):
        name = "birthdays"
        description = "Customers whose birthday is today"

        def zones(self, conn):
            return {row.id: row.time_zone for row in conn.execute(select(businesses))}

        def members(self, conn, group, local):
            query = select(customers).where(customers.c.business_id == group,
                                            customers.c.birth_month == local.month,
                                            customers.c.birth_day == local.day)
            for row in conn.execute(query):
                yield {"entity": row.id, "name": row.name, "phone": row.phone}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Connection

__all__ = ["Audience"]


class Audience(ABC):
    """A named query of a pack's source for scheduled rules. Read with bound parameters and
    an index: it runs at every tick, over the whole source."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def zones(self, conn: Connection) -> Mapping[str, str]:
        """Group -> IANA time zone. One group in UTC by default; a pack whose entities live
        in several zones (businesses) returns one group per zone owner."""
        return {"": "UTC"}

    @abstractmethod
    def members(self, conn: Connection, group: str, local: datetime) -> Iterator[dict[str, Any]]:
        """The entities of ``group`` this audience holds at ``local`` (the tick, aware, in the
        group's zone); each row has ``entity`` and whatever else message templates use (as
        ``member``)."""
