"""The tenders pack's monthly files, row checks, generator and trigram similarity."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from rescore.packs.tenders.catalog import REGIONS, organisations, rut_check_digit, valid_rut
from rescore.packs.tenders.cotfile import COLUMNS, file_month, file_name, read_rows, write_month
from rescore.packs.tenders.generator import World, month_rows, months_back
from rescore.packs.tenders.rows import Rejected, parse_row
from rescore.packs.tenders.similarity import similarity, trigrams, word_similarity

GOOD = {
    "CodigoCotizacion": "1057-12-COT24",
    "NombreCotizacion": "Compra de notebooks",
    "FechaCierre": "2024-12-03 15:30:00",
    "NombreOrganismo": "Municipalidad de Temuco",
    "RegionUnidadCompra": "Región de La Araucanía",
    "Rubro": "Equipamiento informático",
    "Item": "1",
    "ProductoCotizado": 'Notebook HP 14"',
    "Cantidad": "4",
    "MontoTotal": "2080000",
    "RutProveedor": "76.086.428-5",
    "NombreProveedor": "Comercial Andes SpA",
    "RegionProveedor": "Región de La Araucanía",
    "TamanoProveedor": "Pequena",
    "ProveedorSeleccionado": "Si",
}


def test_rut_check_digits_follow_module_11() -> None:
    assert rut_check_digit(76086428) == "5"
    assert rut_check_digit(11111111) == "1"
    assert rut_check_digit(10000013) == "K"
    assert valid_rut("76.086.428-5")
    assert valid_rut("10000013-k")
    assert not valid_rut("76086428-4")
    assert not valid_rut("76086428")
    assert not valid_rut("x-5")


def test_a_good_row_becomes_a_history_row() -> None:
    row = parse_row(GOOD, date(2024, 12, 1))
    assert row[:4] == ("1057-12-COT24", 1, "76086428-5", date(2024, 12, 3))
    assert row[9:12] == (4.0, 2_080_000, 520_000.0)
    assert row[14:] == ("pequena", True)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("RutProveedor", "76086428-4", "RutProveedor '76086428-4' is not a RUT"),
        ("FechaCierre", "2024-11-30 10:00:00", "outside the file's month 2024-12"),
        ("FechaCierre", "ayer", "FechaCierre 'ayer' is not a date"),
        ("Cantidad", "0", "not a positive quantity"),
        ("Cantidad", "tres", "Cantidad 'tres' is not a number"),
        ("MontoTotal", "12.5", "MontoTotal '12.5' is not a whole number"),
        ("ProveedorSeleccionado", "quizás", "ProveedorSeleccionado is not Si or No"),
        ("ProductoCotizado", "   ", "ProductoCotizado is empty"),
        ("NombreOrganismo", "x" * 201, "NombreOrganismo is longer than 200"),
        ("Item", "-1", "Item '-1' is not a whole number"),
    ],
)
def test_a_bad_row_is_refused_with_its_reason(column: str, value: str, reason: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse_row({**GOOD, column: value}, date(2024, 12, 1))
    assert reason in refused.value.reason


def test_a_decimal_comma_quantity_is_read() -> None:
    row = parse_row({**GOOD, "Cantidad": "2,5", "MontoTotal": "1000"}, None)
    assert row[9] == 2.5
    assert row[11] == 400.0


def test_file_names_say_their_month() -> None:
    assert file_name(date(2024, 12, 1)) == "COT_2024-12.zip"
    assert file_month(Path("x/COT_2024-12.zip")) == date(2024, 12, 1)
    assert file_month(Path("COT_2024-13.zip")) is None
    assert file_month(Path("notes.zip")) is None
    assert months_back(date(2024, 2, 1), 3) == [
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]


def test_a_month_written_reads_back_row_for_row(tmp_path: Path) -> None:
    world = World.build(3, suppliers=200)
    rows = list(month_rows(world, date(2024, 12, 1), 300))
    path = write_month(tmp_path, date(2024, 12, 1), iter(rows))
    assert path.name == "COT_2024-12.zip"
    assert not list(tmp_path.glob("*.partial"))
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["COT_2024-12.csv"]
        head = zf.read("COT_2024-12.csv")[:40]
    assert head.startswith(b"\xef\xbb\xbfCodigoCotizacion;")
    read = list(read_rows(path))
    assert len(read) == len(rows)
    assert read[0][0] == 2
    assert [tuple(r[c] for c in COLUMNS) for _, r in read] == [tuple(map(str, r)) for r in rows]


def test_the_generator_is_reproducible_and_shaped_like_the_market() -> None:
    one = list(month_rows(World.build(5, suppliers=300), date(2024, 6, 1), 2_000))
    two = list(month_rows(World.build(5, suppliers=300), date(2024, 6, 1), 2_000))
    assert one == two
    assert len(one) >= 2_000
    requests: dict[str, list[tuple[object, ...]]] = {}
    for row in one:
        requests.setdefault(str(row[0]), []).append(row)
    winners = [sum(r[14] == "Si" for r in rows) > 0 for rows in requests.values()]
    assert 0.85 < sum(winners) / len(winners) < 1.0  # about 6% of requests are void
    for rows in requests.values():
        won = {r[10] for r in rows if r[14] == "Si"}
        assert len(won) <= 1  # one supplier wins a whole request
    assert {r[4] for r in one} <= set(REGIONS)
    assert all(valid_rut(str(r[10])) for r in one)


def test_the_cheapest_quote_wins_far_more_often_than_chance() -> None:
    rows = list(month_rows(World.build(11, suppliers=300), date(2024, 6, 1), 20_000))
    requests: dict[object, dict[object, tuple[int, bool]]] = {}
    for r in rows:
        total, _won = requests.setdefault(r[0], {}).get(r[10], (0, False))
        requests[r[0]][r[10]] = (total + int(str(r[9])), r[14] == "Si")
    decided = [q for q in requests.values() if len(q) > 1 and any(w for _, w in q.values())]
    cheapest_won = sum(min(q.values())[1] for q in decided) / len(decided)
    chance = sum(1 / len(q) for q in decided) / len(decided)
    assert cheapest_won > 1.8 * chance


def test_every_region_has_buyers_with_price_effects() -> None:
    buyers = organisations()
    assert {b.region for b in buyers} == set(REGIONS)
    assert len({b.name for b in buyers}) == len(buyers)
    assert min(b.price_effect for b in buyers) < 1 < max(b.price_effect for b in buyers)


def test_trigram_similarity_matches_pg_trgm() -> None:
    # the values PostgreSQL 15's pg_trgm 1.6 answers for the same calls
    assert trigrams("word") == {"  w", " wo", "wor", "ord", "rd "}
    assert word_similarity("word", "two words") == pytest.approx(0.8)
    assert similarity("word", "two words") == pytest.approx(0.36363637)
    assert word_similarity("computadores", "Computador portátil HP 14 pulgadas") == pytest.approx(
        0.7692308
    )
    assert word_similarity("laptop hp", "Laptop HP ProBook 14") == 1.0
    assert word_similarity("", "anything") == 0.0
    assert word_similarity("cemento", "Guantes de nitrilo") == 0.0
