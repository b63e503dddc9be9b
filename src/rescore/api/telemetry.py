"""``GET /metrics``: the Prometheus text exposition of the app's engine (see
:mod:`rescore.metrics` and the README's metrics list). Open like the health checks: Prometheus
scrapes without an API key, and no label carries an entity or a secret.

:class:`RequestTimer` times every request by its route *template*
(``/v1/scores/{pack}/{entity}``), never the raw path, so an entity key never becomes a label.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rescore.api import examples as ex
from rescore.metrics import CONTENT_TYPE, Metrics

__all__ = ["UNMATCHED", "RequestTimer", "router"]

#: The route label of a request no route matched (a 404 for an unknown path).
UNMATCHED = "unmatched"

router = APIRouter()


@router.get(
    "/metrics",
    tags=["health"],
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={
        200: {
            "description": "Counters, histograms and queue gauges",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": ex.METRICS}},
        }
    },
)
def metrics(request: Request) -> Response:
    """Sync on purpose: the queue gauges read the database, in the thread pool."""
    found: Metrics = request.app.state.metrics
    return Response(content=found.exposition(), media_type=CONTENT_TYPE)


class RequestTimer:
    """Pure ASGI middleware (no per-request task or body copy, so a cached lookup stays
    fast): observes each HTTP request's duration by route template, method and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before responding

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.request_done(_template(scope), scope["method"], status, seconds)


def _template(scope: Scope) -> str:
    """The matched route's path template; Starlette's router leaves the route in the scope."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
