"""A day at the SMS platform: validators re-check platforms, agents fix profiles.

Each :meth:`LeadsSimulator.step` picks a change with a realistic mix (mostly validations),
applies it to the source through the caller's connection and returns its event. A
validation is an upsert on (contact, platform), as the validators write them, and moves the
contact's ``last_platform_validation``, as the seed's quality factors read it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from rescore.exceptions import PluginError
from rescore.packs.leads.algorithm import PLATFORMS
from rescore.packs.leads.generator import METHODS, PROFILES
from rescore.packs.leads.ladas import LADAS
from rescore.packs.leads.schema import contacts, platform_validations
from rescore.plugins import DemoSimulator

__all__ = ["MIX", "LeadsSimulator"]

#: Event type -> share of a day's events.
MIX: dict[str, float] = {
    "validation_upserted": 0.85,
    "contact_updated": 0.12,
    "manual_recalculate": 0.03,
}

Event = dict[str, Any]


class LeadsSimulator(DemoSimulator):
    """Reproducible stream of validations and profile edits, starting at ``now``."""

    def __init__(
        self, seed: int, *, now: datetime, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(seed, start=now, clock=clock)

    def step(self, conn: Connection) -> dict[str, Any]:
        self.tick(1, 20)
        contact_id = self._pick(conn)
        kind = self.rng.choices(list(MIX), list(MIX.values()))[0]
        if kind == "validation_upserted":
            return self._validate(conn, contact_id)
        if kind == "contact_updated":
            return self._update(conn, contact_id)
        return self._event(kind, contact_id, {"requested_by": "dashboard"})

    def _pick(self, conn: Connection) -> int:
        low, high = conn.execute(select(func.min(contacts.c.id), func.max(contacts.c.id))).one()
        if low is None:
            raise PluginError("no contact to simulate: generate demo data first")
        wanted = self.rng.randint(low, high)
        query = select(contacts.c.id).where(contacts.c.id >= wanted).order_by(contacts.c.id)
        return int(conn.execute(query.limit(1)).scalar_one())

    def _event(self, type_: str, contact_id: int, payload: dict[str, Any]) -> Event:
        return {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "type": type_,
            "entity": str(contact_id),
            "occurred_at": self.now.isoformat() + "Z",
            "payload": payload,
        }

    def _validate(self, conn: Connection, contact_id: int) -> Event:
        platform = self.rng.choice(PLATFORMS)
        profile = PROFILES[platform]
        valid = self.rng.random() < profile.valid / profile.attempted
        row = {
            "is_valid": valid,
            "is_business": self.rng.random() < profile.business,
            "is_premium": self.rng.random() < profile.premium,
            "confidence_score": round(self.rng.betavariate(8, 2) if valid else 0.3, 3),
            "validation_method": self.rng.choice(METHODS),
            "response_time_ms": self.rng.randint(150, 3000),
            "validated_at": self.now,
        }
        key = (platform_validations.c.contact_id == contact_id) & (
            platform_validations.c.platform == platform
        )
        done = conn.execute(update(platform_validations).where(key).values(**row))
        if done.rowcount == 0:
            conn.execute(
                insert(platform_validations).values(contact_id=contact_id, platform=platform, **row)
            )
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(last_platform_validation=self.now)
        )
        payload = {"platform": platform, "is_valid": valid, "confidence": row["confidence_score"]}
        return self._event("validation_upserted", contact_id, payload)

    def _update(self, conn: Connection, contact_id: int) -> Event:
        lada = conn.execute(select(contacts.c.lada).where(contacts.c.id == contact_id)).scalar()
        state, city, _ = LADAS.get(lada or "", ("CDMX", "CIUDAD DE MEXICO", 0))
        field = self.rng.choice(("address", "state_name", "full_name"))
        values = {
            "address": f"CALLE REFORMA #{self.rng.randint(1, 999)}, CENTRO",
            "state_name": state,
            "full_name": "MARIA GUADALUPE HERNANDEZ LOPEZ",
        }
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values({field: values[field], "municipality": city})
        )
        return self._event("contact_updated", contact_id, {"field": field})
