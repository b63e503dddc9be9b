"""The credit pack's own HTTP routes, under ``/v1/packs/credit``, behind rescore's API keys.

``GET /v1/packs/credit/drift`` (scope read): the latest drift report of the probability-of-
default model (:mod:`rescore.packs.credit.drift`). Before the first check (the monthly job or
``rescore ml drift credit``) it runs one, stores it and raises no alert: a caller always gets
a report, never a 404 for a job that has not come round yet.

``GET /v1/packs/credit/analytics`` (scope read): that report and the last checks summed up,
which the dashboard's credit analytics page shows (``ui/analytics.html``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from rescore.packs.credit import examples as ex
from rescore.packs.sdk import AUTH, Reader, State, ok

if TYPE_CHECKING:
    from rescore.packs.credit.pack import CreditPack

__all__ = ["router"]


def router(pack: CreditPack) -> APIRouter:
    """The pack's routes, bound to ``pack`` (its ``models_dir`` holds the reports)."""
    from rescore.packs.credit.drift import latest_report, recent_reports

    routes = APIRouter(tags=["credit"])

    @routes.get(
        "/drift",
        summary="The PD model's latest drift report (PSI per feature, AUC on new outcomes)",
        responses=ok(ex.DRIFT, *AUTH, 503),
    )
    def get_drift(who: Reader, state: State) -> dict[str, Any]:
        return _latest(state)

    @routes.get(
        "/analytics",
        summary="The PD model's drift: the latest report and the last checks, for the dashboard",
        responses=ok(ex.ANALYTICS, *AUTH, 503),
    )
    def get_analytics(who: Reader, state: State) -> dict[str, Any]:
        latest = _latest(state)
        return {"drift": latest, "checks": recent_reports(pack.settings.models_dir)}

    def _latest(state: Any) -> dict[str, Any]:
        report = latest_report(pack.settings.models_dir)
        if report is None:
            report = pack.check_drift(state.engine, alert=False)
        return report

    return routes
