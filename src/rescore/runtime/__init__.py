"""Runtimes that drive the engine: in-process threads (embedded) and Celery (distributed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rescore.runtime.embedded import EmbeddedRuntime

if TYPE_CHECKING:
    from rescore.engine import Observer
    from rescore.settings import Settings

__all__ = ["EmbeddedRuntime", "observers_for"]


def observers_for(settings: Settings) -> list[Observer]:
    """What the configured services need to hear of every ingest and rescore: the Celery
    dispatcher when a broker is set, the shared-cache invalidator when a Redis cache is."""
    found: list[Observer] = []
    if settings.broker_url:
        from rescore.runtime.celery import Dispatcher

        found.append(Dispatcher(settings))
    if settings.cache_url:
        from rescore.cache import RedisCache

        found.append(RedisCache(settings.cache_url, ttl=settings.cache_ttl).invalidator())
    return found
