"""Packs: one business system each, loaded as plugins.

A pack is a subclass of :class:`Pack` published under the ``rescore.packs`` entry point. The
built-in packs are found the same way as third-party ones, so the core never imports a pack::

    # pyproject.toml of a pack
    [project.entry-points."rescore.packs"]
    credit = "rescore.packs.credit:CreditPack"

A pack brings its source schema, a loader that reads an entity's current inputs (the source is
the truth; events only say *who* to rescore), its scorers, its event routes and demo data.
:class:`PackRegistry` refuses a pack without a name, a name taken twice or a malformed pack,
all or nothing.
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Connection, MetaData

from rescore.exceptions import PluginError, UnknownPack
from rescore.routing import Route, Router
from rescore.schedule import Schedule
from rescore.scoring import Scorer, ScorerGraph

if TYPE_CHECKING:
    import click
    import polars as pl
    from fastapi import APIRouter

    from rescore.automations.audience import Audience
    from rescore.population import Source

__all__ = ["ENTRY_POINT_GROUP", "DemoSimulator", "Pack", "PackRegistry", "discover"]

ENTRY_POINT_GROUP = "rescore.packs"

log = logging.getLogger(__name__)


class DemoSimulator(ABC):
    """Plays a business day against a pack's source: each step changes the source data, in the
    caller's transaction, and returns the event that announces the change.

    Reproducible: the same seed, the same starting data and the same clock give the same stream.

    A replay runs hours of business in minutes, so its simulated time (``now``) would soon run
    ahead of the real one: ingest refuses an event dated more than a day ahead, and a score
    changed at 03:40 "because of" a default at 08:00 explains nothing. :meth:`tick` moves
    ``now`` on but never past ``clock()``: once the day catches up with the clock, events are
    dated as they happen. ``clock`` is None for a simulator replaying a fixed past or future day
    (tests), which then runs free.
    """

    def __init__(
        self, seed: int, *, start: datetime, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = clock
        self.now = start if clock is None else min(start, clock())

    def tick(self, low: int, high: int) -> datetime:
        """Move ``now`` on by a random ``low``..``high`` seconds, at most to ``clock()``."""
        ahead = self.now + timedelta(seconds=self.rng.randint(low, high))
        self.now = ahead if self.clock is None else max(self.now, min(ahead, self.clock()))
        return self.now

    @abstractmethod
    def step(self, conn: Connection) -> dict[str, Any]:
        """Apply one business change through ``conn`` and return its event as a dict."""


class Pack(ABC):
    """Base class of every pack. Subclasses set ``name`` and implement the hooks."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    entity_label: ClassVar[str] = "entity"

    @abstractmethod
    def register_scorers(self) -> Sequence[Scorer]:
        """The pack's scorers (instances)."""

    @abstractmethod
    def register_event_types(self) -> Mapping[str, Route]:
        """Event type -> route: its lane and the scorers it affects."""

    @abstractmethod
    def source_metadata(self) -> MetaData:
        """The tables of the pack's source schema (created by ``rescore init`` when asked)."""

    @abstractmethod
    def load_inputs(
        self, conn: Connection, entities: Sequence[str], parts: frozenset[str]
    ) -> dict[str, dict[str, Any]]:
        """Read the current inputs of many entities at once, only the named ``parts``.

        Returns ``{entity: {part: value}}``; an entity absent from the source is absent from
        the result. Bound parameters only.
        """

    @abstractmethod
    def entity_keys(self, conn: Connection) -> Iterator[str]:
        """Every entity in the source, in a stable order (for population rescoring)."""

    def known_entities(self, conn: Connection, entities: Sequence[str]) -> set[str] | None:
        """Which of ``entities`` the source has, if the pack can tell with one cheap query
        (ingest then warns about the others at once); None, the default, when it cannot."""
        return None

    def generate_demo_data(self, conn: Connection, *, seed: int, size: int | None = None) -> int:
        """Fill the source tables with realistic demo data; return how many entities."""
        raise PluginError(f"pack {self.name!r} ships no demo data")

    def simulator(self, seed: int) -> DemoSimulator:
        """A reproducible stream of business changes and their events."""
        raise PluginError(f"pack {self.name!r} ships no event simulator")

    def register_schedules(self) -> Sequence[Schedule]:
        """Jobs that run on a clock (retraining, drift checks); none by default."""
        return ()

    def prepare(self) -> None:
        """Load now what scoring needs (a trained model, a sentence embedder), so the first
        event a process rescores does not wait seconds for it. Every runtime that scores calls
        it once per process when it starts (the embedded workers, each Celery worker process,
        ``rescore serve`` before it listens); a command that never scores does not. A failure
        is logged, never fatal: scoring loads on first use as before. Nothing by default."""
        return None

    def register_candidates(self) -> Sequence[Scorer]:
        """New versions of registered scorers (same ``name``, another ``version``) that may run
        in shadow beside the live one, be replayed over the population and be promoted
        (``rescore releases``, ``rescore replay``). None by default."""
        return ()

    # automations (rescore.automations) ------------------------------------------------------

    def register_rules(self) -> Sequence[Mapping[str, Any]]:
        """Automation rules the pack ships, as data (the rule schema of
        :mod:`rescore.automations.rules`; ``pack`` defaults to this pack). They apply to every
        tenant; a tenant's own rule of the same name overrides one (e.g. to disable it). None
        by default."""
        return ()

    def register_audiences(self) -> Sequence[Audience]:
        """The entity queries scheduled rules fire for (:class:`rescore.automations.Audience`:
        today's birthdays, inactive customers); none by default."""
        return ()

    def automation_data(
        self, conn: Connection, entities: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """What message templates may read of each entity, as ``data`` (a customer's name and
        phone): ``{entity: {field: value}}`` read through ``conn`` (the source) with bound
        parameters. Read when a message is delivered, not when its rule fires. Nothing by
        default."""
        return {}

    def register_commands(self) -> Sequence[click.Command]:
        """Extra CLI commands, mounted as ``rescore <pack> <command>``; none by default."""
        return ()

    def register_routes(self) -> Sequence[APIRouter]:
        """Extra HTTP routes, mounted under ``/v1/packs/<pack>``; none by default.

        Write the paths without that prefix (``@router.get("/analytics")`` is served as
        ``/v1/packs/leads/analytics``) and take authentication and helpers from
        :mod:`rescore.packs.sdk`. A method and path that another pack or the core already
        serves is refused when the app is built (:class:`PluginError` naming both)."""
        return ()

    def register_contract_routes(self) -> Sequence[APIRouter]:
        """Routes served **at the root**, as they are: only for contracts that existing
        clients already call at fixed paths (seed 000's ``POST /update-score``,
        ``/update-batch`` and ``/predict`` for the credit pack). Everything else belongs in
        :meth:`register_routes`. Collisions are refused as there; none by default."""
        return ()

    # population rescoring: the vectorized form (rescore.population) ----------------------

    def population_size(self, source: Source) -> int:
        """How many entities ``source`` holds (for the progress bar of ``rescore rescore PACK
        --all``). A pack offers the vectorized form by overriding :meth:`score_population`
        and :meth:`result_frames`; without them it has none, and this says so."""
        raise PluginError(f"pack {self.name!r} offers no vectorized form")

    def score_population(self, source: Source, *, chunk_size: int) -> Iterator[pl.DataFrame]:
        """Score the whole population of ``source`` (a ``rescore.population.DatabaseSource``
        or ``ParquetSource``) at once, ``chunk_size`` entities at a time: Polars frames with
        one row per entity and a string ``entity`` column first. The per-entity scorers must
        give the same numbers (a property test in the pack proves it); none by default."""
        raise PluginError(f"pack {self.name!r} offers no vectorized form")

    def result_frames(self, scored: pl.DataFrame) -> Mapping[str, pl.DataFrame]:
        """A frame :meth:`score_population` yielded, as each scorer's results: ``{scorer:
        frame}`` for every scorer of the pack, each frame one row per row of ``scored``, in
        its order, with the columns ``entity`` (string), ``value`` (float), ``components``
        (a struct of floats, its fields in the order the scorer's ``score`` puts them),
        ``reasons`` (a list of strings) and, when the scorer has any, ``features`` (a struct,
        in the scorer's order). They must be the results the per-entity scorers give (prove
        it with a property test). The score store writes them in bulk with no Python object
        per entity: their JSON is written by Polars, as the per-entity path's would be
        (``rescore.population.encoded``), and ``rescore.population.results_of`` reads them
        back as :class:`ScoreResult` objects (reconciliation, tests)."""
        raise PluginError(f"pack {self.name!r} offers no vectorized form")


class PackRegistry:
    """The loaded packs, their scorer graphs and the router over all their event types."""

    def __init__(self, packs: Iterable[Pack]) -> None:
        self._packs: dict[str, Pack] = {}
        self._graphs: dict[str, ScorerGraph] = {}
        self._versions: dict[str, dict[str, dict[str, Scorer]]] = {}
        for pack in packs:
            self._add(pack)
        self.router = Router({n: p.register_event_types() for n, p in self._packs.items()})
        self._check_routes()

    def _add(self, pack: Pack) -> None:
        name = getattr(pack, "name", "")
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(f"{type(pack).__name__} has no valid pack name: {name!r}")
        if name in self._packs:
            raise PluginError(f"pack name {name!r} is taken twice")
        scorers = list(pack.register_scorers())
        self._graphs[name] = ScorerGraph(name, scorers)
        self._versions[name] = _versions(name, scorers, pack.register_candidates())
        self._packs[name] = pack

    def _check_routes(self) -> None:
        for name in self._packs:
            graph = self._graphs[name]
            for type_, route in self.router.routes(name).items():
                missing = [s for s in route.scorers if s not in graph]
                if missing:
                    raise PluginError(
                        f"pack {name!r}: event type {type_!r} routes to unknown scorer(s) {missing}"
                    )

    @property
    def names(self) -> list[str]:
        return sorted(self._packs)

    def __getitem__(self, name: str) -> Pack:
        try:
            return self._packs[name]
        except KeyError:
            known = ", ".join(self.names) or "none"
            raise UnknownPack(f"no pack {name!r} is loaded; loaded: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._packs

    def graph(self, name: str) -> ScorerGraph:
        self[name]
        return self._graphs[name]

    def versions(self, pack: str, scorer: str) -> dict[str, Scorer]:
        """Every version of a pack's scorer the code offers (the registered one and its
        candidates), by version."""
        self.graph(pack)[scorer]  # UnknownPack / UnknownScorer naming what exists
        return dict(self._versions[pack][scorer])

    def use(self, pack: str, chosen: Mapping[str, str]) -> ScorerGraph:
        """Serve ``chosen`` versions ({scorer: version}) of a pack's scorers (the others stay
        as registered); the pack's graph is rebuilt and replaces the old one at once."""
        graph = self.graph_with(pack, chosen)
        self._graphs[pack] = graph
        return graph

    def graph_with(self, pack: str, chosen: Mapping[str, str]) -> ScorerGraph:
        """The pack's graph with ``chosen`` versions, without serving it."""
        current = self.graph(pack)
        scorers = []
        for scorer in current:
            version = chosen.get(scorer.name, scorer.version)
            offered = self._versions[pack][scorer.name]
            if version not in offered:
                raise PluginError(
                    f"pack {pack!r} has no version {version!r} of scorer {scorer.name!r}; "
                    f"it has {sorted(offered)}"
                )
            scorers.append(offered[version])
        return ScorerGraph(pack, scorers)

    def describe(self) -> list[dict[str, Any]]:
        """Each loaded pack as plain data: its event types with their lanes and scorers, and
        its scorers in dependency order with their versions (``rescore packs --json``)."""
        return [
            {
                "name": name,
                "description": self._packs[name].description,
                "entity": self._packs[name].entity_label,
                "event_types": {
                    type_: {
                        "lane": route.lane.value,
                        "scorers": list(route.scorers),
                        "description": route.description,
                    }
                    for type_, route in sorted(self.router.routes(name).items())
                },
                "scorers": {
                    scorer: {
                        "version": self._graphs[name][scorer].version,
                        "depends_on": list(self._graphs[name][scorer].depends_on),
                    }
                    for scorer in self._graphs[name].order
                },
            }
            for name in self.names
        ]

    def rules(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Every pack's shipped rules as (pack, rule data)."""
        return [(name, rule) for name in self.names for rule in self._packs[name].register_rules()]

    def audience(self, pack: str, name: str) -> Audience:
        """A pack's audience by name (:class:`UnknownPack`/:class:`PluginError` if none)."""
        for audience in self[pack].register_audiences():
            if audience.name == name:
                return audience
        raise PluginError(f"pack {pack!r} has no audience {name!r}")

    def prepare(self) -> None:
        """Every pack's :meth:`Pack.prepare`, each isolated: one that fails is logged."""
        started = time.monotonic()
        for name in self.names:
            try:
                self._packs[name].prepare()
            except Exception:
                log.exception("pack %s could not prepare; it loads on first use instead", name)
        log.info("packs prepared in %.2f s", time.monotonic() - started)

    def schedules(self) -> list[Schedule]:
        """Every pack's schedules; names must be unique across packs."""
        found: dict[str, Schedule] = {}
        for name in self.names:
            for schedule in self._packs[name].register_schedules():
                if schedule.name in found:
                    raise PluginError(f"schedule name {schedule.name!r} is taken twice")
                found[schedule.name] = schedule
        return list(found.values())


def _versions(
    pack: str, scorers: Sequence[Scorer], candidates: Sequence[Scorer]
) -> dict[str, dict[str, Scorer]]:
    """Each scorer's versions: the registered one, then its candidates (refused when a
    candidate names no registered scorer or repeats a version)."""
    found = {s.name: {s.version: s} for s in scorers}
    for candidate in candidates:
        offered = found.get(candidate.name)
        if offered is None:
            raise PluginError(f"pack {pack!r}: candidate {candidate.name!r} has no live scorer")
        if candidate.version in offered:
            raise PluginError(
                f"pack {pack!r}: {candidate.name!r} version {candidate.version!r} is offered twice"
            )
        offered[candidate.version] = candidate
    return found


def discover(only: Iterable[str] | None = None) -> PackRegistry:
    """Load the packs published under the ``rescore.packs`` entry point.

    ``only`` restricts loading to the named packs; naming one that is not installed is an error.
    """
    wanted = set(only) if only is not None else None
    packs: list[Pack] = []
    found: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        found.add(ep.name)
        try:
            factory = ep.load()
            packs.append(factory())
        except Exception as exc:
            raise PluginError(f"pack {ep.name!r} failed to load: {exc}") from exc
    if wanted is not None and wanted - found:
        raise UnknownPack(f"pack(s) not installed: {', '.join(sorted(wanted - found))}")
    return PackRegistry(packs)
