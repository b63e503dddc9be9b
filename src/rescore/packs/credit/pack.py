"""The credit pack: PLATAM's lender, scored on its own history and the credit bureau.

Entities are clients, keyed by cédula. Six scorers run in dependency order::

    payment_performance ─┐
    payment_plan ────────┼─> platam ─> hybrid ─> default_probability
    deterioration ───────┘

``default_probability`` (the PD model, :mod:`rescore.packs.credit.probability`) reads all five
and needs the ``ml`` extra (scikit-learn, skops); without it the pack registers the other five.
Settings come from ``RESCORE_CREDIT_*`` variables (:class:`CreditSettings`).

Example::

    pack = CreditPack(today=lambda: date(2026, 1, 23))
    pack.source_metadata().create_all(engine)
    with engine.begin() as conn:
        pack.generate_demo_data(conn, seed=7)
        inputs = pack.load_inputs(conn, ["1001257568"], frozenset({"client", "payments"}))
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, MetaData

from rescore.packs.credit import demo, loader, schema
from rescore.packs.credit.blend import all_scorers
from rescore.packs.credit.event_types import EVENT_ROUTES
from rescore.packs.credit.probability import DefaultProbability, candidate
from rescore.packs.credit.simulator import CreditSimulator
from rescore.plugins import Pack
from rescore.population import DatabaseSource, Source
from rescore.routing import Route
from rescore.schedule import Schedule
from rescore.scoring import Scorer

if TYPE_CHECKING:
    from fastapi import APIRouter

    from rescore.engine import Engine

__all__ = ["EVENT_ROUTES", "CreditPack", "CreditSettings", "ml_installed"]


class CreditSettings(BaseSettings):
    """The credit pack's settings, from ``RESCORE_CREDIT_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="RESCORE_CREDIT_", extra="forbid")

    models_dir: Path = Field(
        Path(".rescore/models"), description="Where the trained PD model and drift reports live."
    )
    drift_cron: str = Field(
        "0 0 1 * *", description="When the PD model's drift is checked (cron, drift_timezone)."
    )
    drift_timezone: str = Field("America/Bogota", description="IANA time zone of drift_cron.")


def ml_installed() -> bool:
    """Whether the ``ml`` extra (scikit-learn and skops) is installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("sklearn", "skops"))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _utc_today() -> date:
    return _utc_now().date()


class CreditPack(Pack):
    """PLATAM credit scoring: internal score, bureau blend, event routes and demo data.

    ``today`` is the clock the loader stamps as ``as_of`` on every entity's inputs; scorers
    measure every age against it and never read the wall clock, so a recompute is
    reproducible. It defaults to the UTC date.
    """

    name = "credit"
    description = "PLATAM credit scores: payment performance, plans, deterioration, hybrid."
    entity_label = "cédula"

    def __init__(
        self, today: Callable[[], date] | None = None, settings: CreditSettings | None = None
    ) -> None:
        self._today = today or _utc_today
        #: What the demo's replay may not run ahead of: the wall clock, unless the pack was
        #: given a day of its own to replay (then the day runs free, reproducibly).
        self._clock = _utc_now if today is None else None
        self.settings = settings or CreditSettings()
        self._scorers: list[Scorer] = all_scorers()
        if ml_installed():  # one instance: its model is loaded once per process
            self._scorers.append(DefaultProbability(self.settings.models_dir))

    def today(self) -> date:
        """The reference date the next load will use."""
        return self._today()

    def register_scorers(self) -> Sequence[Scorer]:
        return self._scorers

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
        return CreditSimulator(seed, today=self._today(), clock=self._clock)

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

    # the probability-of-default model -------------------------------------------------------

    def train_model(
        self,
        source: Source,
        models_dir: Path | None = None,
        *,
        limit: int | None = None,
        live: bool = False,
    ) -> dict[str, Any]:
        """Train the PD model on the source's labelled outcomes (``rescore ml train credit``)
        under ``models_dir`` (default: the ``models_dir`` setting), as a release candidate
        unless ``live``. Returns its metadata (version, features, metrics, fingerprint, path,
        ``release_version``: the scorer version to shadow, replay and promote)."""
        from rescore.packs.credit.training import train

        folder = models_dir or self.settings.models_dir
        return train(self, source, folder, limit=limit, live=live)

    def register_candidates(self) -> Sequence[Scorer]:
        """Each retrained PD model (``rescore ml train credit``) as a new version of
        ``default_probability``, so a model goes live only through shadow, replay and
        promotion (``rescore releases``)."""
        if not ml_installed():
            return ()
        from rescore.packs.credit.training import candidate_dirs

        return [candidate(folder) for folder in candidate_dirs(self.settings.models_dir)]

    def prepare(self) -> None:
        """Load the PD model (with the ml extra): importing scikit-learn and reading the model
        take seconds on a busy machine, which the first critical event must not wait for."""
        if not ml_installed():
            return
        for scorer in self._scorers:
            if isinstance(scorer, DefaultProbability):
                scorer.warm()

    def pd_model(self, engine: Engine | None = None) -> Any:
        """The PD model that scores (a :class:`rescore.ml.TrainedClassifier`): with an
        ``engine``, the live release's; without, version 1.0.0's (the model trained live in
        ``models_dir``, else the shipped one)."""
        from rescore.packs.credit.probability import load_explainer

        if engine is None:
            return load_explainer(self.settings.models_dir).model
        name = DefaultProbability.name
        (release,) = [r for r in engine.scorer_releases(self.name) if r["scorer"] == name]
        scorer = engine.registry.versions(self.name, name)[release["live"]]
        assert isinstance(scorer, DefaultProbability)
        return scorer.explainer.model

    def check_drift(
        self, engine: Engine, due: datetime | None = None, *, alert: bool = True
    ) -> dict[str, Any]:
        """Check the PD model's drift over the source now, store the report beside the model,
        and (when it alarms and ``alert``) ingest a ``model_drift`` event for the rules."""
        from rescore.packs.credit import drift

        when = due or engine.clock()
        with DatabaseSource(engine.source).database.read() as conn:
            report = drift.check(self, conn, self.pd_model(engine), now=when)
        drift.save_report(report, self.settings.models_dir)
        if report["alarm"] and alert:
            engine.ingest([drift.drift_event(report, when)])
        return report

    def register_schedules(self) -> Sequence[Schedule]:
        """Seed 000's monthly drift check (``0 0 1 * *`` in Bogotá by default)."""
        if not ml_installed():
            return ()
        return [
            Schedule(
                name="credit.drift",
                cron=self.settings.drift_cron,
                timezone=self.settings.drift_timezone,
                run=lambda engine, due: self.check_drift(engine, due),
                description="PSI and AUC drift of the PD model; alarms become model_drift events.",
            )
        ]

    def register_routes(self) -> Sequence[APIRouter]:
        """``GET /v1/packs/credit/drift``: the latest drift report (with the ml extra)."""
        if not ml_installed():
            return ()
        from rescore.packs.credit.routes import router

        return [router(self)]
