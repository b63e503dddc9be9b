"""Tiers and quotas (rescore.packs.tenders.tiers) on SQLite: the seed's table as data, one
unit taken per use, exact under threads, reset at the subscriber's local midnight (DST too)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select

from rescore.engine import Engine
from rescore.exceptions import NotFound
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.schema import alert_profiles, quota_usage, subscribers
from rescore.packs.tenders.tiers import (
    FeatureNotInTier,
    LimitReached,
    QuotaExhausted,
    UnknownFeature,
    catalog,
    consume,
    period,
    prune,
    release,
    require,
)
from rescore.testing import scratch_engine

NOON = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 12:00 in Santiago (summer time, -03)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with scratch_engine([TendersPack()], tmp_path / "t.db") as engine:
        yield engine


def add_subscriber(engine: Engine, tier: str, zone: str = "America/Santiago") -> str:
    """A subscriber of ``tier``; its id."""
    with engine.source.begin() as conn:
        count = conn.execute(select(func.count()).select_from(subscribers)).scalar_one()
        made = f"00000000-0000-4000-8000-{count + 1:012d}"
        row = {
            "id": made,
            "nombre": f"Empresa {tier}",
            "rut": f"{76000000 + count}-{count % 10}",
            "tier": tier,
            "zona_horaria": zone,
            "descripcion_empresa": "",
            "creado_en": datetime(2026, 1, 1),
        }
        conn.execute(insert(subscribers).values(row))
    return made


def test_the_table_follows_the_seed() -> None:
    table = catalog()
    assert [t.name for t in table.tiers] == ["free", "emprendedor", "pyme", "profesional"]
    assert table.tier("pyme").price_clp == 9990  # the seed's "$9.990"
    price = table.feature("price_analysis")
    assert (price.period, dict(price.limits)) == (
        "day", {"free": 2, "emprendedor": 5, "pyme": 10, "profesional": None}
    )  # fmt: skip
    keywords = table.feature("keyword_alerts")
    assert (keywords.kind, dict(keywords.limits)) == (
        "count", {"emprendedor": 3, "pyme": 10, "profesional": None}
    )  # fmt: skip
    assert dict(table.feature("proposals").limits) == {"pyme": 5, "profesional": None}
    assert table.feature("proposals").period == "month"
    assert list(table.feature("api_access").limits) == ["profesional"]
    assert set(table.feature("semantic_alerts").limits) == {"pyme", "profesional"}


def test_consume_counts_up_to_the_limit_then_says_when_it_resets(engine: Engine) -> None:
    who = add_subscriber(engine, "free")
    first = consume(engine, who, "price_analysis", now=NOON)
    second = consume(engine, who, "price_analysis", now=NOON)
    assert (first.used, second.used, second.limit) == (1, 2, 2)
    midnight = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 00:00 in Santiago
    assert second.resets_at == midnight
    with pytest.raises(QuotaExhausted) as refused:
        consume(engine, who, "price_analysis", now=NOON)
    assert refused.value.http_status == 429
    assert refused.value.retry_after == 12 * 3600
    assert refused.value.headers == {"Retry-After": str(12 * 3600)}
    assert "tier emprendedor" in refused.value.message  # the next tier allows more
    assert consume(engine, who, "price_analysis", now=midnight).used == 1


def test_a_feature_the_tier_lacks_is_403_naming_the_cheapest_tier_with_it(
    engine: Engine,
) -> None:
    who = add_subscriber(engine, "emprendedor")
    with pytest.raises(FeatureNotInTier) as refused:
        consume(engine, who, "proposals", now=NOON)
    assert refused.value.http_status == 403
    assert (refused.value.feature, refused.value.tier, refused.value.upgrade) == (
        "proposals", "emprendedor", "pyme"
    )  # fmt: skip
    assert "proposals" in str(refused.value)
    assert "pyme" in str(refused.value)
    with pytest.raises(FeatureNotInTier, match="profesional"):
        require(engine, who, "api_access")
    with engine.source.read() as conn:  # a refusal writes nothing
        assert conn.execute(select(func.count()).select_from(quota_usage)).scalar_one() == 0


def test_unlimited_still_counts_and_release_gives_a_unit_back(engine: Engine) -> None:
    pro = add_subscriber(engine, "profesional")
    for _ in range(30):
        usage = consume(engine, pro, "price_analysis", now=NOON)
    assert (usage.used, usage.limit) == (30, None)
    free = add_subscriber(engine, "free")
    consume(engine, free, "price_analysis", now=NOON)
    consume(engine, free, "price_analysis", now=NOON)
    release(engine, free, "price_analysis", now=NOON)
    assert consume(engine, free, "price_analysis", now=NOON).used == 2
    for _ in range(5):
        release(engine, free, "price_analysis", now=NOON)  # never below zero
    assert consume(engine, free, "price_analysis", now=NOON).used == 1


def test_month_quota_resets_on_the_first_local_day(engine: Engine) -> None:
    pyme = add_subscriber(engine, "pyme")
    late = datetime(2026, 12, 1, 2, 59, tzinfo=UTC)  # 23:59 on 30 November in Santiago
    for _ in range(5):
        usage = consume(engine, pyme, "proposals", now=late)
    assert usage.resets_at == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    with pytest.raises(QuotaExhausted) as refused:
        consume(engine, pyme, "proposals", now=late)
    assert refused.value.retry_after == 60
    assert consume(engine, pyme, "proposals", now=late.replace(minute=0, hour=3)).used == 1


@pytest.mark.parametrize(
    ("now", "key", "resets"),
    [
        # 23:59 and 00:00 in Santiago (-03 in summer)
        (datetime(2026, 11, 30, 2, 59), "2026-11-29", datetime(2026, 11, 30, 3, 0)),
        (datetime(2026, 11, 30, 3, 0), "2026-11-30", datetime(2026, 12, 1, 3, 0)),
        # DST starts 6 September 2026: Saturday 24:00 (-04) jumps to Sunday 01:00 (-03);
        # Sunday's quota starts at that instant, 04:00 UTC
        (datetime(2026, 9, 6, 3, 59), "2026-09-05", datetime(2026, 9, 6, 4, 0)),
        (datetime(2026, 9, 6, 4, 0), "2026-09-06", datetime(2026, 9, 7, 3, 0)),
        # DST ends 5 April 2026: Sunday 00:00 (-03) goes back to Saturday 23:00 (-04); the
        # repeated hour is still Saturday, Sunday starts at 00:00 -04
        (datetime(2026, 4, 5, 3, 30), "2026-04-04", datetime(2026, 4, 5, 4, 0)),
        (datetime(2026, 4, 5, 4, 0), "2026-04-05", datetime(2026, 4, 6, 4, 0)),
    ],
)
def test_day_periods_at_santiago_midnight_and_dst(
    now: datetime, key: str, resets: datetime
) -> None:
    found = period("day", "America/Santiago", now)
    assert found == (key, resets.replace(tzinfo=UTC))


def test_month_period_and_another_zone() -> None:
    assert period("month", "America/Santiago", datetime(2026, 12, 31, 12)) == (
        "2026-12", datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    )  # fmt: skip
    assert period("day", "Europe/Madrid", datetime(2026, 11, 30, 23, 30))[0] == "2026-12-01"


def test_threads_racing_for_the_last_units_exactly_the_limit_wins(engine: Engine) -> None:
    who = add_subscriber(engine, "pyme")  # 10 a day
    wins: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(16)

    def race() -> None:
        start.wait()
        try:
            wins.append(consume(engine, who, "price_analysis", now=NOON).used)
        except QuotaExhausted:
            refused.append(1)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(1, 11))
    assert len(refused) == 6


def test_active_item_limits_take_nothing_and_name_a_bigger_tier(engine: Engine) -> None:
    who = add_subscriber(engine, "emprendedor")  # 3 keyword profiles
    require(engine, who, "keyword_alerts", in_use=lambda conn: 2)
    with pytest.raises(LimitReached) as refused:
        require(engine, who, "keyword_alerts", in_use=lambda conn: 3)
    assert refused.value.http_status == 403
    assert refused.value.upgrade == "pyme"
    with engine.source.begin() as conn:  # inside the caller's transaction
        require(engine, who, "keyword_alerts", conn=conn, in_use=_keyword_profiles(who))


def _keyword_profiles(who: str) -> Callable[[Connection], int]:
    def count(conn: Connection) -> int:
        p = alert_profiles.c
        query = select(func.count()).where(p.suscriptor_id == who, p.tipo == "keyword", p.activo)
        return int(conn.execute(query).scalar_one())

    return count


def test_unknown_names_are_clear_errors(engine: Engine) -> None:
    who = add_subscriber(engine, "free")
    with pytest.raises(UnknownFeature, match="no feature 'teleport'"):
        consume(engine, who, "teleport")
    with pytest.raises(UnknownFeature, match="require"):
        consume(engine, who, "keyword_alerts")
    with pytest.raises(NotFound, match="no subscriber"):
        consume(engine, "nobody", "price_analysis")


def test_old_counters_are_pruned_by_month(engine: Engine) -> None:
    pyme = add_subscriber(engine, "pyme")
    for when in (datetime(2026, 7, 31, 15), datetime(2026, 8, 1, 15), datetime(2026, 11, 2, 15)):
        consume(engine, pyme, "price_analysis", now=when.replace(tzinfo=UTC))
        consume(engine, pyme, "proposals", now=when.replace(tzinfo=UTC))
    assert prune(engine, now=NOON) == 2  # July's day and month; August on is kept (3 months)
    with engine.source.read() as conn:
        kept = conn.execute(select(quota_usage.c.periodo).order_by(quota_usage.c.periodo))
        assert kept.scalars().all() == ["2026-08", "2026-08-01", "2026-11", "2026-11-02"]
