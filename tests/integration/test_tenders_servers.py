"""The tenders pack on the real servers: month partitions and pg_trgm on PostgreSQL (made by
idempotent steps, safe on a table holding data), COPY imports that add nothing twice, a
trigram table on MariaDB, the same price analysis and search as SQLite's, the price cache in
Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import servers
import sqlalchemy as sa

from helpers import need_service
from rescore.packs.tenders import storage
from rescore.packs.tenders.analysis import PriceQuery, analyze
from rescore.packs.tenders.cache import KEY_PREFIX, PriceCache
from rescore.packs.tenders.demodata import write_history
from rescore.packs.tenders.importer import import_file
from rescore.packs.tenders.schema import history, metadata
from rescore.packs.tenders.search import search

pytestmark = pytest.mark.integration

make_database = servers.make_database
server_url = servers.server_url

NOW = datetime(2025, 1, 10, 12, 0)
QUESTIONS = (
    PriceQuery(producto="guantes nitrilo", as_of=date(2024, 12, 31)),
    PriceQuery(producto="notebook hp", organismo="Hospital", as_of=date(2024, 12, 31)),
    PriceQuery(producto="resma papel carta", region="Región del Biobío", as_of=date(2024, 12, 31)),
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("inbox")
    return write_history(
        folder, seed=5, last_month=date(2024, 12, 1), months=3, rows_per_month=1_500
    )


def _filled(url: str, files: list[Path]) -> tuple[sa.Engine, list[dict[str, Any]]]:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        metadata.create_all(conn)
    reports = []
    for path in files:
        with engine.begin() as conn:
            reports.append(import_file(conn, path, now=NOW).as_dict())
    return engine, reports


def _today() -> date:
    return datetime.now(UTC).date()


def _answers(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        found: list[Any] = [analyze(conn, q) for q in QUESTIONS]
        found.append(search(conn, "guantes nitrilo", 5)["productos"])
    return found


def test_servers_import_and_answer_as_sqlite_does(
    server_url: str, files: list[Path], tmp_path: Path
) -> None:
    here, reports = _filled(server_url, files)
    there, expected = _filled(f"sqlite:///{tmp_path / 'source.db'}", files)
    try:
        assert reports == [
            {**e, "seconds": r["seconds"], "rows_per_second": r["rows_per_second"]}
            for e, r in zip(expected, reports, strict=True)
        ]
        again = []
        for path in files[:1]:
            with here.begin() as conn:
                again.append(import_file(conn, path, now=NOW))
        assert again[0].new == 0
        assert again[0].duplicate == reports[0]["new"]
        assert _answers(here) == _answers(there)
        with here.begin() as conn:
            assert storage.ensure(conn, _today()) == []  # everything was done already
    finally:
        here.dispose()
        there.dispose()


def _partitions(conn: sa.Connection) -> list[str]:
    query = sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'historico_licitaciones'::regclass ORDER BY 1"
    )
    return list(conn.execute(query).scalars())


def test_postgres_partitions_by_month_ahead_and_moves_rows_out_of_the_default(
    make_database: servers.MakeDatabase, files: list[Path]
) -> None:
    engine, _ = _filled(make_database("postgresql"), files)
    try:
        with engine.connect() as conn:
            names = _partitions(conn)
            # the three imported months, the default, this month and three ahead
            for month in ("2024_10", "2024_11", "2024_12"):
                assert f"historico_licitaciones_{month}" in names
            assert "historico_licitaciones_default" in names
            assert f"historico_licitaciones_{_today():%Y_%m}" in names
            trgm = conn.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                {"n": "idx_historico_producto_trgm"},
            ).scalar_one()
            assert "gin_trgm_ops" in trgm
        # rows that landed in the default partition (its month had none) are moved out
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE historico_licitaciones_2024_11"))
            row = dict(conn.execute(sa.select(history).limit(1)).mappings().one())
            row.update(fecha_cierre=date(2024, 11, 15), codigo_licitacion="moved-1")
            conn.execute(sa.insert(history).values(**row))
            assert (
                conn.execute(
                    sa.text("SELECT count(*) FROM historico_licitaciones_default")
                ).scalar_one()
                == 1
            )
            made = storage.ensure(conn, _today())
        assert made == ["historico_licitaciones_2024_11"]
        with engine.connect() as conn:
            counts = conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM historico_licitaciones_default), "
                    "(SELECT count(*) FROM historico_licitaciones_2024_11)"
                )
            ).one()
        assert tuple(counts) == (0, 1)
    finally:
        engine.dispose()


def test_postgres_search_can_use_the_trigram_index(
    make_database: servers.MakeDatabase, files: list[Path]
) -> None:
    engine, _ = _filled(make_database("postgresql"), files)
    try:
        with engine.begin() as conn:  # a catalogue of real size: 20,000 more names
            conn.execute(
                sa.text(
                    "INSERT INTO productos_cotizados SELECT 'Producto ' || g || ' modelo ' || "
                    "md5(g::text), 'Otros', 1, DATE '2024-01-01' FROM generate_series(1, 20000) g"
                )
            )
            conn.execute(sa.text("ANALYZE productos_cotizados"))
        with engine.connect() as conn:
            conn.execute(sa.text("SET enable_seqscan = off"))
            plan = "\n".join(
                conn.execute(
                    sa.text(
                        "EXPLAIN SELECT producto FROM productos_cotizados WHERE :q <% producto"
                    ),
                    {"q": "guantes nitrilo"},
                ).scalars()
            )
        assert "idx_productos_producto_trgm" in plan
    finally:
        engine.dispose()


def test_mariadb_finds_misspelt_names_through_its_trigram_table(
    make_database: servers.MakeDatabase, files: list[Path]
) -> None:
    engine, _ = _filled(make_database("mariadb"), files[:1])
    try:
        with engine.connect() as conn:
            found = search(conn, "computdores", 5)  # a letter missing: no word prefix finds it
        assert found["indice"] == "trigram_table"
        assert any("Computador" in m["producto"] for m in found["productos"])
        with engine.begin() as conn:  # a catalogue name the table lacks (made before it)
            conn.execute(
                sa.text(
                    "INSERT INTO productos_cotizados VALUES "
                    "('Cartucho tóner HP 85A', 'Oficina', 1, '2024-01-01')"
                )
            )
            assert storage.ensure(conn, _today()) == [f"{storage.TRIGRAMS}: 1 names"]
            assert storage.ensure(conn, _today()) == []  # done once
        with engine.connect() as conn:
            names = [m["producto"] for m in search(conn, "cartuchos toner", 5)["productos"]]
        assert "Cartucho tóner HP 85A" in names
    finally:
        engine.dispose()


def test_the_price_cache_lives_in_redis(tmp_path: Path, files: list[Path]) -> None:
    need_service("Redis", 6379)
    import redis

    url = "redis://127.0.0.1:6379/15"
    engine, _ = _filled(f"sqlite:///{tmp_path / 'source.db'}", files[:1])
    first, second = PriceCache(ttl=60, url=url), PriceCache(ttl=60, url=url)
    first.clear()
    try:
        with engine.connect() as conn:
            made = first.analysis(conn, QUESTIONS[0])
            seen = second.analysis(conn, QUESTIONS[0])  # another process, the same Redis
        keys = list(redis.Redis.from_url(url).scan_iter(match=KEY_PREFIX + "*"))
        ttl = redis.Redis.from_url(url).pttl(keys[0])
        assert seen == made
        assert (first.hits, first.misses, second.hits, second.misses) == (0, 1, 1, 0)
        assert len(keys) == 1
        assert 0 < ttl <= 60_000
    finally:
        first.clear()
        engine.dispose()


def test_a_redis_that_is_down_is_a_miss_not_an_error(tmp_path: Path, files: list[Path]) -> None:
    engine, _ = _filled(f"sqlite:///{tmp_path / 'source.db'}", files[:1])
    cache = PriceCache(ttl=60, url="redis://127.0.0.1:1/0")
    try:
        with engine.connect() as conn:
            found = cache.analysis(conn, QUESTIONS[0])
        assert found["producto"] == "guantes nitrilo"
        assert cache.misses == 1
    finally:
        engine.dispose()
