"""The loyalty pack: seed 003's loyalty platform, customers scored and kept in touch.

Entities are customers, keyed by their UUID. Two scorers read the same inputs: ``loyalty``
(0-100 from recency, frequency and monetary value; the tier in its features) and
``churn_risk`` (0-100). Customer registration, updates, points loads and visits are the
events; a points load is critical (a WhatsApp message with the new balance follows at once,
and a tier-up message when the score crosses a band), the rest ride the normal lane.

The seed's automations are data (``rules.yaml``, :meth:`LoyaltyPack.rules_file`); the pack
answers the automation engine's questions through :meth:`LoyaltyPack.register_audiences`
(birthdays, inactive customers) and :meth:`LoyaltyPack.automation_data`. Both of seed 003's
modes are real (:mod:`rescore.packs.loyalty.modes`).

Example::

    pack = LoyaltyPack(as_of=lambda: datetime(2026, 11, 30, 14, 0))
    pack.source_metadata().create_all(engine)
    with engine.begin() as conn:
        pack.generate_demo_data(conn, seed=7, size=1000)
        fast = pack.automations(conn, "event-driven", now=datetime(2026, 11, 30, 14, 0))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, MetaData

from rescore.packs.loyalty import loader, schema
from rescore.packs.loyalty.audiences import BirthdaysAudience, InactiveAudience, automation_data
from rescore.packs.loyalty.generator import insert_demo
from rescore.packs.loyalty.modes import RULES, Mode, ModeResult, Plan, run
from rescore.packs.loyalty.scorers import scorers
from rescore.packs.loyalty.simulator import LoyaltySimulator
from rescore.plugins import Pack
from rescore.routing import Lane, Route
from rescore.scoring import Scorer

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter

__all__ = ["DEFAULT_DEMO_SIZE", "EVENT_ROUTES", "LoyaltyPack"]

SCORERS = ("loyalty", "churn_risk")
EVENT_ROUTES: Mapping[str, Route] = {
    "points_loaded": Route(
        lane=Lane.CRITICAL,
        scorers=SCORERS,
        description="Points were loaded (or redeemed); a WhatsApp message with the balance follows.",  # noqa: E501
    ),
    "customer_registered": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        description="A customer registered; the payload lists the required fields not given.",
    ),
    "customer_updated": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        description="A customer's name, phone, e-mail or birth date changed.",
    ),
    "visit_recorded": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        description="The customer came in (and spent something).",
    ),
}
DEFAULT_DEMO_SIZE = 2_000


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class LoyaltyPack(Pack):
    """Seed 003 loyalty: RFM score and tier, churn risk, birthdays, inactivity, missing fields."""

    name = "loyalty"
    description = "Loyalty programmes: RFM loyalty score and tier, churn risk, automations data."
    entity_label = "customer"

    def __init__(self, as_of: Callable[[], datetime] | None = None) -> None:
        self._as_of = as_of or _utcnow

    def as_of(self) -> datetime:
        """The reference time (naive UTC) the next load measures ages against."""
        return self._as_of()

    # hooks --------------------------------------------------------------------------------

    def register_scorers(self) -> Sequence[Scorer]:
        return scorers()

    def register_event_types(self) -> Mapping[str, Route]:
        return EVENT_ROUTES

    def source_metadata(self) -> MetaData:
        return schema.metadata

    def load_inputs(
        self, conn: Connection, entities: Sequence[str], parts: frozenset[str]
    ) -> dict[str, dict[str, Any]]:
        return loader.load_inputs(conn, entities, parts, self.as_of())

    def entity_keys(self, conn: Connection) -> Iterator[str]:
        return loader.entity_keys(conn)

    def known_entities(self, conn: Connection, entities: Sequence[str]) -> set[str]:
        return loader.known_entities(conn, entities)

    def generate_demo_data(self, conn: Connection, *, seed: int, size: int | None = None) -> int:
        count = DEFAULT_DEMO_SIZE if size is None else size
        return insert_demo(conn, seed=seed, size=count, as_of=self.as_of()).customers

    def simulator(self, seed: int) -> LoyaltySimulator:
        return LoyaltySimulator(seed, now=self.as_of(), clock=self._as_of)

    def register_routes(self) -> Sequence[APIRouter]:
        from rescore.packs.loyalty.routes import router

        return [router(self)]

    def register_commands(self) -> Sequence[click.Command]:
        from rescore.packs.loyalty.commands import commands

        return commands(self)

    # the automation engine's contracts ----------------------------------------------------

    def register_audiences(self) -> Sequence[BirthdaysAudience | InactiveAudience]:
        """The audiences schedule triggers name: ``birthdays`` and ``inactive``."""
        return [BirthdaysAudience(), InactiveAudience()]

    def automation_data(
        self, conn: Connection, entities: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Per customer, the fields message templates read as ``data``."""
        return automation_data(conn, entities, self.as_of)

    def register_rules(self) -> Sequence[Mapping[str, Any]]:
        """Seed 003's automations (``rules.yaml``): birthday, inactive, missing fields, points
        loaded, tier up."""
        import yaml

        rules: list[Mapping[str, Any]] = yaml.safe_load(self.rules_file().read_text())
        return rules

    def rules_file(self) -> Path:
        """The shipped rules (YAML): birthday, inactive, missing fields, points loaded, tier up."""
        return Path(str(files("rescore.packs.loyalty").joinpath("rules.yaml")))

    # seed 003's two modes -----------------------------------------------------------------

    def automations(
        self,
        conn: Connection,
        mode: Mode,
        *,
        now: datetime | None = None,
        business_id: str | None = None,
        rules: tuple[str, ...] = RULES,
    ) -> ModeResult:
        """The actions ``mode`` finds at ``now`` (default: as-of), metered."""
        plan = Plan(now=now or self.as_of(), business_id=business_id, rules=rules)
        return run(conn, mode, plan)
