"""The monthly open-data files: ``COT_YYYY-MM.zip`` holding ``COT_YYYY-MM.csv``.

Seed 001 imports ChileCompra's Compra Ágil quotes ("COT") one ZIP per month
(``COT_2024-12.zip``). The layout mimics those files: semicolon-separated, UTF-8 with a byte
order mark, a header row of ChileCompra-style column names (:data:`COLUMNS`), closing time as
``YYYY-MM-DD HH:MM:SS``, whole pesos, ``ProveedorSeleccionado`` ``Si``/``No``. Both sides
stream: :func:`write_month` takes an iterator of rows and :func:`read_rows` yields them, so a
month of any size never sits in memory.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

__all__ = ["COLUMNS", "file_month", "file_name", "read_rows", "write_month"]

COLUMNS: tuple[str, ...] = (
    "CodigoCotizacion",
    "NombreCotizacion",
    "FechaCierre",
    "NombreOrganismo",
    "RegionUnidadCompra",
    "Rubro",
    "Item",
    "ProductoCotizado",
    "Cantidad",
    "MontoTotal",
    "RutProveedor",
    "NombreProveedor",
    "RegionProveedor",
    "TamanoProveedor",
    "ProveedorSeleccionado",
)
_NAME = re.compile(r"^COT_(\d{4})-(\d{2})\.zip$")


def file_name(month: date) -> str:
    """``COT_2024-12.zip`` for December 2024."""
    return f"COT_{month.year:04d}-{month.month:02d}.zip"


def file_month(path: Path) -> date | None:
    """The month a file's name says it holds, or None for another name."""
    found = _NAME.match(path.name)
    if found is None:
        return None
    year, month = int(found[1]), int(found[2])
    return date(year, month, 1) if 1 <= month <= 12 else None


def write_month(folder: Path, month: date, rows: Iterable[tuple[object, ...]]) -> Path:
    """Write ``rows`` (in :data:`COLUMNS` order) as the month's ZIP; return its path.

    Written to a temporary name and renamed, so an inbox never shows half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file_name(month)
    partial = target.with_suffix(".zip.partial")
    member = target.with_suffix(".csv").name
    archive = zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    with archive, archive.open(member, "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        text.flush()
        text.detach()
    partial.replace(target)
    return target


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Every data row of every CSV in the ZIP as ``(line number, {column: text})``.

    The header names the columns, so a file with its columns in another order still reads;
    a missing column is each row's problem (the importer rejects it with the reason)."""
    with zipfile.ZipFile(path) as zf:
        for member in sorted(n for n in zf.namelist() if n.lower().endswith(".csv")):
            with zf.open(member) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                reader = csv.reader(text, delimiter=";")
                header = [h.strip() for h in next(reader, [])]
                for number, values in enumerate(reader, start=2):
                    yield number, dict(zip(header, values, strict=False))
