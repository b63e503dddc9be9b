"""Tiers and quotas: seed 001's feature table as data (``tiers.yaml``), enforced in one place.

Every entry point that sells a feature (the HTTP routes, the CLI, the Telegram bot) calls one
of these before doing the work:

- :func:`consume` takes one unit of a per-day or per-month quota (a price analysis, a proposal)
  and answers the :class:`Usage` left; :func:`release` gives it back when the work failed for
  good, so a subscriber does not pay for an answer never sent.
- :func:`require` checks that the subscriber's tier has a feature (API access) or, with
  ``in_use``, room for one more active item (alert profiles) without taking anything.

Errors (both :class:`~rescore.exceptions.RescoreError`, so the API answers a 4xx and the CLI
prints one line)::

    FeatureNotInTier   (403)  the tier lacks the feature; names the cheapest tier that has it
    └── LimitReached   (403)  as many items active as the tier allows (alert profiles)
    QuotaExhausted     (429)  this period's quota is spent; Retry-After until it resets
    UnknownFeature     (422)  not a feature of tiers.yaml

A quota is a row of ``uso_cuotas`` per subscriber, feature and period, taken by one guarded
``UPDATE ... SET usados = usados + 1 WHERE usados < :limit`` after an idempotent insert of the
row: the database serialises the racers on the row and the row count says who won, so two
requests for the last unit get exactly one "yes" on SQLite and PostgreSQL alike. Periods are
the subscriber's calendar days and months (``suscriptores.zona_horaria``): a day quota resets
at its local midnight, DST included. Unlimited features count too (the metrics read them).

Example::

    usage = consume(engine, subscriber_id, "price_analysis")   # may raise QuotaExhausted
    try:
        answer = do_the_analysis()
    except PermanentFailure:
        release(engine, subscriber_id, "price_analysis")
        raise
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, func, select, update

from rescore.exceptions import NotFound, RescoreError
from rescore.packs.sdk import source_read, source_write
from rescore.packs.tenders.schema import alert_profiles, quota_usage, subscribers
from rescore.packs.tenders.tier_table import (
    PROFILE_FEATURES,
    Catalog,
    Feature,
    Period,
    Tier,
    UnknownFeature,
    aware,
    catalog,
    period,
)

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = [
    "PROFILE_FEATURES",
    "Catalog",
    "Feature",
    "FeatureNotInTier",
    "LimitReached",
    "QuotaExhausted",
    "Tier",
    "UnknownFeature",
    "Usage",
    "catalog",
    "charged",
    "consume",
    "period",
    "prune",
    "release",
    "require",
    "require_profile_room",
]


class FeatureNotInTier(RescoreError):
    """The subscriber's tier does not include this feature."""

    http_status = 403

    def __init__(self, message: str, *, feature: str, tier: str, upgrade: str | None) -> None:
        super().__init__(message, field="suscriptor_id")
        self.feature = feature
        self.tier = tier
        #: The cheapest tier that would allow it (None: no tier does).
        self.upgrade = upgrade


class LimitReached(FeatureNotInTier):
    """The subscriber has as many active items as the tier allows."""


class QuotaExhausted(RescoreError):
    """This period's quota of the feature is spent; it resets at the subscriber's midnight."""

    http_status = 429

    def __init__(
        self, message: str, *, feature: str, tier: str, retry_after: int, upgrade: str | None
    ) -> None:
        super().__init__(message, field="suscriptor_id")
        self.feature = feature
        self.tier = tier
        #: Seconds until the quota resets (the ``Retry-After`` header).
        self.retry_after = retry_after
        self.upgrade = upgrade

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Usage:
    """What :func:`consume` took: units ``used`` of ``limit`` (None: unlimited) this period,
    which ends at ``resets_at`` (aware, UTC)."""

    feature: str
    used: int
    limit: int | None
    resets_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "used": self.used,
            "limit": self.limit,
            "resets_at": self.resets_at.isoformat().replace("+00:00", "Z"),
        }


# -- the enforcement point ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _Account:
    id: str
    tier: str
    zone: str


def consume(
    engine: Engine, subscriber_id: str, feature: str, *, now: datetime | None = None
) -> Usage:
    """Take one unit of ``feature``'s quota for this period, or raise :class:`FeatureNotInTier`
    (403) or :class:`QuotaExhausted` (429, with ``retry_after``); a block counts in the
    ``blocked features`` metric. ``now`` (default: the clock) is for tests at a boundary."""
    spec = _quota(feature)
    moment = aware(now)
    with _counting_blocks(engine), source_write(engine) as conn:
        account = _account(conn, subscriber_id)
        limit = _allowed(spec, account)
        key, resets_at = period(_period(spec), account.zone, moment)
        used = _take(conn, account.id, spec.name, key, limit)
        if used is None:
            raise _exhausted(spec, account, limit, resets_at, moment)
    _count_use(engine, account.tier, spec.name)
    return Usage(feature=spec.name, used=used, limit=limit, resets_at=resets_at)


def release(
    engine: Engine, subscriber_id: str, feature: str, *, now: datetime | None = None
) -> None:
    """Give back a unit :func:`consume` took in the period ``now`` falls in (the work it paid
    for failed for good); never below zero."""
    spec = _quota(feature)
    with source_write(engine) as conn:
        account = _account(conn, subscriber_id)
        key, _ = period(_period(spec), account.zone, aware(now))
        conn.execute(
            update(quota_usage)
            .where(_row(account.id, spec.name, key), quota_usage.c.usados > 0)
            .values(usados=quota_usage.c.usados - 1)
        )


def prune(engine: Engine, *, keep_months: int = 3, now: datetime | None = None) -> int:
    """Drop the counters of periods in months before the last ``keep_months`` (the table
    would otherwise grow a row per subscriber, feature and day forever); rows deleted."""
    moment = aware(now)
    months = moment.year * 12 + moment.month - 1 - keep_months
    cutoff = f"{months // 12:04d}-{months % 12 + 1:02d}"  # "2026-08" sorts after its days
    with source_write(engine) as conn:
        done = conn.execute(delete(quota_usage).where(quota_usage.c.periodo < cutoff))
    return int(done.rowcount)


@contextmanager
def charged(engine: Engine, subscriber_id: str | None, feature: str) -> Iterator[Usage | None]:
    """:func:`consume` a unit for the block, given back (:func:`release`) if the block fails:
    what a front end wraps the work of a request in. No subscriber (an admin's call): None,
    nothing taken."""
    if subscriber_id is None:
        yield None
        return
    usage = consume(engine, subscriber_id, feature)
    try:
        yield usage
    except BaseException:
        release(engine, subscriber_id, feature)
        raise


def require(
    engine: Engine,
    subscriber_id: str,
    feature: str,
    *,
    in_use: Callable[[Connection], int] | None = None,
    conn: Connection | None = None,
) -> None:
    """Check that the subscriber's tier has ``feature`` (:class:`FeatureNotInTier`) and, with
    ``in_use`` (how many items are active now, counted on the connection), room for one more
    (:class:`LimitReached`). Pass the caller's ``conn`` to check inside the transaction that
    then adds the item: the subscriber's row is locked (PostgreSQL), so racers queue."""
    spec = catalog().feature(feature)
    with _counting_blocks(engine):
        if conn is not None:
            _require(conn, subscriber_id, spec, in_use)
            return
        # a bare feature check only reads; counting items locks, as adding one would
        opened = source_read(engine) if in_use is None else source_write(engine)
        with opened as own:
            _require(own, subscriber_id, spec, in_use)


def require_profile_room(engine: Engine, conn: Connection, subscriber_id: str, kind: str) -> None:
    """Refuse (403) one more active alert profile of ``kind`` past the tier's limit, checked
    in ``conn``'s transaction, the one that then adds the profile (an unknown ``kind`` is left
    to the profile's own validation)."""
    feature = PROFILE_FEATURES.get(kind)
    if feature is None:
        return

    def active(conn: Connection) -> int:
        p = alert_profiles.c
        query = select(func.count()).where(
            p.suscriptor_id == subscriber_id, p.tipo == kind, p.activo
        )
        return int(conn.execute(query).scalar_one())

    require(engine, subscriber_id, feature, in_use=active, conn=conn)


def _require(
    conn: Connection,
    subscriber_id: str,
    spec: Feature,
    in_use: Callable[[Connection], int] | None,
) -> None:
    account = _account(conn, subscriber_id, lock=in_use is not None)
    limit = _allowed(spec, account)
    if in_use is None or limit is None:
        return
    active = in_use(conn)
    if active >= limit:
        better = catalog().cheapest(spec, more_than=limit)
        raise LimitReached(
            f"{spec.name}: tier {account.tier} allows {limit} active, {active} in use"
            + _upgrade_hint(better, "allows more"),
            feature=spec.name,
            tier=account.tier,
            upgrade=None if better is None else better.name,
        )


def _quota(feature: str) -> Feature:
    spec = catalog().feature(feature)
    if spec.kind != "quota":
        raise UnknownFeature(
            f"{feature!r} limits active items, not uses: check it with require(in_use=...)",
            field="feature",
        )
    return spec


def _period(spec: Feature) -> Period:
    assert spec.period is not None  # _parse: every quota has one
    return spec.period


def _account(conn: Connection, subscriber_id: str, *, lock: bool = False) -> _Account:
    s = subscribers.c
    query = select(s.id, s.tier, s.zona_horaria).where(s.id == subscriber_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"no subscriber {subscriber_id!r}", field="suscriptor_id")
    return _Account(id=row.id, tier=row.tier, zone=row.zona_horaria or "America/Santiago")


def _allowed(spec: Feature, account: _Account) -> int | None:
    """The tier's limit of the feature (None: unlimited), or :class:`FeatureNotInTier`."""
    if account.tier in spec.limits:
        return spec.limits[account.tier]
    better = catalog().cheapest(spec)
    raise FeatureNotInTier(
        f"{spec.name} is not in tier {account.tier}" + _upgrade_hint(better),
        feature=spec.name,
        tier=account.tier,
        upgrade=None if better is None else better.name,
    )


def _upgrade_hint(tier: Tier | None, what: str = "has it") -> str:
    if tier is None:
        return ""
    return f"; tier {tier.name} {what} (${tier.price_clp:,} CLP/month)".replace(",", ".")


def _exhausted(
    spec: Feature, account: _Account, limit: int | None, resets_at: datetime, now: datetime
) -> QuotaExhausted:
    wait = max(1, math.ceil((resets_at - now).total_seconds()))
    better = catalog().cheapest(spec, more_than=limit)
    return QuotaExhausted(
        f"{spec.name}: tier {account.tier}'s {limit} per {spec.period} are used; resets "
        f"{resets_at.isoformat().replace('+00:00', 'Z')}" + _upgrade_hint(better, "allows more"),
        feature=spec.name,
        tier=account.tier,
        retry_after=wait,
        upgrade=None if better is None else better.name,
    )


def _row(subscriber_id: str, feature: str, key: str) -> Any:
    u = quota_usage.c
    return and_(u.suscriptor_id == subscriber_id, u.feature == feature, u.periodo == key)


def _take(
    conn: Connection, subscriber_id: str, feature: str, key: str, limit: int | None
) -> int | None:
    """One more unit if under ``limit``: the count after, or None when the quota is spent."""
    _ensure_row(conn, subscriber_id, feature, key)
    guard = _row(subscriber_id, feature, key)
    if limit is not None:
        guard = and_(guard, quota_usage.c.usados < limit)
    done = conn.execute(update(quota_usage).where(guard).values(usados=quota_usage.c.usados + 1))
    if done.rowcount != 1:
        return None
    used = conn.execute(select(quota_usage.c.usados).where(_row(subscriber_id, feature, key)))
    return int(used.scalar_one())


def _ensure_row(conn: Connection, subscriber_id: str, feature: str, key: str) -> None:
    """Insert the period's row at zero unless there: ``ON CONFLICT DO NOTHING`` (SQLite,
    PostgreSQL) or, on MariaDB, ``ON DUPLICATE KEY UPDATE usados = usados``, which locks the
    row for writing at once (``INSERT IGNORE``'s shared lock deadlocks racers that then all
    want to update it)."""
    row = {"suscriptor_id": subscriber_id, "feature": feature, "periodo": key, "usados": 0}
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        conn.execute(sqlite.insert(quota_usage).values(row).on_conflict_do_nothing())
    elif dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        conn.execute(postgresql.insert(quota_usage).values(row).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects import mysql

        upsert = mysql.insert(quota_usage).values(row)
        conn.execute(upsert.on_duplicate_key_update(usados=upsert.table.c.usados))


@contextmanager
def _counting_blocks(engine: Engine) -> Iterator[None]:
    """Count a :class:`FeatureNotInTier` or :class:`QuotaExhausted` leaving the block."""
    try:
        yield
    except (FeatureNotInTier, QuotaExhausted) as exc:
        from rescore.packs.tenders.business_metrics import count_blocked

        count_blocked(engine, exc.tier, exc.feature)
        raise


def _count_use(engine: Engine, tier: str, feature: str) -> None:
    from rescore.packs.tenders.business_metrics import count_used

    count_used(engine, tier, feature)
