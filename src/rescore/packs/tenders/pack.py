"""The tenders pack: seed 001's CompraAgil, Chilean public procurement intelligence.

An entity is a tender (``licitaciones.codigo``). Its ``price_analysis`` score carries seed
001's ``analizar_precio_optimo_v2`` for the tender's product and region (suggested,
competitive and safe unit prices; insights; competitors) and how much room the buyer's budget
leaves. ``tender_published`` is critical (subscribers hear of a new tender at once);
``tender_closed`` and ``bid_awarded`` ride the normal lane. Subscriber and alert-profile
changes are recorded (lane ``none``): they touch no tender's score.

The history (``historico_licitaciones``) is filled by importing the monthly open-data files
(:mod:`.importer`), by hand (``rescore tenders import``) or by the monthly schedule reading an
inbox folder; the demo writes generated files and imports them the same way.

Example::

    pack = TendersPack(as_of=lambda: datetime(2026, 11, 30, 12, 0))
    pack.source_metadata().create_all(engine)        # also runs the storage steps
    with engine.begin() as conn:
        pack.generate_demo_data(conn, seed=7, size=40)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, MetaData, event

from rescore.exceptions import ConfigurationError
from rescore.packs.tenders import loader, schema, storage
from rescore.packs.tenders.analysis import PriceQuery, analyze
from rescore.packs.tenders.cache import PriceCache
from rescore.packs.tenders.demodata import insert_demo
from rescore.packs.tenders.intel import Intel
from rescore.packs.tenders.match import TenderMatch
from rescore.packs.tenders.scorers import scorers
from rescore.packs.tenders.semantic import ProductVectors
from rescore.packs.tenders.settings import TendersSettings
from rescore.plugins import Pack
from rescore.routing import Lane, Route
from rescore.schedule import Schedule
from rescore.scoring import Scorer

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter

    from rescore.automations import Audience
    from rescore.engine import Engine
    from rescore.population import Source

__all__ = ["DEFAULT_DEMO_SIZE", "EVENT_ROUTES", "TendersPack"]

SCORERS = ("price_analysis",)
#: A published tender is also matched to the subscribers' alert profiles (``match``).
PUBLISHED = ("price_analysis", "match")
EVENT_ROUTES: Mapping[str, Route] = {
    "tender_published": Route(
        lane=Lane.CRITICAL,
        scorers=PUBLISHED,
        description="A tender was published (its row is in licitaciones); analysed and matched "
        "to the subscribers' alert profiles at once.",
    ),
    "tender_closed": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        description="A tender stopped taking quotes.",
    ),
    "bid_awarded": Route(
        lane=Lane.NORMAL,
        scorers=SCORERS,
        description="A tender was awarded; its quotes joined the history.",
    ),
    "tender_rematched": Route(
        lane=Lane.NORMAL,
        scorers=("match",),
        description="An alert profile was added: an open tender is matched again, so the "
        "profile's subscriber hears of the open tenders it fits (entity: the tender).",
    ),
    "subscriber_registered": Route(
        lane=Lane.NONE,
        description="A subscriber signed up (entity: the subscriber id); recorded only.",
    ),
    "subscriber_updated": Route(
        lane=Lane.NONE,
        description="A subscriber's tier, region or company description changed; recorded only.",
    ),
    "alert_profile_changed": Route(
        lane=Lane.NONE,
        description="An alert profile was added, changed or switched off; recorded only.",
    ),
}
DEFAULT_DEMO_SIZE = 40

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _after_create(target: MetaData, connection: Connection, **_: Any) -> None:
    """``rescore init`` created the tables: run the storage steps (partitions, indexes)."""
    storage.ensure(connection, _utcnow().date())


event.listen(schema.metadata, "after_create", _after_create)


class TendersPack(Pack):
    """Seed 001 CompraAgil: tender price analysis over the Compra Ágil history."""

    name = "tenders"
    description = "Chilean public tenders: history import, price analysis, search."
    entity_label = "tender"

    def __init__(
        self,
        as_of: Callable[[], datetime] | None = None,
        settings: TendersSettings | None = None,
    ) -> None:
        self._as_of = as_of or _utcnow
        self._settings = settings
        self.intel = Intel(lambda: self.settings, lambda: self.vectors.embedder)

    @cached_property
    def settings(self) -> TendersSettings:
        """``RESCORE_TENDERS_*`` settings, read when first needed."""
        return self._settings or TendersSettings()

    @cached_property
    def vectors(self) -> ProductVectors:
        """The catalogue's names by meaning, with ``RESCORE_EMBEDDER``'s embedder."""
        from rescore.embeddings import default_embedder

        embedder = default_embedder(os.environ.get("RESCORE_EMBEDDER", "auto"))
        return ProductVectors(embedder, min_similarity=self.settings.semantic_min_similarity)

    @cached_property
    def cache(self) -> PriceCache:
        """This process's price-analysis cache (Redis when configured)."""
        return PriceCache(
            ttl=self.settings.cache_ttl,
            url=self.settings.redis_url(),
            analyzer=self.analyze,
            variant=self.vectors.embedder.name,
        )

    def analyze(
        self, conn: Connection, query: PriceQuery, budget_unit: float | None = None
    ) -> dict[str, Any]:
        """Seed 001's ``analizar_precio_optimo_v2``, similar products by trigrams and meaning
        (``budget_unit``: a tender's budget per unit, placed among the awards)."""
        return analyze(conn, query, self.vectors.neighbours, budget_unit=budget_unit)

    def price_analysis(self, conn: Connection, query: PriceQuery) -> dict[str, Any]:
        """:meth:`analyze` through the cache (what people are answered)."""
        return self.cache.analysis(conn, query)

    def prepare(self) -> None:
        """Load the sentence embedder before the first tender is scored."""
        self.vectors.embedder.embed_one("preparar")

    def as_of(self) -> datetime:
        """The reference time (naive UTC): the demo's "now"."""
        return self._as_of()

    def register_scorers(self) -> Sequence[Scorer]:
        return [*scorers(), TenderMatch()]

    def register_event_types(self) -> Mapping[str, Route]:
        return EVENT_ROUTES

    def source_metadata(self) -> MetaData:
        return schema.metadata

    def load_inputs(
        self, conn: Connection, entities: Sequence[str], parts: frozenset[str]
    ) -> dict[str, dict[str, Any]]:
        found = loader.load_inputs(conn, entities, parts - {"matches"}, self.analyze)
        if "matches" in parts:
            self.intel.add_matches(conn, found)
        return found

    def entity_keys(self, conn: Connection) -> Iterator[str]:
        return loader.entity_keys(conn)

    def known_entities(self, conn: Connection, entities: Sequence[str]) -> set[str]:
        return loader.known_entities(conn, entities)

    def generate_demo_data(self, conn: Connection, *, seed: int, size: int | None = None) -> int:
        from rescore.packs.tenders.subscriber_demo import insert_demo_drafts

        count = DEFAULT_DEMO_SIZE if size is None else size
        made = insert_demo(conn, seed=seed, size=count, as_of=self.as_of()).tenders
        insert_demo_drafts(conn, seed=seed, as_of=self.as_of())
        return made

    # benchmark T1 (rescore bench --only T1) -------------------------------------------------

    def bench_history(self, url: str, folder: Path, rows: int) -> dict[str, Any]:
        """T1's data: ``rows`` generated quote lines in monthly files under ``folder``,
        imported into ``url``; made once, reused after."""
        from rescore.packs.tenders.bench import ensure_history

        made = ensure_history(url, folder, rows=rows, report=lambda line: log.info("T1: %s", line))
        found: dict[str, Any] = {"rows": made.rows, "files": made.files}
        if made.generate_seconds is not None:
            found["generate_rows_per_second"] = round(rows / made.generate_seconds)
        if made.import_seconds is not None:
            found["import_rows_per_second"] = round(made.import_rows / made.import_seconds)
        found["made"] = "files and import timed by the run that made them"
        return found

    def bench_price(self, url: str, evict: Callable[[], None] | None = None) -> dict[str, float]:
        """T1's timing: cold and warm p50/p95 of the price analysis (milliseconds), and with
        ``evict`` (which empties the machine's page cache) each question from disk."""
        from rescore.packs.tenders.bench import measure

        return measure(url, analyzer=self.analyze, evict=evict)

    def register_commands(self) -> Sequence[click.Command]:
        from rescore.packs.tenders.bot_commands import commands as bot_commands
        from rescore.packs.tenders.commands import commands
        from rescore.packs.tenders.intel_commands import commands as intel_commands
        from rescore.packs.tenders.tiers_commands import commands as tiers_commands

        return [*commands(self), *intel_commands(self), *tiers_commands(self), *bot_commands(self)]

    def register_routes(self) -> Sequence[APIRouter]:
        from rescore.packs.tenders.intel_routes import router as intel_router
        from rescore.packs.tenders.payments_routes import router as payments_router
        from rescore.packs.tenders.routes import router
        from rescore.packs.tenders.subscriber_routes import router as subscriber_router
        from rescore.packs.tenders.tiers_routes import router as tiers_router

        return [
            router(self),
            intel_router(self),
            tiers_router(),
            payments_router(self),
            subscriber_router(self),
        ]

    def register_schedules(self) -> Sequence[Schedule]:
        """The monthly import of the inbox folder (and the partitions ahead it makes); the
        downgrade of subscribers past their grace period."""
        return [
            Schedule(
                name="tenders.import-inbox",
                cron=self.settings.import_cron,
                timezone=self.settings.import_timezone,
                run=self._import_inbox,
                description="Import new COT_YYYY-MM.zip files from RESCORE_TENDERS_INBOX; "
                "make the history's month partitions ahead.",
            ),
            Schedule(
                name="tenders.jobs",
                cron=self.settings.jobs_cron,
                run=self._run_jobs,
                description="Run queued subscriber jobs (exports, proposals, analyses asked "
                "over HTTP) when no `rescore tenders workers`/bot runs them sooner.",
            ),
            Schedule(
                name="tenders.downgrade",
                cron=self.settings.downgrade_cron,
                timezone="UTC",
                run=self._downgrade,
                description="Put back on free the paid subscribers whose renewal failed, or "
                "whose tier expired, more than RESCORE_TENDERS_GRACE_DAYS ago; drop quota "
                "counters older than three months.",
            ),
        ]

    def _run_jobs(self, engine: Engine, due: datetime) -> int:
        from rescore.packs.tenders.jobs import Workers
        from rescore.packs.tenders.service import Service

        service = Service(self, engine)
        workers = Workers(service.queue, service.handlers(), on_failed=service.released)
        return workers.drain(seconds=50.0)  # the scheduler runs one schedule at a time

    def _downgrade(self, engine: Engine, due: datetime) -> list[str]:
        from datetime import timedelta

        from rescore.packs.tenders.subscriptions import downgrade_due

        now = due.astimezone(UTC).replace(tzinfo=None) if due.tzinfo else due
        from rescore.packs.tenders.tiers import prune

        moved = downgrade_due(engine, now, timedelta(days=self.settings.grace_days))
        pruned = prune(engine, now=now)
        log.info("tenders downgrade: %d back on free, %d old counters", len(moved), pruned)
        return moved

    def register_audiences(self) -> Sequence[Audience]:
        """``vencimientos``: whom ``tenders.recordatorio`` reminds of an expiry."""
        from rescore.packs.tenders.subscriptions import ExpiringAudience

        return [ExpiringAudience()]

    def _import_inbox(self, engine: Engine, due: datetime) -> list[Any]:
        from rescore.packs.sdk import source_read, source_write
        from rescore.packs.tenders.inbox import import_paths, inbox_files, pending_files

        with source_read(engine) as conn:
            todo = pending_files(conn, inbox_files(self.settings.inbox))
        done = list(
            import_paths(
                lambda: source_write(engine),
                todo,
                now=due.astimezone(UTC).replace(tzinfo=None) if due.tzinfo else due,
                ahead=self.settings.partitions_ahead,
            )
        )
        log.info("tenders inbox: %d file(s) imported or failed", len(done))
        return done

    # win probability and alerts (:mod:`.intel`) ---------------------------------------------

    def register_rules(self) -> Sequence[Mapping[str, Any]]:
        """``tenders.alerta``: each subscriber a new tender matches hears of it once (on
        Telegram through the pack's bot when ``RESCORE_CHANNEL_TELEGRAM=tgbot://{to}``)."""
        import yaml

        from rescore.packs.tenders.telegram import register

        register()

        text = files("rescore.packs.tenders").joinpath("rules.yaml").read_text(encoding="utf-8")
        rules: list[Mapping[str, Any]] = yaml.safe_load(text)
        return rules

    def automation_data(
        self, conn: Connection, entities: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Per tender, what alert messages read: the tender and its matched subscribers."""
        return self.intel.automation_data(conn, entities)

    def train_model(
        self, source: Source, models_dir: Path | None = None, *, limit: int | None = None
    ) -> dict[str, Any]:
        """Train the win model on the source's history (``rescore ml train tenders``)."""
        from rescore.packs.tenders.win import DEFAULT_LIMIT
        from rescore.population import DatabaseSource

        if not isinstance(source, DatabaseSource):
            raise ConfigurationError("the win model trains on the source's history, not Parquet")
        with source.database.read() as conn:
            return self.intel.train(conn, models_dir, limit=limit or DEFAULT_LIMIT)

    # what `rescore bench` asks (T2-T4, :mod:`.intel_bench`) -----------------------------------

    def alert_evaluation(self, embedder: Any) -> dict[str, Any]:
        """Semantic vs keyword alerts on the labelled set, with ``embedder``."""
        from rescore.packs.tenders.intel_bench import alert_evaluation

        return alert_evaluation(embedder)

    def alert_workload(
        self, *, profiles: int, tenders: int, seed: int
    ) -> tuple[list[str], list[str]]:
        """Realistic subscriber sentences and tender texts, as many as asked."""
        from rescore.packs.tenders.intel_bench import workload

        return workload(profiles=profiles, tenders=tenders, seed=seed)

    def bot_latency(self, *, commands: int) -> dict[str, Any]:
        """T5: the bot's acknowledgement latency while its workers run price analyses."""
        from rescore.packs.tenders.bot_bench import bot_latency

        return bot_latency(type(self), commands=commands)

    def win_evaluation(
        self, *, months: int, rows_per_month: int, seed: int, limit: int
    ) -> dict[str, Any]:
        """The win model trained by time on generated history, and its metrics."""
        from rescore.packs.tenders.intel_bench import win_evaluation

        return win_evaluation(months=months, rows_per_month=rows_per_month, seed=seed, limit=limit)
