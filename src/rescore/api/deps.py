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
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from rescore.api.keys import KeyStore, Principal, Scope
from rescore.api.lookup import Lookup
from rescore.engine import Engine
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.settings import Settings

__all__ = ["Admin", "ApiState", "Reader", "State", "Writer", "app_state"]

bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer rsk_<id>_<secret>")
header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: rsk_...")


@dataclass(kw_only=True, slots=True)
class ApiState:
    """Everything the routes share, built once by ``create_app``."""

    engine: Engine
    settings: Settings
    keys: KeyStore
    lookup: Lookup
    runtime: EmbeddedRuntime | None


def app_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.rescore
    return state


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(header)],
) -> Principal:
    """The caller, from ``Authorization: Bearer`` or ``X-API-Key``."""
    token = credentials.credentials if credentials else api_key
    keys = app_state(request).keys
    known = keys.cached(token)
    return known if known is not None else await run_in_threadpool(keys.verify, token)


def _needs(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        who.require(scope)
        return who

    return check


State = Annotated[ApiState, Depends(app_state)]
Reader = Annotated[Principal, Depends(_needs(Scope.READ))]
Writer = Annotated[Principal, Depends(_needs(Scope.WRITE))]
Admin = Annotated[Principal, Depends(_needs(Scope.ADMIN))]
