"""The credit pack's own HTTP routes, under ``/v1/packs/credit``, behind rescore's API keys.

``GET /v1/packs/credit/drift`` (scope read): the latest drift report of the probability-of-
default model (:mod:`rescore.packs.credit.drift`), 404 before the first check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from rescore.exceptions import NotFound
from rescore.packs.credit import examples as ex
from rescore.packs.sdk import AUTH, Reader, ok

if TYPE_CHECKING:
    from rescore.packs.credit.pack import CreditPack

__all__ = ["router"]


def router(pack: CreditPack) -> APIRouter:
    """The pack's routes, bound to ``pack`` (its ``models_dir`` holds the reports)."""
    from rescore.packs.credit.drift import latest_report

    routes = APIRouter(tags=["credit"])

    @routes.get(
        "/drift",
        summary="The PD model's latest drift report (PSI per feature, AUC on new outcomes)",
        responses=ok(ex.DRIFT, *AUTH, 404),
    )
    def get_drift(who: Reader) -> dict[str, Any]:
        report = latest_report(pack.settings.models_dir)
        if report is None:
            raise NotFound("no drift report yet: run `rescore ml drift credit` or wait for the job")
        return report

    return routes
