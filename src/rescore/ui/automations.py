"""The dashboard's Automations page: the rules in force, what they fired lately, where the
deliveries stand (by status, with the last error), and requeueing dead deliveries (admin,
CSRF-checked). Everything through engine operations, like every other page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from rescore.engine import Engine
from rescore.ui import charts
from rescore.ui.base import PAGE_SIZE, NavItem, Paged, guarded, offset, read, render, ui_of
from rescore.ui.session import Viewer

__all__ = ["NAV", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
NAV = NavItem("Automations", "/ui/automations")
STATUSES = ("pending", "digest", "sent", "digested", "dead")
COLORS = ("#f59e0b", "#a855f7", "#16a34a", "#6b7280", "#dc2626")


@router.get("/automations")
async def automations(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    status: Annotated[str, Query(max_length=12)] = "",
    requeued: int | None = None,
) -> Response:
    async def show(request: Request, who: Viewer) -> Response:
        engine = ui_of(request).engine
        chosen = status if status in STATUSES else ""
        context = await read(_automations, engine, who.tenant, page, chosen)
        return render(request, "automations.html", context | {"requeued": requeued}, who=who)

    return await guarded(request, show)


def _automations(engine: Engine, tenant: str, page: int, status: str) -> dict[str, Any]:
    counts = engine.delivery_counts(tenant=tenant)
    rows = engine.deliveries(
        tenant=tenant, status=status or None, limit=PAGE_SIZE + 1, offset=offset(page)
    )
    return {
        "rules": [v.as_dict() for v in engine.automation_rules(tenant=tenant)],
        "firings": engine.firings(tenant=tenant, limit=10),
        "deliveries": Paged.of(rows, page),
        "counts": counts,
        "status": status,
        "statuses": STATUSES,
        "chart": charts.bars(
            "Deliveries by status", {s: counts.get(s, 0) for s in STATUSES}, colors=COLORS
        ),
    }


@router.post("/automations/requeue")
async def requeue(
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    delivery: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
) -> Response:
    """Put dead deliveries back in line (one, or every one when ``delivery`` is empty)."""

    async def act(request: Request, who: Viewer) -> Response:
        who.require_admin(csrf)
        engine = ui_of(request).engine
        ids = [delivery] if delivery is not None else None
        count = await read(engine.requeue_deliveries, tenant=who.tenant, ids=ids)
        return RedirectResponse(f"/ui/automations?requeued={count}", status_code=303)

    return await guarded(request, act)
