"""The leads pack's HTTP routes, under ``/v1/packs/leads``, behind rescore's API keys.

``GET /v1/packs/leads/analytics`` (scope read) returns the seed's dashboard payload
(``scoreDistribution``, ``platformSuccessRates``, ``premiumLeadsCount``, ``averageScore``,
``validatedContactsCount``, ``multiPlatformCount``), computed fresh from the source database
by the vectorized scorer. The service mounts the router under ``/v1/packs/leads``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from rescore.packs.leads import examples as ex
from rescore.packs.sdk import AUTH, Reader, State, ok
from rescore.population import DatabaseSource

if TYPE_CHECKING:
    from rescore.packs.leads.pack import LeadsPack

__all__ = ["router"]


def router(pack: LeadsPack) -> APIRouter:
    """The pack's routes, bound to ``pack``."""
    from rescore.packs.leads.analytics import analytics

    routes = APIRouter(tags=["leads"])

    @routes.get(
        "/analytics",
        summary="Lead-scoring analytics (the seed's dashboard payload)",
        responses=ok(ex.ANALYTICS, *AUTH, 503),
    )
    def get_analytics(who: Reader, state: State) -> dict[str, Any]:
        return analytics(pack, DatabaseSource(state.engine.source)).as_json()

    return routes
