"""A business day of seed 003's loyalty programmes: registrations, points loads, visits.

Each :meth:`LoyaltySimulator.step` picks a change with a realistic mix, applies it through
:mod:`.writes` (the same code the HTTP API runs) and returns its event. Registrations often
leave fields out (a third give no e-mail, a quarter no birth date), so the missing-fields rule
has work; points loads follow purchases, as the seed's WhatsApp message does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from rescore.exceptions import PluginError
from rescore.packs.loyalty.generator import FIRST, LAST
from rescore.packs.loyalty.schema import businesses, customers
from rescore.packs.loyalty.writes import (
    load_points,
    record_visit,
    register_customer,
    update_customer,
)
from rescore.plugins import DemoSimulator

__all__ = ["MIX", "LoyaltySimulator"]

#: Event type -> share of a day's events.
MIX: dict[str, float] = {
    "points_loaded": 0.45,
    "visit_recorded": 0.35,
    "customer_registered": 0.12,
    "customer_updated": 0.08,
}


class LoyaltySimulator(DemoSimulator):
    """Reproducible stream of loyalty changes, starting at ``now`` (naive UTC)."""

    def __init__(
        self, seed: int, *, now: datetime, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(seed, start=now, clock=clock)

    def _key(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def step(self, conn: Connection) -> dict[str, Any]:
        self.tick(1, 20)
        kind = self.rng.choices(list(MIX), list(MIX.values()))[0]
        if kind == "customer_registered":
            return self._register(conn)
        customer = self._pick(conn)
        amount = round(self.rng.lognormvariate(3.3, 0.7), 2)
        if kind == "points_loaded":
            earned = max(1, int(amount // 2))
            return load_points(
                conn, customer, points_delta=earned, amount=amount, now=self.now, key=self._key()
            )
        if kind == "visit_recorded":
            return record_visit(conn, customer, amount=amount, now=self.now, key=self._key())
        return update_customer(
            conn, customer, self._completed(customer), now=self.now, key=self._key()
        )

    def _completed(self, customer: str) -> dict[str, Any]:
        """A field a customer fills in later (what the missing-fields message asked for)."""
        field = self.rng.choice(("email", "birth_date", "name"))
        if field == "email":
            return {"email": f"cliente.{customer[:8]}@example.com"}
        if field == "name":
            return {"name": f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"}
        return {"birth_date": self._birth()}

    def _birth(self) -> date:
        return date(self.rng.randint(1950, 2008), self.rng.randint(1, 12), self.rng.randint(1, 28))

    def _pick(self, conn: Connection) -> str:
        """A random customer: the first id at or after a random UUID (one index seek, not a
        count and an offset over a million rows), wrapping round to the first."""
        query = select(customers.c.id).order_by(customers.c.id).limit(1)
        found = conn.execute(query.where(customers.c.id >= self._key())).scalar()
        found = found or conn.execute(query).scalar()
        if found is None:
            raise PluginError("no customer to simulate: generate demo data first")
        return str(found)

    def _register(self, conn: Connection) -> dict[str, Any]:
        owners = conn.execute(select(businesses.c.id).order_by(businesses.c.id)).scalars().all()
        if not owners:
            raise PluginError("no business to register customers in: generate demo data first")
        born = self._birth()
        fields = {
            "name": f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}",
            "phone": f"+57{self.rng.randint(3_000_000_000, 3_999_999_999)}",
            "email": None if self.rng.random() < 0.35 else f"{self._key()[:8]}@example.com",
            "birth_date": None if self.rng.random() < 0.25 else born,
        }
        return register_customer(
            conn,
            business_id=self.rng.choice(owners),
            fields=fields,
            now=self.now,
            customer_id=self._key(),
        )
