"""What every route needs: the app's state and the caller's principal, as FastAPI dependencies.

Packs that bring routes (``Pack.register_routes``) use these too, so authentication and tenancy
work the same on every endpoint::

    @router.post("/predict")
    def predict(body: PredictIn, who: Reader, state: State) -> PredictOut:
        ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from rescore.api.lookup import Lookup
from rescore.engine import Engine
from rescore.keys import KeyStore, Principal, Scope
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.runtime.heartbeat import Heartbeat
from rescore.settings import Settings

__all__ = [
    "SECURITY_SCHEMES",
    "Admin",
    "ApiState",
    "Reader",
    "State",
    "Writer",
    "app_state",
    "state_of",
    "token",
]

#: OpenAPI security schemes, declared on every operation that needs a key.
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "rsk_<id>_<secret>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


@dataclass(kw_only=True, slots=True)
class ApiState:
    """Everything the routes share, built once by ``create_app``."""

    engine: Engine
    settings: Settings
    keys: KeyStore
    lookup: Lookup
    runtime: EmbeddedRuntime | None
    heartbeat: Heartbeat  # this process's: the ?wait=true path claims work too


async def app_state(request: Request) -> ApiState:
    """Async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, which
    cost a third of a cached lookup's time."""
    return state_of(request)


def state_of(request: Request) -> ApiState:
    state: ApiState = request.app.state.rescore
    return state


def token(headers: Headers) -> str | None:
    """The API key a request presents: ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        return credentials.strip() if scheme.lower() == "bearer" else None
    return headers.get("x-api-key")


def _needs(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    """One flat dependency per scope: read the key, verify it (cached), check the scope.

    Flat on purpose: FastAPI's security classes as sub-dependencies cost a fifth of a cached
    lookup; the OpenAPI security schemes are declared once in ``create_app`` instead."""

    async def check(request: Request) -> Principal:
        presented = token(request.headers)
        keys = state_of(request).keys
        who = keys.cached(presented)
        if who is None:
            who = await run_in_threadpool(keys.verify, presented)
        who.require(scope)
        return who

    return check


State = Annotated[ApiState, Depends(app_state)]
Reader = Annotated[Principal, Depends(_needs(Scope.READ))]
Writer = Annotated[Principal, Depends(_needs(Scope.WRITE))]
Admin = Annotated[Principal, Depends(_needs(Scope.ADMIN))]
