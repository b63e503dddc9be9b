"""The dashboard's read pages: overview, entity, analytics, queue, search.

Each page gathers what it shows through engine operations (the one door), in the thread pool,
and renders a template; charts are plotly figures built here as data (:mod:`rescore.ui.charts`).
Every list is paged (``?page=N``, :data:`rescore.ui.base.PAGE_SIZE` rows).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from rescore.engine import Engine
from rescore.exceptions import EntityNotFound, InvalidInput
from rescore.ui import charts
from rescore.ui.base import PAGE_SIZE, Paged, guarded, offset, read, render, ui_of, utc_field
from rescore.ui.inprocess import InProcessError, get_json
from rescore.ui.session import Viewer, presented

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
Page = Query(1, ge=1, le=100_000)
HISTORY_POINTS = 200  # changes drawn on an entity's history chart


@router.get("")
async def overview(request: Request, page: int = Page) -> Response:
    async def show(request: Request, who: Viewer) -> Response:
        engine = ui_of(request).engine
        context = await read(_overview, engine, who.tenant, page)
        return render(request, "overview.html", context, who=who)

    return await guarded(request, show)


def _overview(engine: Engine, tenant: str, page: int) -> dict[str, Any]:
    rates, saturated = engine.event_rate(tenant=tenant)
    moves = engine.recent_moves(tenant=tenant, limit=PAGE_SIZE + 1, offset=offset(page))
    return {
        "rate": sum(rates.values()),
        "rates": rates,
        "saturated": saturated,
        "lag": engine.lane_lag(),
        "counts": engine.pending_counts(tenant=tenant),
        "moves": Paged.of(moves, page),
        "charts": {
            pack: charts.distribution(
                f"{pack}: {engine.headline_scorer(pack)}",
                engine.score_distribution(pack, tenant=tenant),
            )
            for pack in engine.registry.names
        },
    }


@router.get("/entity/{pack}/{entity:path}")
async def entity_page(
    request: Request,
    pack: str,
    entity: str,
    as_of: str | None = None,
    page: int = Page,
) -> Response:
    async def show(request: Request, who: Viewer) -> Response:
        at = utc_field(as_of, "as_of")
        engine = ui_of(request).engine
        context = await read(_entity, engine, who.tenant, pack, entity, at, page)
        return render(request, "entity.html", context | {"as_of": as_of or ""}, who=who)

    return await guarded(request, show)


def _entity(
    engine: Engine, tenant: str, pack: str, entity: str, at: Any, page: int
) -> dict[str, Any]:
    headline = engine.headline_scorer(pack)
    graph = engine.registry.graph(pack)
    current: dict[str, Any] = dict(engine.current(pack, entity, tenant=tenant))
    if at is not None:  # after current(): an entity never scored is a 404 either way
        past = _past(engine, pack, entity, at, tenant)
        current = {name: _as_score(entry) for name, entry in past.items()}
    table = engine.explain(pack, entity, tenant=tenant, limit=PAGE_SIZE + 1, offset=offset(page))
    drawn = engine.explain(pack, entity, tenant=tenant, limit=HISTORY_POINTS)
    points = [c for c in drawn.changes if c.scorer == headline]
    labels = {
        c.id: ", ".join(drawn.causes[i].type for i in c.event_ids if i in drawn.causes) or c.trigger
        for c in points
    }
    return {
        "pack": pack,
        "entity": entity,
        "headline": headline,
        "scorers": [(name, graph[name]) for name in reversed(graph.order) if name in current],
        "current": current,
        "changes": Paged.of(table.as_dict()["changes"], page),
        "chart": charts.history_line(f"{headline} over time", points, labels),
    }


def _past(engine: Engine, pack: str, entity: str, at: Any, tenant: str) -> dict[str, Any]:
    """The entries in force at ``at``; none when it was not scored yet then."""
    try:
        return dict(engine.as_of(pack, entity, at, tenant=tenant))
    except EntityNotFound:
        return {}


def _as_score(entry: Any) -> dict[str, Any]:
    """A history entry shown like a stored score (what was in force at the chosen time)."""
    return {
        "value": entry.after,
        "components": entry.components,
        "reasons": entry.reasons,
        "features": {},
        "version": entry.version,
        "computed_at": entry.changed_at,
    }


@router.get("/analytics")
async def analytics_index(request: Request) -> Response:
    first = ui_of(request).engine.registry.names[0]
    return RedirectResponse(f"/ui/analytics/{first}", status_code=303)


@router.get("/analytics/{pack}")
async def analytics(
    request: Request, pack: str, scorer: str | None = None, page: int = Page
) -> Response:
    async def show(request: Request, who: Viewer) -> Response:
        engine = ui_of(request).engine
        context = await read(_analytics, engine, who.tenant, pack, scorer, page)
        context["pack_data"] = await _pack_data(request, pack)
        return render(request, "analytics.html", context, who=who)

    return await guarded(request, show)


def _analytics(
    engine: Engine, tenant: str, pack: str, scorer: str | None, page: int
) -> dict[str, Any]:
    engine.registry[pack]
    chosen = scorer or engine.headline_scorer(pack)
    bins = engine.score_distribution(pack, chosen, tenant=tenant)
    falls = engine.biggest_falls(pack, tenant=tenant, limit=PAGE_SIZE + 1, offset=offset(page))
    return {
        "pack": pack,
        "scorer": chosen,
        "scorers": list(reversed(engine.registry.graph(pack).order)),
        "headline": engine.headline_scorer(pack),
        "total": sum(b.count for b in bins),
        "chart": charts.distribution(f"{pack}: {chosen} distribution", bins),
        "falls": Paged.of(falls, page),
    }


async def _pack_data(request: Request, pack: str) -> Any:
    """What the pack's own analytics route answers this viewer, when it ships a page for it."""
    ui = ui_of(request)
    if not ui.env.globals["has_pack_template"](pack, "analytics.html"):  # type: ignore[operator]
        return None
    try:
        return await get_json(request.app, f"/v1/packs/{pack}/analytics", presented(request) or "")
    except InProcessError as exc:
        return {"error": str(exc)}


@router.get("/queue")
async def queue(request: Request, page: int = Page, requeued: int | None = None) -> Response:
    async def show(request: Request, who: Viewer) -> Response:
        engine = ui_of(request).engine
        context = await read(_queue, engine, who.tenant, page)
        return render(request, "queue.html", context | {"requeued": requeued}, who=who)

    return await guarded(request, show)


def _queue(engine: Engine, tenant: str, page: int) -> dict[str, Any]:
    counts = engine.pending_counts(tenant=tenant)
    dead = engine.pending_items(
        tenant=tenant, state="dead", limit=PAGE_SIZE + 1, offset=offset(page)
    )
    lanes = {"critical": counts["critical"], "normal": counts["normal"], "dead": counts["dead"]}
    return {
        "counts": counts,
        "lag": engine.lane_lag(),
        "dead": Paged.of(dead, page),
        "chart": charts.bars("Pending by lane", lanes, colors=("#dc2626", "#2563eb", "#6b7280")),
    }


@router.get("/search")
async def search(request: Request, pack: str = "", q: str = "", page: int = Page) -> Response:
    async def show(request: Request, who: Viewer) -> Response:
        engine = ui_of(request).engine
        if not q.strip():
            raise InvalidInput("type the start of an entity's key", field="q")
        key = q.strip()
        packs = [pack] if pack else engine.registry.names
        if page == 1:
            found = await read(_exact, engine, who.tenant, packs, key)
            if found is not None:
                return RedirectResponse(f"/ui/entity/{found}/{key}", status_code=303)
        rows = await read(_like, engine, who.tenant, packs, key, page)
        context = {"q": key, "pack": pack, "results": Paged.of(rows, page)}
        return render(request, "search.html", context, who=who)

    return await guarded(request, show)


def _exact(engine: Engine, tenant: str, packs: list[str], key: str) -> str | None:
    """The pack in which ``key`` is a scored entity (the first of ``packs``), or None."""
    for name in packs:
        try:
            engine.current(name, key, tenant=tenant)
        except EntityNotFound:
            continue
        return name
    return None


def _like(
    engine: Engine, tenant: str, packs: list[str], prefix: str, page: int
) -> list[tuple[str, str]]:
    """One page of the matches of every pack in ``packs``, pack by pack, in key order."""
    start, found = offset(page), []
    for name in packs:  # each pack's first start + PAGE_SIZE + 1 matches suffice
        keys = engine.find_entities(name, prefix, tenant=tenant, limit=start + PAGE_SIZE + 1)
        found += [(name, k) for k in keys]
    return found[start : start + PAGE_SIZE + 1]
