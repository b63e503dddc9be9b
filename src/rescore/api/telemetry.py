"""``GET /metrics``: the Prometheus text exposition of the app's engine (see
:mod:`rescore.metrics` and the README's metrics list). Open like the health checks: Prometheus
scrapes without an API key, and no label carries an entity or a secret."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from rescore.api import examples as ex
from rescore.metrics import CONTENT_TYPE, Metrics

__all__ = ["router"]

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
