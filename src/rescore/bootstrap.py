"""Wiring: an engine with the adapters its settings ask for, built outside the engine.

The engine imports no adapter; this module is where the Celery dispatcher (``broker_url``) and
the shared Redis cache's invalidator (``cache_url``) are attached as observers, and the
Prometheus metrics (:mod:`rescore.metrics`, a registry per engine) and the log lines
(:mod:`rescore.journal`) always are. Every front end
(CLI, HTTP app, Celery worker) opens its engine here, so they are wired the same way::

    engine = open_engine(Settings(database_url="sqlite:///scores.db"), create=True)
    engine.migrate()
"""

from __future__ import annotations

from collections.abc import Iterable

from rescore.engine import Engine
from rescore.journal import Journal
from rescore.metrics import Metrics
from rescore.reports import Observer
from rescore.settings import Settings

__all__ = ["adapters_for", "open_engine"]


def open_engine(
    settings: Settings,
    *,
    observers: Iterable[Observer] = (),
    create: bool = False,
    metrics: bool = True,
) -> Engine:
    """The engine for ``settings`` with its adapters attached, then ``observers``.

    ``create=False`` (every command but ``init`` and the demo) refuses a SQLite file that does
    not exist instead of creating an empty one. ``metrics=False``: no Prometheus registry (a
    companion process relays its hooks to the API's process, whose metrics count them)."""
    engine = Engine.from_settings(settings, create=create)
    adapters = adapters_for(settings, metrics=metrics)
    for adapter in adapters:
        if isinstance(adapter, Metrics):
            adapter.watch(engine)  # queue depth and lane lag, read at scrape time
    engine.observers.extend(adapters)
    engine.observers.extend(observers)
    return engine


def adapters_for(settings: Settings, *, metrics: bool = True) -> list[Observer]:
    """What the configured services need to hear of every ingest and rescore: the Celery
    dispatcher when a broker is set, the shared-cache invalidator when a Redis cache is, the
    log journal always, and the Prometheus metrics (in a registry of their own) unless
    ``metrics=False``."""
    found: list[Observer] = [Metrics(), Journal()] if metrics else [Journal()]
    if settings.broker_url:
        from rescore.dispatch import Dispatcher

        found.append(Dispatcher(settings))
    if settings.cache_url:
        from rescore.cache import RedisCache

        found.append(RedisCache(settings.cache_url, ttl=settings.cache_ttl).invalidator())
    return found
