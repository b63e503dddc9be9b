"""Payments: Stripe's signed webhook events change a subscriber's tier, once each.

Stripe signs every event it POSTs with the endpoint's secret (``whsec_...``,
``RESCORE_TENDERS_STRIPE_SECRET``)::

    Stripe-Signature: t=1795958400,v1=<hex HMAC-SHA256 of "1795958400.<raw body>">

:func:`verify` recomputes it over the raw bytes, compares in constant time, and refuses a
timestamp more than ``RESCORE_TENDERS_STRIPE_TOLERANCE`` seconds (300) from now, so a captured
event cannot be replayed later. :func:`apply` then records the event id in ``eventos_pago`` in
the same transaction as its effects: a replay of a verified event changes nothing.

Events (the subscriber and tier come from the object's ``metadata``, or its
``subscription_details.metadata`` on invoices, set when the checkout was created)::

    checkout.session.completed   mode "payment": a month of the tier paid -> upgrade
                                 mode "subscription": left to the invoice.paid that follows
    invoice.paid                 a month paid (first or renewal) -> tier, vence_en + 1 month
    invoice.payment_failed       a renewal failed -> recorded; the downgrade schedule puts the
                                 subscriber on free after the grace period unless paid by then
    anything else                recorded as ignored

Amounts are CLP, a zero-decimal currency in Stripe (``amount_paid: 9990`` is $9.990).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, update
from sqlalchemy.exc import IntegrityError

from rescore.exceptions import InvalidInput, RescoreError, ServiceUnavailable
from rescore.packs.sdk import source_write
from rescore.packs.tenders.schema import payment_events, payments
from rescore.packs.tenders.subscriptions import (
    check_paid_tier,
    plus_month,
    set_tier,
    subscription,
    tier_event,
)

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["BadSignature", "WebhookClosed", "apply", "payment_id", "signature_header", "verify"]

#: Stripe's header, as FastAPI names it.
HEADER = "Stripe-Signature"


class BadSignature(RescoreError):
    """The Stripe-Signature header does not prove this body came from Stripe just now."""

    http_status = 400


class WebhookClosed(ServiceUnavailable):
    """The Stripe webhook is off: set RESCORE_TENDERS_STRIPE_SECRET to the endpoint's secret."""


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """What Stripe sends for ``payload`` at ``timestamp`` (tests and local tools sign with it)."""
    return f"t={timestamp},v1={_digest(payload, secret, timestamp)}"


def _digest(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(payload: bytes, header: str | None, secret: str, *, now: float, tolerance: int) -> None:
    """Refuse (:class:`BadSignature`) a body whose header lacks a ``v1`` HMAC of
    ``"<t>.<body>"`` under ``secret``, or whose ``t`` is over ``tolerance`` seconds off."""
    field = "header.stripe-signature"
    timestamp, signatures = _parse(header)
    if timestamp is None or not signatures:
        raise BadSignature("missing or not t=<unix>,v1=<hex>", field=field)
    if abs(now - timestamp) > tolerance:
        raise BadSignature(f"timestamp is over {tolerance} s from now (a replay?)", field=field)
    expected = _digest(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise BadSignature("no v1 signature matches the body", field=field)


def _parse(header: str | None) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


def apply(engine: Engine, event: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """Apply a verified event once: ``{"id", "tipo", "resultado", ...}``; ``resultado`` is
    ``duplicate`` for an event id already seen (nothing changes). A malformed event is an
    :class:`InvalidInput` naming the field, and nothing is written."""
    event_id, kind, obj = _envelope(event)
    changes: list[dict[str, Any]] = []
    with source_write(engine) as conn:
        if not _first_time(conn, event_id, kind, now):
            return {"id": event_id, "tipo": kind, "resultado": "duplicate"}
        found = _apply(engine, conn, event_id, kind, obj, now, changes)
        conn.execute(
            update(payment_events)
            .where(payment_events.c.id == event_id)
            .values(resultado=found["resultado"], suscriptor_id=found.get("suscriptor_id"))
        )
    if changes:
        engine.ingest(changes)
    return {"id": event_id, "tipo": kind} | found


def _envelope(event: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        raise InvalidInput("must be the event's id (evt_...)", field="id")
    if not isinstance(kind, str) or not kind:
        raise InvalidInput("must be the event's type", field="type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise InvalidInput("must be the event's object", field="data.object")
    return event_id, kind, obj


def _first_time(conn: Connection, event_id: str, kind: str, now: datetime) -> bool:
    """Record the event id; False when it was already there (a replay, or a racing twin that
    committed first: the unique key makes the second wait, then fail here)."""
    row = {"id": event_id, "tipo": kind, "resultado": "received", "recibido_en": now}
    try:
        with conn.begin_nested():
            conn.execute(insert(payment_events).values(row))
    except IntegrityError:
        return False
    return True


def _apply(
    engine: Engine,
    conn: Connection,
    event_id: str,
    kind: str,
    obj: Mapping[str, Any],
    now: datetime,
    changes: list[dict[str, Any]],
) -> dict[str, Any]:
    if kind == "checkout.session.completed":
        if obj.get("mode") == "subscription":
            return {"resultado": "deferred to invoice.paid"}
        return _paid(engine, conn, event_id, obj, "amount_total", now, changes)
    if kind == "invoice.paid":
        return _paid(engine, conn, event_id, obj, "amount_paid", now, changes)
    if kind == "invoice.payment_failed":
        return _failed(conn, event_id, obj, now)
    return {"resultado": "ignored"}


def _paid(
    engine: Engine,
    conn: Connection,
    event_id: str,
    obj: Mapping[str, Any],
    amount_field: str,
    now: datetime,
    changes: list[dict[str, Any]],
) -> dict[str, Any]:
    """A month of the tier paid: from the current expiry when renewing the same tier early,
    else from now."""
    subscriber_id, tier = _paid_for(obj)
    check_paid_tier(tier, "data.object.metadata.tier")
    amount = _amount(obj, amount_field)
    current = subscription(conn, subscriber_id)
    start = now
    if current["tier"] == tier and current["vence_en"] is not None:
        start = max(now, current["vence_en"])
    until = plus_month(start)
    payment = _record(conn, event_id, subscriber_id, tier, amount, "pagado", now, until)
    done = set_tier(engine, subscriber_id, tier, vence_en=until, now=now, conn=conn)
    changes.append(tier_event(subscriber_id, done["antes"], tier, until, now, f"pago:{event_id}"))
    return {
        "resultado": "upgraded" if done["antes"] != tier else "renewed",
        "suscriptor_id": subscriber_id,
        "tier": tier,
        "vence_en": until.isoformat() + "Z",
        "pago_id": payment,
    }


def _failed(
    conn: Connection, event_id: str, obj: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    subscriber_id, tier = _metadata(obj, need_tier=False)
    current = subscription(conn, subscriber_id)
    amount = _amount(obj, "amount_due")
    payment = _record(
        conn, event_id, subscriber_id, tier or current["tier"], amount, "fallido", now, None
    )
    return {"resultado": "payment failed", "suscriptor_id": subscriber_id, "pago_id": payment}


def _paid_for(obj: Mapping[str, Any]) -> tuple[str, str]:
    """The subscriber and the tier a payment is for (both required)."""
    subscriber_id, tier = _metadata(obj, need_tier=True)
    assert tier is not None  # _metadata refused it otherwise
    return subscriber_id, tier


def _metadata(obj: Mapping[str, Any], *, need_tier: bool) -> tuple[str, str | None]:
    meta = obj.get("metadata") or {}
    details = obj.get("subscription_details")
    if not meta.get("suscriptor_id") and isinstance(details, Mapping):
        meta = details.get("metadata") or {}
    subscriber_id, tier = meta.get("suscriptor_id"), meta.get("tier")
    if not isinstance(subscriber_id, str) or not subscriber_id:
        raise InvalidInput("must name the subscriber", field="data.object.metadata.suscriptor_id")
    if need_tier and (not isinstance(tier, str) or not tier):
        raise InvalidInput("must name the tier paid for", field="data.object.metadata.tier")
    return subscriber_id, tier if isinstance(tier, str) and tier else None


def _amount(obj: Mapping[str, Any], name: str) -> int:
    currency = str(obj.get("currency", "clp")).lower()
    if currency != "clp":
        raise InvalidInput(f"{currency!r}: payments are in CLP", field="data.object.currency")
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput("must be a whole number of pesos", field=f"data.object.{name}")
    return value


def _record(
    conn: Connection,
    event_id: str,
    subscriber_id: str,
    tier: str,
    amount: int,
    state: str,
    now: datetime,
    until: datetime | None,
) -> str:
    """The ``pagos`` row of an event."""
    row = {
        "id": payment_id(event_id),
        "evento_id": event_id,
        "suscriptor_id": subscriber_id,
        "tier": tier,
        "monto_clp": amount,
        "estado": state,
        "creado_en": now,
        "vence_en": until,
    }
    conn.execute(insert(payments).values(row))
    return str(row["id"])


def payment_id(event_id: str) -> str:
    """The ``pagos.id`` of the payment an event recorded (a UUID derived from the event id)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stripe:{event_id}"))
