"""Payments over HTTP, under ``/v1/packs/tenders``.

- ``POST /stripe``: Stripe's webhook. Stripe cannot send a rescore key: it is let in by its
  ``Stripe-Signature`` (:func:`.payments.verify` with ``RESCORE_TENDERS_STRIPE_SECRET``); a
  forged or stale signature is a 400 and changes nothing, a replayed event id answers
  ``"resultado": "duplicate"`` and changes nothing. Unset secret: 503. Left out of the OpenAPI
  document: a signed example cannot be static (the signature expires in five minutes).
- ``GET /suscriptores/{suscriptor_id}/pagos`` (read): a subscriber's payments, newest first.
- ``GET /pagos/{pago_id}/factura.pdf`` (read): the invoice of a paid payment.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import Field, StrictStr
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from rescore.exceptions import InvalidInput
from rescore.packs.sdk import AUTH, Reader, State, errors, example_body, ok, source_read
from rescore.packs.tenders.intel_examples import SUBSCRIBER
from rescore.packs.tenders.invoice import invoice_pdf
from rescore.packs.tenders.payments import HEADER, WebhookClosed, apply, payment_id, verify
from rescore.packs.tenders.schema import payments
from rescore.packs.tenders.tiers_routes import WITH_METRICS

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["payment_views", "router"]

Uuid = Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F\-]{36}$")]
#: The demo's payment of MedicoSur (``evt_demo_003``).
PAYMENT = payment_id("evt_demo_003")
PAYMENTS_EXAMPLE: dict[str, Any] = {
    "suscriptor_id": SUBSCRIBER,
    "pagos": [
        {
            "id": PAYMENT,
            "evento_id": "evt_demo_003",
            "tier": "profesional",
            "monto_clp": 19990,
            "estado": "pagado",
            "creado_en": "2026-11-12T09:00:00Z",
            "vence_en": "2026-12-12T09:00:00Z",
        }
    ],
}


def router(pack: TendersPack) -> APIRouter:
    """The payment routes, bound to ``pack`` (its settings hold the Stripe secret)."""
    routes = APIRouter(tags=["tenders (seed 001)"], dependencies=WITH_METRICS)

    @routes.post("/stripe", include_in_schema=False)
    async def stripe(
        request: Request,
        state: State,
        signature: Annotated[str | None, Header(alias=HEADER, max_length=2048)] = None,
    ) -> dict[str, Any]:
        """Stripe's signed events: payments upgrade, failed renewals are marked."""
        secret = pack.settings.stripe_secret
        if secret is None:
            raise WebhookClosed()
        payload = await request.body()
        tolerance = pack.settings.stripe_tolerance
        verify(payload, signature, secret.get_secret_value(), now=time.time(), tolerance=tolerance)
        event = _json(payload)
        return await run_in_threadpool(lambda: apply(state.engine, event, now=pack.as_of()))

    @routes.get("/suscriptores/{suscriptor_id}/pagos", responses=ok(PAYMENTS_EXAMPLE, *AUTH, 503))
    def listed(
        who: Reader,
        state: State,
        suscriptor_id: Annotated[Uuid, Path(openapi_examples=example_body(SUBSCRIBER))],
    ) -> dict[str, Any]:
        """A subscriber's payments and failed renewals, newest first."""
        return {"suscriptor_id": suscriptor_id, "pagos": payment_views(state.engine, suscriptor_id)}

    @routes.get(
        "/pagos/{pago_id}/factura.pdf",
        response_class=Response,
        responses={
            200: {"content": {"application/pdf": {}}, "description": "The invoice (PDF)."},
            **errors(*AUTH, 404, 503),
        },
    )
    def invoice(
        who: Reader,
        state: State,
        pago_id: Annotated[Uuid, Path(openapi_examples=example_body(PAYMENT))],
    ) -> Response:
        """The invoice of a paid payment: subscriber, tier, period, net, IVA and total (CLP)."""
        pdf = invoice_pdf(state.engine, pago_id)
        headers = {"Content-Disposition": f'inline; filename="factura-{pago_id}.pdf"'}
        return Response(pdf, media_type="application/pdf", headers=headers)

    return routes


def _json(payload: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidInput("not JSON", field="body") from None
    if not isinstance(event, dict):
        raise InvalidInput("must be a Stripe event object", field="body")
    return event


def payment_views(engine: Engine, subscriber_id: str) -> list[dict[str, Any]]:
    """A subscriber's ``pagos`` rows, newest first, times in ISO 8601 UTC."""
    p = payments.c
    query = (
        select(p.id, p.evento_id, p.tier, p.monto_clp, p.estado, p.creado_en, p.vence_en)
        .where(p.suscriptor_id == subscriber_id)
        .order_by(p.creado_en.desc(), p.id)
    )
    with source_read(engine) as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            **dict(r),
            "creado_en": r["creado_en"].isoformat() + "Z",
            "vence_en": None if r["vence_en"] is None else r["vence_en"].isoformat() + "Z",
        }
        for r in rows
    ]
