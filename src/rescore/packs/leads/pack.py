"""The leads pack: seed 002's SMS platform, 31.8M contacts scored on their platform validations.

Entities are contacts, keyed by their id as a string. Two scorers, both views of the seed's
``calculate_comprehensive_score``: ``lead_score`` (0-100, tier in its features) and
``lead_confidence`` (0-1). The seed's database trigger queues a contact at priority 5 when one
of its validations is inserted or updated: here that is the ``validation_upserted`` event on the
normal lane at priority 5; ``manual_recalculate`` is the dashboard's "Calculate" button.

Settings come from ``RESCORE_LEADS_*`` variables (:class:`LeadsSettings`); the pack also offers
the vectorized form (the ``Pack`` population hooks :mod:`rescore.population` drives), so
``rescore rescore leads --all`` scores millions of contacts per minute.

Example::

    pack = LeadsPack(quality_factors=False, as_of=lambda: datetime(2026, 1, 23))
    pack.source_metadata().create_all(engine)
    with engine.begin() as conn:
        pack.generate_demo_data(conn, seed=7, size=1000)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, MetaData

from rescore.packs.leads import loader, schema
from rescore.packs.leads.frame import score_frame
from rescore.packs.leads.generator import insert_demo
from rescore.packs.leads.scorers import result_frames, scorers
from rescore.packs.leads.simulator import LeadsSimulator
from rescore.plugins import Pack
from rescore.population import DatabaseSource, ParquetSource, Source
from rescore.routing import Lane, Route
from rescore.schedule import Schedule
from rescore.scoring import Scorer

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter

    from rescore.engine import Engine
    from rescore.packs.leads.ml import LeadPredictor

__all__ = ["EVENT_ROUTES", "LeadsPack", "LeadsSettings"]

SCORERS = ("lead_score", "lead_confidence")
TRIGGER_PRIORITY = 5  # the seed's scoring_queue trigger
EVENT_ROUTES: Mapping[str, Route] = {
    "validation_upserted": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        priority=TRIGGER_PRIORITY,
        description="A platform validation of the contact was inserted or updated.",
    ),
    "contact_updated": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        priority=TRIGGER_PRIORITY,
        description="The contact's profile (name, address, state, LADA...) changed.",
    ),
    "manual_recalculate": Route(
        lane=Lane.CRITICAL,
        scorers=SCORERS,
        description="Someone pressed 'Calculate' on the dashboard: rescore now.",
    ),
}
DEFAULT_DEMO_SIZE = 2_000


class LeadsSettings(BaseSettings):
    """The leads pack's settings, from ``RESCORE_LEADS_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="RESCORE_LEADS_", extra="forbid")

    quality_factors: bool = Field(
        True, description="Apply the designed quality factors; off is the seed's base algorithm."
    )
    as_of: datetime | None = Field(
        None, description="Fixed reference time (naive UTC) instead of now, for reproducible runs."
    )
    models_dir: Path = Field(Path(".rescore/models"), description="Where trained models live.")
    retrain_cron: str = Field(
        "0 2 * * *", description="When the regressor is retrained (cron, in retrain_timezone)."
    )
    retrain_timezone: str = Field("UTC", description="IANA time zone of retrain_cron.")


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class LeadsPack(Pack):
    """Seed 002 lead scoring: platforms, combination bonus, tiers, confidence, ML, analytics."""

    name = "leads"
    description = "SMS platform lead scores from WhatsApp/Instagram/Facebook/Google/Apple checks."
    entity_label = "contact"

    def __init__(
        self,
        *,
        quality_factors: bool | None = None,
        as_of: Callable[[], datetime] | None = None,
        settings: LeadsSettings | None = None,
    ) -> None:
        self.settings = settings or LeadsSettings()
        self.quality_factors = (
            self.settings.quality_factors if quality_factors is None else quality_factors
        )
        fixed = self.settings.as_of
        self._as_of = as_of or ((lambda: fixed) if fixed is not None else _utcnow)

    def as_of(self) -> datetime:
        """The reference time the next load or population run measures ages against."""
        return self._as_of()

    # hooks ------------------------------------------------------------------------------

    def register_scorers(self) -> Sequence[Scorer]:
        return scorers(quality_factors=self.quality_factors)

    def register_candidates(self) -> Sequence[Scorer]:
        """The other variant of the algorithm (the seed's base one when the quality factors
        are on, and the reverse), so ``rescore replay leads --candidate 1.0.0+base`` shows
        what the quality factors change, and a promotion can switch between them."""
        return scorers(quality_factors=not self.quality_factors)

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
        return insert_demo(conn, seed=seed, size=count, as_of=self.as_of())

    def simulator(self, seed: int) -> LeadsSimulator:
        return LeadsSimulator(seed, now=self.as_of(), clock=self._as_of)

    def register_schedules(self) -> Sequence[Schedule]:
        return [
            Schedule(
                name="leads.retrain",
                cron=self.settings.retrain_cron,
                timezone=self.settings.retrain_timezone,
                run=lambda engine, due: self.retrain(engine),
                description="Retrain the lead-score regressor (the seed's 2 AM task).",
            )
        ]

    def register_commands(self) -> Sequence[click.Command]:
        from rescore.packs.leads.commands import commands

        return commands(self)

    def register_routes(self) -> Sequence[APIRouter]:
        from rescore.packs.leads.routes import router

        return [router(self)]

    # vectorized form (the Pack hooks rescore.population drives) --------------------------

    def population_size(self, source: Source) -> int:
        if isinstance(source, ParquetSource):
            return loader.parquet_size(source.path)
        with source.database.read() as conn:
            return sum(1 for _ in loader.entity_keys(conn))

    def score_population(
        self, source: Source, *, chunk_size: int, keep_inputs: bool = False
    ) -> Iterator[pl.DataFrame]:
        as_of = self.as_of()
        for people, checks, ladas in self.chunks(source, chunk_size):
            scored = score_frame(
                people,
                checks,
                as_of=as_of,
                quality_factors=self.quality_factors,
                ladas=ladas,
                keep_inputs=keep_inputs,
            )
            yield scored.with_columns(pl.col("contact_id").cast(pl.String).alias("entity")).select(
                "entity", pl.exclude("entity")
            )

    def chunks(
        self, source: Source, chunk_size: int
    ) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, frozenset[tuple[str, str]]]]:
        if isinstance(source, ParquetSource):
            ladas = loader.parquet_ladas(source.path)
            for people, checks in loader.parquet_chunks(source.path, chunk_size):
                yield people, checks, ladas
            return
        assert isinstance(source, DatabaseSource)
        with source.database.read() as conn:
            ladas = loader.reference(conn)
            for people, checks in loader.database_chunks(conn, chunk_size):
                yield people, checks, ladas

    def result_frames(self, scored: pl.DataFrame) -> dict[str, pl.DataFrame]:
        return result_frames(scored)

    # ML ---------------------------------------------------------------------------------

    def train_model(
        self, source: Source, models_dir: Path | None = None, *, limit: int = 10_000
    ) -> dict[str, Any]:
        """Train the seed's regressor on ``source``; save it under ``models_dir`` (default: the
        ``models_dir`` setting). Returns the metadata (version, features, metrics, path)."""
        from rescore.packs.leads.ml import train

        return train(self, source, models_dir or self.settings.models_dir, limit=limit)

    def retrain(self, engine: Engine) -> dict[str, Any]:
        """Train on the source database (the nightly schedule runs this)."""
        return self.train_model(DatabaseSource(engine.source))

    def predictor(self, models_dir: Path | None = None) -> LeadPredictor:
        """Predictions from the saved model, or the seed's rule fallback without one."""
        from rescore.packs.leads.ml import LeadPredictor

        return LeadPredictor(models_dir or self.settings.models_dir)
