"""The HTTP service: ``create_app`` builds it, ``rescore serve`` runs it under uvicorn.

By default the embedded runtime's workers run in the same process, so ``rescore serve`` alone
ingests, rescores and answers. Routes that packs bring (``Pack.register_routes``) are mounted
as they are, sharing the same authentication and error handling.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from rescore import __version__
from rescore.api.deps import SECURITY_SCHEMES, ApiState
from rescore.api.lookup import Lookup
from rescore.api.routes import router
from rescore.bootstrap import open_engine
from rescore.engine import Engine
from rescore.exceptions import RescoreError, StorageUnavailable
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.runtime.heartbeat import Heartbeat
from rescore.settings import Settings

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
    settings: Settings | None = None, *, engine: Engine | None = None, workers: bool = True
) -> FastAPI:
    """Build the app. ``workers=False`` serves without rescoring in this process (when
    separate workers run)."""
    settings = settings or Settings()
    engine = engine or open_engine(settings)
    lookup = Lookup(
        engine, ttl=settings.cache_ttl, snapshot_dir=settings.snapshot_dir, shared=_shared(settings)
    )
    engine.observers.append(lookup)
    heartbeat = Heartbeat(engine)  # one per process, for the runtime and the ?wait=true path
    state = ApiState(
        engine=engine,
        settings=settings,
        keys=engine.keys,
        lookup=lookup,
        runtime=EmbeddedRuntime(engine, heartbeat=heartbeat) if workers else None,
        heartbeat=heartbeat,
    )
    app = FastAPI(
        title="rescore",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan(state),
    )
    app.state.rescore = state
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_exception_handler(RescoreError, _rescore_error)
    app.include_router(router)
    for name in engine.registry.names:
        for pack_router in engine.registry[name].register_routes():
            app.include_router(pack_router)
    return app


OPEN = {"/healthz", "/readyz"}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the API-key security every operation but health requires."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for path, operations in schema["paths"].items():
            if path not in OPEN:
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}, {"apiKey": []}]
        app.openapi_schema = schema
    return app.openapi_schema


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
            state.engine.migrate()
        except StorageUnavailable as exc:
            log.warning("starting without a database (%s): lookups answer from snapshots", exc)
        state.heartbeat.start()  # takes back a dead predecessor's claims before workers start
        if state.runtime is not None:
            state.runtime.start()
        try:
            yield
        finally:
            if state.runtime is not None:
                state.runtime.stop()
            state.heartbeat.stop()
            state.engine.close()

    return lifespan


async def _rescore_error(_request: Request, exc: Exception) -> JSONResponse:
    """One handler for every rescore error. Invalid input (422) takes the same shape as
    FastAPI's own validation errors, so a client parses one format; the rest are
    ``{"detail": message, "field": name}``."""
    assert isinstance(exc, RescoreError)
    if exc.http_status == 422:
        loc = ["body", *(exc.field.split(".") if exc.field else [])]
        detail = [{"loc": loc, "msg": exc.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)
    return JSONResponse({"detail": exc.message, "field": exc.field}, status_code=exc.http_status)
