"""Tiers on the real servers (PostgreSQL, MariaDB): threads racing for a subscriber's last
units get exactly the limit, racing alert profiles stop at the tier's limit, and twin
deliveries of a payment event apply once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import servers
import sqlalchemy as sa

from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.payments import apply
from rescore.packs.tenders.schema import alert_profiles, payments, quota_usage, subscribers
from rescore.packs.tenders.tiers import LimitReached, QuotaExhausted, consume, require_profile_room
from rescore.plugins import PackRegistry
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database
server_url = servers.server_url

NOON = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
MIDDAY = NOON.replace(tzinfo=None)  # as the source stores times


@pytest.fixture
def engine(server_url: str) -> Iterator[Engine]:
    made = Engine(
        Database(server_url), PackRegistry([TendersPack()]), Settings(database_url=server_url)
    )
    made.migrate()
    with made.source.begin() as conn:
        for n, tier in enumerate(("free", "pyme", "profesional")):
            conn.execute(
                sa.insert(subscribers).values(
                    id=f"00000000-0000-4000-8000-00000000000{n}",
                    nombre=tier,
                    rut=f"7600000{n}-{n}",
                    tier=tier,
                    zona_horaria="America/Santiago",
                    descripcion_empresa="",
                    creado_en=datetime(2026, 1, 1),
                )
            )
    yield made
    made.close()


def race(threads: int, attempt: Callable[[], int]) -> tuple[list[int], int]:
    """Run ``attempt`` in ``threads`` threads released together: the values won, the refusals."""
    wins: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(threads)

    def one() -> None:
        start.wait()
        try:
            wins.append(attempt())
        except QuotaExhausted:
            refused.append(1)

    running = [threading.Thread(target=one) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    return sorted(wins), len(refused)


def test_threads_racing_for_the_last_units_get_exactly_the_limit(engine: Engine) -> None:
    pyme = "00000000-0000-4000-8000-000000000001"  # 10 price analyses a day
    for _ in range(8):
        consume(engine, pyme, "price_analysis", now=NOON)
    wins, refused = race(12, lambda: consume(engine, pyme, "price_analysis", now=NOON).used)
    assert wins == [9, 10]  # two units were left: two winners, whatever the order
    assert refused == 10
    with engine.source.read() as conn:
        stored = conn.execute(sa.select(quota_usage.c.usados)).scalars().all()
    assert stored == [10]


def test_a_fresh_period_raced_from_zero(engine: Engine) -> None:
    free = "00000000-0000-4000-8000-000000000000"  # 2 a day; the period's row does not exist
    wins, refused = race(10, lambda: consume(engine, free, "price_analysis", now=NOON).used)
    assert (wins, refused) == ([1, 2], 8)
    pro = "00000000-0000-4000-8000-000000000002"
    wins, refused = race(10, lambda: consume(engine, pro, "price_analysis", now=NOON).used)
    assert (wins, refused) == (list(range(1, 11)), 0)  # unlimited: every use counted once


def test_racing_profiles_stop_at_the_tiers_limit(engine: Engine) -> None:
    """Eight threads add a keyword profile for an EMPRENDEDOR (3 allowed): three win."""
    with engine.source.begin() as conn:
        conn.execute(
            sa.update(subscribers).where(subscribers.c.tier == "free").values(tier="emprendedor")
        )
    who = "00000000-0000-4000-8000-000000000000"
    done: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(8)

    def add(n: int) -> None:
        start.wait()
        try:
            with engine.source.begin() as conn:
                require_profile_room(engine, conn, who, "keyword")
                conn.execute(sa.insert(alert_profiles).values(
                    id=f"10000000-0000-4000-8000-00000000000{n}", suscriptor_id=who,
                    tipo="keyword", texto=f"guantes {n}", activo=True, creado_en=MIDDAY,
                ))  # fmt: skip
            done.append(str(n))
        except LimitReached:
            refused.append(str(n))

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(done), len(refused)) == (3, 5)


def test_twin_deliveries_of_a_stripe_event_apply_once(engine: Engine) -> None:
    who = "00000000-0000-4000-8000-000000000000"
    event = {
        "id": "evt_twin",
        "type": "invoice.paid",
        "data": {"object": {"currency": "clp", "amount_paid": 9990,
                            "metadata": {"suscriptor_id": who, "tier": "pyme"}}},
    }  # fmt: skip
    results: list[str] = []
    start = threading.Barrier(6)

    def deliver() -> None:
        start.wait()
        results.append(apply(engine, event, now=datetime(2026, 11, 30, 15))["resultado"])

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate"] * 5 + ["upgraded"]
    with engine.source.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(payments)).scalar_one() == 1
        tier = conn.execute(sa.select(subscribers.c.tier).where(subscribers.c.id == who))
        assert tier.scalar_one() == "pyme"
