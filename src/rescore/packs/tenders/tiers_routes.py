"""Tiers over HTTP, under ``/v1/packs/tenders``, and who a request is charged to.

- ``GET /planes`` (read): the tier table (``tiers.yaml``): prices and each feature's limits.
- ``GET /suscriptores/{suscriptor_id}/plan`` (read): a subscriber's tier, when it expires, and
  what each quota has left this period.

Who pays for a request (:data:`Charged`, a dependency of the routes that sell a feature):

- ``?suscriptor_id=`` : a front end acting for a subscriber (the web app, the bot); the
  feature's quota is charged to that subscriber.
- header ``X-Suscriptor-Id``: the subscriber's own program calling the API; the tier must have
  ``api_access`` (PROFESIONAL), each call counts as one ``api_access`` use, and the feature's
  quota is charged too.
- neither: an operator's call with an API key; nothing is charged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import Field, StrictStr
from sqlalchemy import select

from rescore.exceptions import InvalidInput, NotFound
from rescore.packs.sdk import AUTH, Reader, State, example_body, ok, source_read
from rescore.packs.tenders import business_metrics
from rescore.packs.tenders.intel_examples import SUBSCRIBER
from rescore.packs.tenders.schema import quota_usage, subscribers
from rescore.packs.tenders.tiers import catalog, consume, period

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["WITH_METRICS", "Charged", "plan_view", "router", "table_view"]

Uuid = Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F\-]{36}$")]


PLAN_EXAMPLE: dict[str, Any] = {
    "suscriptor_id": SUBSCRIBER,
    "tier": "profesional",
    "vence_en": "2026-12-12T09:00:00Z",
    "cuotas": [
        {
            "feature": "price_analysis",
            "usados": 3,
            "limite": "unlimited",
            "periodo": "2026-11-30",
            "reinicia_en": "2026-12-01T03:00:00Z",
        }
    ],
}


def _charged(
    state: State,
    suscriptor_id: Annotated[
        Uuid | None,
        Query(
            description="Charge this subscriber's quota (a front end acting for it).",
            openapi_examples=example_body(SUBSCRIBER),
        ),
    ] = None,
    x_suscriptor_id: Annotated[
        str | None,
        Header(description="The subscriber's own program (needs api_access: PROFESIONAL)."),
    ] = None,
) -> str | None:
    """The subscriber a request is charged to, or None (an operator's call)."""
    if x_suscriptor_id is None:
        return suscriptor_id
    if suscriptor_id is not None and suscriptor_id != x_suscriptor_id:
        raise InvalidInput("differs from the X-Suscriptor-Id header", field="query.suscriptor_id")
    consume(state.engine, x_suscriptor_id, "api_access")  # 403 below PROFESIONAL; counted
    return x_suscriptor_id


#: The subscriber a request is charged to (None: nobody).
Charged = Annotated[str | None, Depends(_charged)]


def _attach(state: State) -> None:
    """Put the business metrics in this service's ``/metrics`` (once; then a lookup)."""
    business_metrics.attach(state.engine)


#: A router dependency of every tenders router: the first tenders request registers the
#: business metrics.
WITH_METRICS = [Depends(_attach)]


def table_view() -> dict[str, Any]:
    """The tier table as the API and ``rescore tenders planes --json`` show it."""
    table = catalog()
    return {
        "moneda": "CLP",
        "tiers": [
            {"tier": t.name, "nombre": t.label, "precio_mensual": t.price_clp} for t in table.tiers
        ],
        "features": [
            {
                "feature": f.name,
                "nombre": f.label,
                "tipo": f.kind,
                "periodo": f.period,
                "limites": {t: ("unlimited" if n is None else n) for t, n in f.limits.items()},
            }
            for f in table.features.values()
        ],
    }


def plan_view(engine: Engine, subscriber_id: str, now: datetime | None = None) -> dict[str, Any]:
    """A subscriber's tier, expiry, and each quota's use this period."""
    moment = now or datetime.now(UTC)
    s, u = subscribers.c, quota_usage.c
    with source_read(engine) as conn:
        row = conn.execute(
            select(s.tier, s.zona_horaria, s.vence_en).where(s.id == subscriber_id)
        ).first()
        if row is None:
            raise NotFound(f"no subscriber {subscriber_id!r}", field="suscriptor_id")
        used = dict(
            conn.execute(
                select(u.feature + "/" + u.periodo, u.usados).where(
                    u.suscriptor_id == subscriber_id
                )
            ).all()
        )
    return {
        "suscriptor_id": subscriber_id,
        "tier": row.tier,
        "vence_en": None if row.vence_en is None else row.vence_en.isoformat() + "Z",
        "cuotas": _quotas(row.tier, row.zona_horaria, used, moment),
    }


def _quotas(tier: str, zone: str, used: dict[str, int], now: datetime) -> list[dict[str, Any]]:
    found = []
    for f in catalog().features.values():
        if f.kind != "quota" or tier not in f.limits or f.period is None:
            continue
        key, resets_at = period(f.period, zone, now)
        limit = f.limits[tier]
        found.append(
            {
                "feature": f.name,
                "usados": used.get(f"{f.name}/{key}", 0),
                "limite": "unlimited" if limit is None else limit,
                "periodo": key,
                "reinicia_en": resets_at.isoformat().replace("+00:00", "Z"),
            }
        )
    return found


def router() -> APIRouter:
    """The tier table and a subscriber's plan."""
    routes = APIRouter(tags=["tenders (seed 001)"], dependencies=WITH_METRICS)

    @routes.get("/planes", responses=ok(table_view(), *AUTH))
    def planes(who: Reader) -> dict[str, Any]:
        """Seed 001's tiers: monthly prices (CLP) and each feature's limit per tier."""
        return table_view()

    @routes.get("/suscriptores/{suscriptor_id}/plan", responses=ok(PLAN_EXAMPLE, *AUTH, 404, 503))
    def plan(
        who: Reader,
        state: State,
        suscriptor_id: Annotated[Uuid, Path(openapi_examples=example_body(SUBSCRIBER))],
    ) -> dict[str, Any]:
        """A subscriber's tier, when it expires, and what each quota has left this period."""
        return plan_view(state.engine, suscriptor_id)

    return routes
