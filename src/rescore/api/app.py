"""The HTTP service: ``create_app`` builds it, ``rescore serve`` runs it under uvicorn.

By default the embedded runtime's workers run in the same process, so ``rescore serve`` alone
ingests, rescores and answers. Routes that packs bring are mounted under ``/v1/packs/<pack>``
(contract routes at the root; see :mod:`rescore.api.mount`), sharing the same authentication
and error handling. ``/docs`` (Swagger UI) and ``/redoc`` are served with their assets from the
``fastapi-offline`` package: they work without a network. The web dashboard is at ``/ui``
(:mod:`rescore.ui`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.routing import BaseRoute

from rescore import __version__
from rescore.api.automations import router as automations
from rescore.api.deps import ApiState
from rescore.api.guard import BodyGuard, rescore_error, validation_error
from rescore.api.hits import CachedHits
from rescore.api.lookup import Lookup
from rescore.api.mount import mount_packs
from rescore.api.openapi import build_openapi
from rescore.api.routes import LOOKUP_PATH, router
from rescore.api.telemetry import RequestTimer
from rescore.api.telemetry import router as telemetry
from rescore.bootstrap import open_engine
from rescore.engine import Engine
from rescore.exceptions import RescoreError, StorageUnavailable
from rescore.heap import settle
from rescore.metrics import Metrics, metrics_of
from rescore.reports import Observer
from rescore.runtime.companion import Companion
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.runtime.heartbeat import Heartbeat
from rescore.settings import Settings
from rescore.ui import automations as automations_page
from rescore.ui import mount_ui

if TYPE_CHECKING:
    from rescore.cache import RedisCache

__all__ = ["create_app"]

log = logging.getLogger(__name__)

DESCRIPTION = """
Business events in; only the entities they touch are rescored (critical events at once,
normal ones coalesced and batched); every score served with its breakdown, its freshness and
the events that moved it.

Authenticate with an API key made by `rescore --tenant T keys create --scope read|write|admin`,
sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`. A key's tenant bounds what it
reads and writes.
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    workers: bool = True,
    companion: bool = False,
) -> FastAPI:
    """Build the app. ``workers=False`` serves without rescoring in this process (when
    separate workers run); ``companion=True`` (``rescore serve`` with
    ``RESCORE_SPLIT_WORKERS``) rescores critical work here and the rest in a companion
    process (:mod:`rescore.runtime.companion`)."""
    settings = settings or Settings()
    engine = engine or open_engine(settings)
    metrics = _metrics(engine)
    lookup = Lookup(
        engine,
        ttl=settings.cache_ttl,
        snapshot_dir=settings.snapshot_dir,
        shared=_shared(settings),
        count=metrics.cache_result,
    )
    engine.observers.append(lookup)
    heartbeat = Heartbeat(engine)  # one per process, for the runtime and the ?wait=true path
    state = ApiState(
        engine=engine,
        settings=settings,
        keys=engine.keys,
        lookup=lookup,
        runtime=_runtime(engine, heartbeat, companion, [lookup, metrics]) if workers else None,
        heartbeat=heartbeat,
    )
    app = FastAPIOffline(
        title="rescore",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan(state),
        swagger_ui_parameters={"validatorUrl": None},  # the online validator is a CDN call
    )
    app.state.rescore = state
    app.state.metrics = metrics
    app.openapi = lambda: build_openapi(app, engine.registry)  # type: ignore[method-assign]
    app.add_exception_handler(RescoreError, rescore_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.include_router(router)
    app.add_middleware(CachedHits, state=state, route=_lookup_route())
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestTimer, metrics=metrics)  # outermost: times the guard's 413s too
    app.include_router(automations)
    app.include_router(telemetry)
    mount_packs(app, engine.registry)
    mount_ui(app, engine, pages=[(automations_page.NAV, automations_page.router)])
    return app


def _runtime(
    engine: Engine, heartbeat: Heartbeat, companion: bool, replay_to: list[Observer]
) -> EmbeddedRuntime:
    """The embedded runtime, with a companion process for all but the critical lane when
    asked (its hooks replayed to this process's lookup cache and metrics)."""
    beside = Companion(engine.settings, replay_to=replay_to) if companion else None
    return EmbeddedRuntime(engine, heartbeat=heartbeat, companion=beside)


def _lookup_route() -> BaseRoute:
    """The route :class:`CachedHits` answers the hits of."""
    return next(r for r in router.routes if getattr(r, "path", None) == LOOKUP_PATH)


def _metrics(engine: Engine) -> Metrics:
    """The engine's metrics (``open_engine`` attaches them); an engine built without
    :mod:`rescore.bootstrap` gets its own here, so ``/metrics`` always answers."""
    found = metrics_of(engine)
    if found is None:
        found = Metrics()
        found.watch(engine)
        engine.observers.append(found)
    return found


def _shared(settings: Settings) -> RedisCache | None:
    """The Redis lookup cache, when ``RESCORE_CACHE_URL`` names one."""
    if not settings.cache_url:
        return None
    from rescore.cache import RedisCache

    return RedisCache(settings.cache_url, ttl=settings.cache_ttl)


def _lifespan(state: ApiState):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            state.engine.require_schema()  # only init and migrate change a schema
        except StorageUnavailable as exc:
            log.warning("starting without a database (%s): lookups answer from snapshots", exc)
        state.heartbeat.start()  # takes back a dead predecessor's claims before workers start
        # listen with the packs' models loaded: the first request must not wait for them
        await asyncio.to_thread(state.engine.registry.prepare)
        settle()  # start-up's objects out of the collector's full passes (rescore.heap)
        if state.runtime is not None:
            state.runtime.start()
        try:
            yield
        finally:
            if state.runtime is not None:
                state.runtime.stop()
            state.heartbeat.stop()
            state.lookup.close()  # before the engine: a refresh in flight still reads
            state.engine.close()

    return lifespan
