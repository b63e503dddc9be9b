"""Seed 001's price analysis on a history built by hand, so every number can be checked:
percentiles as ``percentile_cont``, insights, competitors, the two-year window, filters; the
scorer and loader on top; the cache's hits, misses and expiry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import need_package
from rescore.embeddings import HashingEmbedder, default_embedder, e5_installed
from rescore.packs.tenders import cache as cache_module
from rescore.packs.tenders.analysis import PriceQuery, analyze, similar_products
from rescore.packs.tenders.bench import QUESTIONS, measure
from rescore.packs.tenders.cache import PriceCache
from rescore.packs.tenders.catalog import CATEGORIES
from rescore.packs.tenders.loader import load_inputs
from rescore.packs.tenders.schema import metadata, tenders
from rescore.packs.tenders.scorers import PriceAnalysis
from rescore.packs.tenders.semantic import MIN_SIMILARITY, ProductVectors
from rescore.packs.tenders.stats import interpolate
from rescore.packs.tenders.storage import ManySink

AS_OF = date(2025, 6, 30)
NORTE, SUR = "Región de Antofagasta", "Región de Los Lagos"
CLORO = "Cloro gel 1 litro"


def _line(n: int, *, price: float, won: bool, org: str = "Municipalidad de Calama",
          region: str = NORTE, supplier: tuple[str, str] = ("76086428-5", NORTE),
          product: str = CLORO, days: int = 10) -> tuple[Any, ...]:  # fmt: skip
    return (
        f"{n}-1-COT25", 1, supplier[0], AS_OF - timedelta(days=days), "Compra de cloro", org,
        region, "Aseo y limpieza", product, 10.0, round(price * 10), price,
        f"Proveedor {supplier[0]}", supplier[1], "micro", won,
    )  # fmt: skip


HISTORY = [
    # ten awards at 100..1000 in the window, the newest at 1000
    *[_line(i, price=100.0 * i, won=True, days=600 - 40 * i) for i in range(1, 11)],
    # an award three years ago (outside the window) and losing quotes
    _line(20, price=99_999.0, won=True, days=3 * 365),
    *[_line(30 + i, price=5_000.0, won=False, supplier=("11111111-1", SUR)) for i in range(4)],
    _line(
        40,
        price=300.0,
        won=True,
        org="Hospital de Osorno",
        region=SUR,
        supplier=("11111111-1", SUR),
    ),
    _line(41, price=50.0, won=True, product="Cemento saco 25 kg"),
]


@pytest.fixture
def db(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    with engine.begin() as conn:
        metadata.create_all(conn)
        ManySink().write(conn, HISTORY)
    return engine


def _analyze(db: sa.Engine, **given: Any) -> dict[str, Any]:
    with db.connect() as conn:
        return analyze(conn, PriceQuery(producto="cloro gel", as_of=AS_OF, **given))


def test_percentiles_interpolate_like_percentile_cont() -> None:
    ordered = [100.0 * i for i in range(1, 11)]
    assert interpolate(ordered, 0.25) == pytest.approx(325.0)
    assert interpolate(ordered, 0.40) == pytest.approx(460.0)
    assert interpolate([7.0], 0.6) == 7.0


def test_similar_products_are_the_catalogue_names_like_the_query(db: sa.Engine) -> None:
    with db.connect() as conn:
        found = similar_products(conn, "cloro gel")
        assert similar_products(conn, "zz") == []
    assert [f["producto"] for f in found] == [CLORO]
    assert found[0]["cotizaciones"] == 16


def test_the_analysis_of_winning_prices_in_the_window(db: sa.Engine) -> None:
    found = _analyze(db)
    # eleven awards in the window (Osorno's 300 too), none from three years ago
    winners = sorted([100.0 * i for i in range(1, 11)] + [300.0])
    assert found["muestra"] == {
        "cotizaciones": 15, "adjudicaciones": 11, "desde": "2023-12-18", "limitada": False,
    }  # fmt: skip
    assert found["precio_competitivo"] == round(interpolate(winners, 0.25))
    assert found["precio_sugerido"] == round(interpolate(winners, 0.40))
    assert found["precio_seguro"] == round(interpolate(winners, 0.60))
    assert found["desde"] == "2023-07-01"
    last = found["ultimas_adjudicaciones"]
    assert len(last) == 10
    assert last[0]["precio_unitario"] == 300.0
    assert [c["rut"] for c in found["competidores_frecuentes"]] == ["76086428-5", "11111111-1"]
    assert found["competidores_frecuentes"][1] == {
        "rut": "11111111-1", "nombre": "Proveedor 11111111-1", "cotizaciones": 5,
        "adjudicaciones": 1,
    }  # fmt: skip


def test_insights_carry_the_numbers_they_rest_on(db: sa.Engine) -> None:
    found = _analyze(db, organismo="hospital de osorno")
    kinds = {i["tipo"]: i for i in found["insights"]}
    assert len(found["insights"]) >= 3
    # Osorno paid 300 against a national mean of (5500 + 300) / 11
    national = (sum(100.0 * i for i in range(1, 11)) + 300.0) / 11
    diff = round((300.0 / national - 1) * 100, 1)
    assert kinds["nivel_de_precios"]["datos"]["diferencia_pct"] == diff
    assert f"{abs(diff)}% menos" in kinds["nivel_de_precios"]["texto"]
    assert found["muestra"]["cotizaciones"] == found["muestra"]["adjudicaciones"] == 1
    assert kinds["rango_adjudicaciones"]["datos"] == {
        "minimo": 300.0,
        "maximo": 300.0,
        "adjudicaciones": 1,
    }
    # the northern supplier quoted 10 lines in the window and won all of them
    wins = kinds["region_proveedores"]["datos"]
    assert (wins["region"], wins["cotizaciones"], wins["adjudicaciones"]) == (NORTE, 10, 10)
    assert kinds["ventaja_local"]["datos"] == {"local_pct": 100.0, "foraneo_pct": 0.0}


def test_without_a_buyer_or_region_the_first_insight_is_the_trend(db: sa.Engine) -> None:
    first = _analyze(db)["insights"][0]
    # the newer half of the eleven awards (Osorno's 300, 1000..700) against the older six
    change = round(((300 + 1000 + 900 + 800 + 700) / 5 / 350 - 1) * 100, 1)
    assert first["tipo"] == "tendencia"
    assert first["datos"]["cambio_pct"] == change


def test_a_region_filter_narrows_everything(db: sa.Engine) -> None:
    found = _analyze(db, region=SUR)
    assert found["muestra"]["cotizaciones"] == found["muestra"]["adjudicaciones"] == 1
    assert found["precio_sugerido"] == 300
    assert found["insights"][1]["datos"]["region"] == SUR


def test_nothing_similar_gives_empty_prices_not_an_error(db: sa.Engine) -> None:
    with db.connect() as conn:
        found = analyze(conn, PriceQuery(producto="helicóptero", as_of=AS_OF))
    assert found["precio_sugerido"] is None
    assert found["muestra"]["cotizaciones"] == 0
    assert found["productos_similares"] == []
    assert found["competidores_frecuentes"] == []


def _tender(db: sa.Engine, budget: int | None) -> dict[str, dict[str, Any]]:
    at = datetime(2025, 7, 1, 9, 0)
    row = {
        "codigo": "9-9-COT25", "nombre": "Cloro", "descripcion": "",
        "organismo": "Municipalidad de Calama",
        "region": NORTE, "categoria": "Aseo y limpieza", "producto": "Cloro gel 1 litro",
        "cantidad": 10, "monto_estimado": budget, "fecha_publicacion": at, "fecha_cierre": at,
        "estado": "publicada", "actualizado_en": at,
    }  # fmt: skip
    with db.begin() as conn:
        conn.execute(sa.delete(tenders))
        conn.execute(sa.insert(tenders).values(**row))
    with db.connect() as conn:
        return load_inputs(conn, ["9-9-COT25", "unknown"], frozenset({"tender", "prices"}))


def test_the_loader_places_the_budget_among_similar_awards(db: sa.Engine) -> None:
    loaded = _tender(db, budget=5_500)  # 550 a unit: at or above 5 of the 10 northern awards
    assert list(loaded) == ["9-9-COT25"]
    assert loaded["9-9-COT25"]["prices"]["presupuesto_rango"] == 0.5
    result = PriceAnalysis().score(loaded["9-9-COT25"])
    assert result.components == {"budget_room": 40.0, "evidence": 4.0}
    assert result.value == 44.0
    assert result.features["precio_sugerido"] == 460
    assert "budget per unit at or above 50% of similar awards" in result.reasons


def test_without_a_budget_there_is_no_room_to_score(db: sa.Engine) -> None:
    loaded = _tender(db, budget=None)["9-9-COT25"]
    result = PriceAnalysis().score(loaded)
    assert loaded["prices"]["presupuesto_rango"] is None
    assert result.components["budget_room"] == 0.0
    assert result.value == 4.0
    assert result.reasons[0] == "no budget per unit to compare"


def test_the_cache_counts_hits_and_misses_and_expires(
    db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: clock[0])
    cache = PriceCache(ttl=3600)
    query = PriceQuery(producto="cloro gel", as_of=AS_OF)
    with db.connect() as conn:
        first = cache.analysis(conn, query)
        same = cache.analysis(conn, PriceQuery(producto="  Cloro   GEL ", as_of=AS_OF))
        clock[0] += 3601
        cache.analysis(conn, query)
    assert same == first
    assert (cache.hits, cache.misses) == (1, 2)
    families = list(cache.collector().collect())
    assert {s.labels["result"]: s.value for s in families[0].samples} == {"hit": 1.0, "miss": 2.0}


def test_a_zero_ttl_never_caches(db: sa.Engine) -> None:
    cache = PriceCache(ttl=0)
    with db.connect() as conn:
        for _ in range(2):
            cache.analysis(conn, PriceQuery(producto="cloro gel", as_of=AS_OF))
    assert (cache.hits, cache.misses) == (0, 2)


class _Counting(HashingEmbedder):
    """The hashing embedder, counting the texts it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Any:
        self.texts.extend(texts)
        return super().embed(texts)


def test_names_close_in_meaning_join_the_analysis(db: sa.Engine) -> None:
    toner = [
        _line(50 + i, price=60_000.0, won=True, product=name, days=30)
        for i, name in enumerate(("Tóner HP 85A original", "Toner compatible HP 85A"))
    ]
    with db.begin() as conn:
        ManySink().write(conn, toner)
    vectors = ProductVectors(_Counting(), min_similarity=0.4)
    with db.connect() as conn:
        plain = analyze(conn, PriceQuery(producto="cartucho toner hp 85a", as_of=AS_OF))
        found = analyze(
            conn, PriceQuery(producto="cartucho toner hp 85a", as_of=AS_OF), vectors.neighbours
        )
    added = [p for p in found["productos_similares"] if p["por"] == "semantica"]
    assert {p["producto"] for p in plain["productos_similares"]} < {
        p["producto"] for p in found["productos_similares"]
    }
    assert added
    assert all(p["similitud"] >= 0.4 for p in added)
    assert all(p["cotizaciones"] == 1 for p in added)
    assert found["muestra"]["adjudicaciones"] > plain["muestra"]["adjudicaciones"]


def test_product_names_are_embedded_once_and_new_ones_only(db: sa.Engine) -> None:
    embedder = _Counting()
    vectors = ProductVectors(embedder)
    with db.connect() as conn:
        vectors.neighbours(conn, "cloro")
        vectors.neighbours(conn, "cemento")
    assert sorted(embedder.texts) == sorted([CLORO, "Cemento saco 25 kg", "cloro", "cemento"])
    with db.begin() as conn:
        ManySink().write(
            conn, [_line(60, price=9.0, won=True, product="Cloro tradicional 1 litro")]
        )
    with db.connect() as conn:
        found = vectors.neighbours(conn, "cloro litro")
    assert embedder.texts[-2:] == ["Cloro tradicional 1 litro", "cloro litro"]
    assert {name for name, _ in found} >= {CLORO, "Cloro tradicional 1 litro"}


def test_the_meaning_threshold_follows_the_embedder() -> None:
    class Other(HashingEmbedder):
        name = "all-MiniLM-L6-v2"

    assert ProductVectors(HashingEmbedder()).min_similarity == 0.4
    assert ProductVectors(Other()).min_similarity == 0.55
    assert ProductVectors(Other(), min_similarity=0.7).min_similarity == 0.7


@pytest.mark.parametrize("name", ["hashing", "e5"])
def test_each_embedders_min_similarity_pairs_namings_of_one_product(name: str) -> None:
    """Over the catalogue's names: most pairs above the embedder's floor name one product, and
    a fair share of those pairs clear it (a floor from another embedder's scale fails both)."""
    if name == "e5":
        need_package(e5_installed(), "the multilingual E5 model", "run `make embeddings`")
    embedder = default_embedder(name)
    names = [(p.key, n) for c in CATEGORIES for p in c.products for n in p.names]
    vectors = embedder.embed([n for _, n in names])
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    same = {(i, j) for i, j in pairs if names[i][0] == names[j][0]}
    floor = MIN_SIMILARITY[embedder.name]
    found = {(i, j) for i, j in pairs if float(vectors[i] @ vectors[j]) >= floor}
    assert len(found & same) / len(found) >= 0.6  # precision
    assert len(found & same) / len(same) >= 0.3  # recall


def test_the_benchmark_asks_each_question_after_an_eviction_when_it_may(db: sa.Engine) -> None:
    evictions: list[int] = []
    found = measure(str(db.url), evict=lambda: evictions.append(len(evictions)))
    questions = len(QUESTIONS)
    assert len(evictions) == questions  # one before each question of the evicted pass
    assert found["questions"] == questions
    assert found["cache_misses"] == 2 * questions  # cold, then evicted: none served cached
    assert found["cache_hits"] == questions  # warm
    assert 0 < found["evicted_p50_ms"] <= found["evicted_p95_ms"]
    assert "evicted_p95_ms" not in measure(str(db.url))


def test_the_benchmark_says_why_it_cannot_drop_the_page_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rescore.bench import tenders as t1

    monkeypatch.setattr(t1, "DROP_CACHES", tmp_path / "absent")
    assert t1._evictor() == f"{tmp_path / 'absent'} is not writable (Linux, as root)"
    writable = tmp_path / "drop_caches"
    writable.write_text("")
    monkeypatch.setattr(t1, "DROP_CACHES", writable)
    evict = t1._evictor()
    assert callable(evict)
    evict()
    assert writable.read_text() == "1\n"
