"""The loyalty pack on the real servers: the schema, the bulk demo load (COPY on PostgreSQL,
executemany on MariaDB), the loader and both automation modes agree with SQLite's answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
import servers
import sqlalchemy as sa

from rescore.packs.loyalty import LoyaltyPack, Plan, run
from rescore.packs.loyalty.generator import BIG_LOAD
from rescore.packs.loyalty.schema import customers, points
from rescore.packs.loyalty.writes import load_points

pytestmark = pytest.mark.integration

make_database = servers.make_database
server_url = servers.server_url

AS_OF = datetime(2027, 2, 28, 15, 0)
SIZE = 1_500


def _load(url: str, size: int = SIZE) -> sa.Engine:
    engine = sa.create_engine(url)
    pack = LoyaltyPack(as_of=lambda: AS_OF)
    with engine.begin() as conn:
        pack.source_metadata().create_all(conn)
        assert pack.generate_demo_data(conn, seed=4, size=size) == size
    return engine


def _answers(engine: sa.Engine) -> tuple[list[object], dict[str, object], list[object]]:
    pack = LoyaltyPack(as_of=lambda: AS_OF)
    try:
        with engine.connect() as conn:
            keys = list(pack.entity_keys(conn))
            parts = frozenset({"customer", "visits", "points"})
            inputs = pack.load_inputs(conn, keys[:50], parts)
            fast = run(conn, "event-driven", Plan(now=AS_OF))
            slow = run(conn, "legacy", Plan(now=AS_OF))
    finally:
        engine.dispose()
    assert fast.actions == slow.actions
    assert fast.rows < slow.rows
    scored = {
        k: [r.value for r in (s.score(inputs[k]) for s in pack.register_scorers())]
        for k in keys[:50]
    }
    return keys, scored, fast.actions


@contextmanager
def _disposing(engine: sa.Engine) -> Iterator[None]:
    try:
        yield
    finally:
        engine.dispose()


def test_the_servers_give_the_answers_sqlite_gives(server_url: str, tmp_path: object) -> None:
    on_server = _answers(_load(server_url))
    on_sqlite = _answers(_load("sqlite://"))
    assert on_server == on_sqlite
    assert any(a.rule == "birthday" for a in on_server[2])  # type: ignore[attr-defined]


def test_a_big_load_rebuilds_the_indexes_and_points_move_the_balance(
    make_database: servers.MakeDatabase,
) -> None:
    engine = _load(make_database("postgresql"), size=BIG_LOAD)
    with _disposing(engine), engine.begin() as conn:
        names = {ix["name"] for ix in sa.inspect(conn).get_indexes("loyalty_customers")}
        assert "ix_loyalty_customers_birthday" in names
        someone = conn.execute(sa.select(customers).limit(1)).mappings().one()
        change = load_points(conn, someone["id"], points_delta=7, amount=14.0, now=AS_OF)
        assert change["payload"]["balance"] == someone["points_balance"] + 7
        total = conn.execute(sa.select(sa.func.count()).select_from(points)).scalar_one()
        assert total > BIG_LOAD // 2
