"""The credit pack: PLATAM's lender, scored on its own history and the credit bureau.

Entities are clients, keyed by cédula. Five scorers run in dependency order::

    payment_performance ─┐
    payment_plan ────────┼─> platam ─> hybrid ─> (default_probability, a later issue)
    deterioration ───────┘

Example::

    pack = CreditPack(today=lambda: date(2026, 1, 23))
    pack.source_metadata().create_all(engine)
    with engine.begin() as conn:
        pack.generate_demo_data(conn, seed=7)
        inputs = pack.load_inputs(conn, ["1001257568"], frozenset({"client", "payments"}))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, MetaData

from rescore.packs.credit import demo, loader, schema
from rescore.packs.credit.blend import all_scorers
from rescore.packs.credit.event_types import EVENT_ROUTES
from rescore.packs.credit.simulator import CreditSimulator
from rescore.plugins import Pack
from rescore.routing import Route
from rescore.scoring import Scorer

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = ["EVENT_ROUTES", "CreditPack"]


def _utc_today() -> date:
    return datetime.now(UTC).date()


class CreditPack(Pack):
    """PLATAM credit scoring: internal score, bureau blend, event routes and demo data.

    ``today`` is the clock the loader stamps as ``as_of`` on every entity's inputs; scorers
    measure every age against it and never read the wall clock, so a recompute is
    reproducible. It defaults to the UTC date.
    """

    name = "credit"
    description = "PLATAM credit scores: payment performance, plans, deterioration, hybrid."
    entity_label = "cédula"

    def __init__(self, today: Callable[[], date] | None = None) -> None:
        self._today = today or _utc_today

    def today(self) -> date:
        """The reference date the next load will use."""
        return self._today()

    def register_scorers(self) -> Sequence[Scorer]:
        return all_scorers()

    def register_event_types(self) -> Mapping[str, Route]:
        return EVENT_ROUTES

    def source_metadata(self) -> MetaData:
        return schema.metadata

    def load_inputs(
        self, conn: Connection, entities: Sequence[str], parts: frozenset[str]
    ) -> dict[str, dict[str, Any]]:
        return loader.load_inputs(conn, entities, parts, self._today())

    def entity_keys(self, conn: Connection) -> Iterator[str]:
        return loader.entity_keys(conn)

    def known_entities(self, conn: Connection, entities: Sequence[str]) -> set[str]:
        return loader.known_entities(conn, entities)

    def generate_demo_data(self, conn: Connection, *, seed: int, size: int | None = None) -> int:
        count = demo.DEFAULT_SIZE if size is None else size
        return demo.generate(conn, seed=seed, size=count, today=self._today())

    def simulator(self, seed: int) -> CreditSimulator:
        return CreditSimulator(seed, today=self._today())

    def register_rules(self) -> Sequence[Mapping[str, Any]]:
        """Seed 000's alerts: a default, and a sharp drop of the hybrid score."""
        import yaml

        text = resources.files("rescore.packs.credit").joinpath("rules.yaml").read_text()
        rules: list[Mapping[str, Any]] = yaml.safe_load(text)
        return rules

    def register_contract_routes(self) -> Sequence[APIRouter]:
        """Seed 000's contracts at the root, where its clients call them: /update-score,
        /update-batch and /predict."""
        from rescore.packs.credit.api import router  # FastAPI only when serving HTTP

        return [router]
