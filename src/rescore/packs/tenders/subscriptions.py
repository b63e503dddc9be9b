"""Subscriptions: a subscriber's tier and until when it is paid, changed in one place.

- :func:`set_tier` writes ``suscriptores.tier`` and ``vence_en`` and announces the change to
  the engine (``subscriber_updated``, lane ``none``: recorded, rescoring nothing). The payment
  webhook, ``rescore tenders suscripcion set-tier`` and the downgrade schedule all call it.
- :func:`downgrade_due` is the schedule ``tenders.downgrade``: a paid subscriber whose last
  renewal failed, or whose paid period ended, more than the grace period ago
  (``RESCORE_TENDERS_GRACE_DAYS``, 3 by default) goes back to ``free``.
- :class:`ExpiringAudience` (``vencimientos``) is who the ``tenders.recordatorio`` rule
  reminds, at 09:00 in each subscriber's time zone, three days before the paid period ends.

Times are naive UTC, as in the rest of the pack.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, select, update

from rescore.automations import Audience
from rescore.exceptions import InvalidInput, NotFound
from rescore.packs.sdk import source_read, source_write
from rescore.packs.tenders.schema import payments, subscribers
from rescore.packs.tenders.tiers import catalog

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = [
    "REMINDER_DAYS",
    "ExpiringAudience",
    "check_paid_tier",
    "downgrade_due",
    "plus_month",
    "set_tier",
    "subscription",
    "tier_event",
]

#: Days before ``vence_en`` the reminder goes out (seed 001, phase 6.3).
REMINDER_DAYS = 3


def plus_month(moment: datetime) -> datetime:
    """The same day and time a month later (31 January -> 28 or 29 February)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def subscription(conn: Connection, subscriber_id: str) -> dict[str, Any]:
    """A subscriber's name, tier, zone and expiry, or :class:`NotFound`."""
    s = subscribers.c
    query = select(s.id, s.nombre, s.tier, s.zona_horaria, s.vence_en, s.telegram_chat_id)
    row = conn.execute(query.where(s.id == subscriber_id)).mappings().first()
    if row is None:
        raise NotFound(f"no subscriber {subscriber_id!r}", field="suscriptor_id")
    return dict(row)


def set_tier(
    engine: Engine,
    subscriber_id: str,
    tier: str,
    *,
    vence_en: datetime | None,
    now: datetime,
    conn: Connection | None = None,
    reason: str = "manual",
) -> dict[str, Any]:
    """Put the subscriber on ``tier`` until ``vence_en`` (None: never expires) and ingest
    ``subscriber_updated``. With ``conn``, inside the caller's transaction (the event is then
    the caller's to ingest after commit: see :func:`tier_event`)."""
    catalog().tier(tier)  # an unknown tier is refused before anything is written
    if conn is None:
        with source_write(engine) as own:
            before = _set(own, subscriber_id, tier, vence_en)
        engine.ingest([tier_event(subscriber_id, before, tier, vence_en, now, reason)])
        return {"suscriptor_id": subscriber_id, "tier": tier, "antes": before}
    before = _set(conn, subscriber_id, tier, vence_en)
    return {"suscriptor_id": subscriber_id, "tier": tier, "antes": before}


def _set(conn: Connection, subscriber_id: str, tier: str, vence_en: datetime | None) -> str:
    before = str(subscription(conn, subscriber_id)["tier"])
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(tier=tier, vence_en=vence_en)
    )
    return before


def tier_event(
    subscriber_id: str,
    before: str,
    tier: str,
    vence_en: datetime | None,
    now: datetime,
    reason: str,
) -> dict[str, Any]:
    """The ``subscriber_updated`` event of a tier change (its id names the change, so
    announcing the same change twice stores it once)."""
    until = None if vence_en is None else vence_en.isoformat() + "Z"
    return {
        "event_id": f"tenders:tier:{subscriber_id}:{tier}:{until}:{reason}",
        "type": "subscriber_updated",
        "entity": subscriber_id,
        "occurred_at": now.isoformat() + "Z",
        "payload": {"tier": tier, "tier_antes": before, "vence_en": until, "motivo": reason},
    }


def downgrade_due(engine: Engine, now: datetime, grace: timedelta) -> list[str]:
    """Back to ``free`` every paid subscriber whose last payment failed, or whose paid period
    ended, more than ``grace`` before ``now``; the ids moved."""
    cutoff = now - grace
    with source_read(engine) as conn:
        due = sorted(set(_failed_before(conn, cutoff)) | set(_expired_before(conn, cutoff)))
    for subscriber_id in due:
        set_tier(engine, subscriber_id, "free", vence_en=None, now=now, reason="downgrade")
    return due


def _expired_before(conn: Connection, cutoff: datetime) -> Iterator[str]:
    s = subscribers.c
    query = select(s.id).where(s.tier != "free", s.vence_en.is_not(None), s.vence_en <= cutoff)
    yield from conn.execute(query).scalars()


def _failed_before(conn: Connection, cutoff: datetime) -> Iterator[str]:
    """Paid subscribers whose newest payment row is a failure older than ``cutoff``."""
    p, s = payments.c, subscribers.c
    newest = (
        select(p.suscriptor_id, func.max(p.creado_en).label("last"))
        .group_by(p.suscriptor_id)
        .subquery()
    )
    query = (
        select(p.suscriptor_id)
        .join(newest, and_(newest.c.suscriptor_id == p.suscriptor_id, newest.c.last == p.creado_en))
        .join(subscribers, s.id == p.suscriptor_id)
        .where(p.estado == "fallido", p.creado_en <= cutoff, s.tier != "free")
    )
    yield from conn.execute(query).scalars()


class ExpiringAudience(Audience):
    """Paid subscribers whose period ends three days after the tick's local date, grouped by
    time zone (so 09:00 is each subscriber's own)."""

    name = "vencimientos"
    description = "Paid subscribers whose tier expires in three days (their time zone)"

    def zones(self, conn: Connection) -> Mapping[str, str]:
        """Group (an IANA zone) -> that zone."""
        s = subscribers.c
        found = conn.execute(select(s.zona_horaria).where(s.tier != "free").distinct()).scalars()
        return {zone: zone for zone in found}

    def members(self, conn: Connection, group: str, local: datetime) -> Iterator[dict[str, Any]]:
        """Subscribers in zone ``group`` whose ``vence_en`` falls on ``local``'s date + 3."""
        start, end = _local_day(local.date() + timedelta(days=REMINDER_DAYS), group)
        s = subscribers.c
        query = select(s.id, s.nombre, s.tier, s.telegram_chat_id, s.vence_en).where(
            s.zona_horaria == group,
            s.tier != "free",
            s.vence_en >= start,
            s.vence_en < end,
        )
        prices = {t.name: t.price_clp for t in catalog().tiers}
        for row in conn.execute(query.order_by(s.id)).mappings():
            yield _member(dict(row), group, prices)


def _local_day(day: date, zone: str) -> tuple[datetime, datetime]:
    """The naive-UTC bounds of ``day`` in ``zone``."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return _naive(start), _naive(end)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _member(row: Mapping[str, Any], zone: str, prices: Mapping[str, int]) -> dict[str, Any]:
    local = row["vence_en"].replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return {
        "entity": row["id"],
        "nombre": row["nombre"],
        "tier": row["tier"],
        "telegram_chat_id": row["telegram_chat_id"],
        "vence_en": local.strftime("%d-%m-%Y %H:%M"),
        "precio": f"${prices.get(row['tier'], 0):,}".replace(",", "."),
    }


def check_paid_tier(tier: str, field: str = "tier") -> None:
    """A tier a payment can buy: in the table and not free (``field``: where the caller said
    it, for the error)."""
    prices = {t.name: t.price_clp for t in catalog().tiers}
    if prices.get(tier, 0) <= 0:
        sold = ", ".join(name for name, price in prices.items() if price > 0)
        raise InvalidInput(f"{tier!r} is not a tier on sale ({sold})", field=field)
