"""Importing monthly files on SQLite: idempotent, refusals counted by reason, the catalogue and
the FTS5 trigram index kept in step, the inbox's pending files."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from rescore.exceptions import InvalidInput
from rescore.packs.tenders import storage
from rescore.packs.tenders.cotfile import COLUMNS
from rescore.packs.tenders.demodata import write_history
from rescore.packs.tenders.importer import import_file
from rescore.packs.tenders.inbox import Failed, import_paths, inbox_files, pending_files
from rescore.packs.tenders.schema import history, imports, metadata, products
from rescore.packs.tenders.search import search

NOW = datetime(2025, 1, 5, 12, 0)


@pytest.fixture
def db(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    with engine.begin() as conn:
        metadata.create_all(conn)
    return engine


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return write_history(
        tmp_path / "inbox", seed=3, last_month=date(2024, 12, 1), months=2, rows_per_month=400
    )


def _import(db: sa.Engine, path: Path) -> dict[str, object]:
    with db.begin() as conn:
        return import_file(conn, path, now=NOW).as_dict()


def _count(db: sa.Engine, table: sa.Table) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _bad_file(folder: Path, rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(COLUMNS)
    writer.writerows([[r.get(c, "") for c in COLUMNS] for r in rows])
    path = folder / "COT_2024-12.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("COT_2024-12.csv", buffer.getvalue().encode("utf-8-sig"))
    return path


def test_a_month_imports_once_and_a_second_time_adds_nothing(
    db: sa.Engine, files: list[Path]
) -> None:
    first = _import(db, files[0])
    assert first["new"] == _count(db, history) > 400
    assert first["duplicate"] == first["rejected"] == 0
    again = _import(db, files[0])
    assert again["new"] == 0
    assert again["duplicate"] == first["new"]
    assert _count(db, history) == first["new"]
    with db.connect() as conn:
        row = conn.execute(sa.select(imports)).mappings().one()
    assert row["archivo"] == files[0].name
    assert row["filas_duplicadas"] == first["new"]


def test_the_catalogue_counts_every_quote_line_once(db: sa.Engine, files: list[Path]) -> None:
    for path in files + files[:1]:
        _import(db, path)
    grouped = (
        sa.select(history.c.producto_cotizado, sa.func.count(), sa.func.max(history.c.fecha_cierre))
        .group_by(history.c.producto_cotizado)
        .order_by(history.c.producto_cotizado)
    )
    with db.connect() as conn:
        expected = [tuple(r) for r in conn.execute(grouped)]
        kept = conn.execute(
            sa.select(
                products.c.producto, products.c.cotizaciones, products.c.ultima_fecha
            ).order_by(products.c.producto)
        ).all()
    assert [tuple(r) for r in kept] == expected


def test_refused_rows_are_counted_by_reason_and_the_good_ones_kept(
    db: sa.Engine, tmp_path: Path
) -> None:
    good = {
        "CodigoCotizacion": "1-1-COT24", "NombreCotizacion": "Compra", "Item": "1",
        "FechaCierre": "2024-12-03 10:00:00", "NombreOrganismo": "Municipalidad de Arica",
        "RegionUnidadCompra": "Región de Arica y Parinacota", "Rubro": "Aseo y limpieza",
        "ProductoCotizado": "Cloro gel 1 litro", "Cantidad": "10", "MontoTotal": "16500",
        "RutProveedor": "76086428-5", "NombreProveedor": "Aseo Norte SpA",
        "RegionProveedor": "Región de Arica y Parinacota", "TamanoProveedor": "micro",
        "ProveedorSeleccionado": "Si",
    }  # fmt: skip
    rows = [
        good,
        {**good, "Item": "2", "RutProveedor": "76086428-4"},
        {**good, "Item": "3", "RutProveedor": "1-1"},
        {**good, "Item": "4", "FechaCierre": "2024-11-30 10:00:00"},
        good,  # the same line twice in one file
    ]
    report = _import(db, _bad_file(tmp_path, rows))
    assert (report["new"], report["duplicate"], report["rejected"]) == (1, 1, 3)
    assert report["reasons"] == {
        "RutProveedor is not a RUT with a valid check digit": 2,
        "FechaCierre 2024-11-30 is outside the file's month 2024-12": 1,
    }
    assert [e["line"] for e in report["examples"]] == [3, 4, 5]  # type: ignore[attr-defined]


def test_a_missing_file_is_refused_naming_it(db: sa.Engine, tmp_path: Path) -> None:
    with db.begin() as conn, pytest.raises(InvalidInput) as refused:
        import_file(conn, tmp_path / "COT_2024-01.zip")
    assert refused.value.field == "file"


def test_a_broken_file_fails_alone_and_the_others_are_imported(
    db: sa.Engine, files: list[Path], tmp_path: Path
) -> None:
    broken = tmp_path / "inbox" / "COT_2023-01.zip"
    broken.write_bytes(b"not a zip at all")
    done = list(import_paths(db.begin, [broken, *files], now=NOW))
    assert isinstance(done[0], Failed)
    assert done[0].file == broken.name
    assert [r.file for r in done[1:]] == [p.name for p in files]  # type: ignore[union-attr]
    assert _count(db, imports) == 2


def test_the_inbox_lists_months_in_order_and_skips_what_was_imported(
    db: sa.Engine, files: list[Path]
) -> None:
    folder = files[0].parent
    (folder / "readme.txt").write_text("not a month")
    assert inbox_files(folder) == files
    _import(db, files[0])
    with db.connect() as conn:
        assert pending_files(conn, files) == files[1:]
    assert inbox_files(folder / "nowhere") == []


@pytest.mark.skipif(not storage.FTS_AVAILABLE, reason="this SQLite has no FTS5 trigram tokenizer")
def test_fts5_trigram_search_finds_the_names_ranked(db: sa.Engine, files: list[Path]) -> None:
    _import(db, files[0])
    with db.connect() as conn:
        found = search(conn, "guantes nitrilo", 5)
        rows = conn.execute(
            sa.text(
                "SELECT count(*) FROM historico_licitaciones_fts "
                "WHERE historico_licitaciones_fts MATCH 'nitrilo'"
            )
        ).scalar_one()
        direct = conn.execute(
            sa.select(sa.func.count()).where(history.c.producto_cotizado.like("%nitrilo%"))
        ).scalar_one()
    assert found["indice"] == "fts5_trigram"
    with db.connect() as conn:  # a NUL would end the FTS5 query string: it is dropped
        assert search(conn, "guantes\x00 nitrilo", 5)["productos"] == found["productos"]
    names = [m["producto"] for m in found["productos"]]
    assert names[0] == "Guantes de nitrilo caja 100"
    assert all("nitrilo" in n.lower() for n in names)
    assert rows == direct > 0


def test_the_storage_steps_are_idempotent_on_sqlite(db: sa.Engine) -> None:
    with db.begin() as conn:
        again = storage.ensure(conn, date(2025, 1, 1))
    assert again == ([] if storage.FTS_AVAILABLE else [again[0]])
