"""Exports (seed 001's ``exports`` queue): a subscriber's search, price analysis or alert
matches as an Excel workbook or a PDF, written in the background with progress.

Three sources, each a :class:`Table` (column names, the row count known up front, rows
streamed from the database):

- ``busqueda``: every quote line in the history of the products a search finds (the
  catalogue's fuzzy search, then the lines by exact names, streamed ``yield_per``);
- ``precio``: a price analysis (prices, similar products, last awards, competitors,
  insights), one row per fact;
- ``alertas``: the open tenders the subscriber's alert profiles match now.

Writers stream: openpyxl's write-only workbook keeps no rows in memory, and the PDF is drawn
line by line on reportlab's canvas. Both write under a temporary name and rename at the end,
so a failed export leaves no half file; ``progress(rows written, total)`` is called every
:data:`EVERY` rows and at the end::

    table = search_table(conn, "notebook")
    path = write(table, folder / "busqueda.xlsx", "xlsx", progress)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from rescore.exceptions import InvalidInput
from rescore.packs.tenders.alerts import tender_text
from rescore.packs.tenders.documents import need
from rescore.packs.tenders.schema import history, tenders
from rescore.packs.tenders.search import search

if TYPE_CHECKING:
    from rescore.packs.tenders.alerts import ProfileIndex

__all__ = [
    "EVERY",
    "FORMATS",
    "SOURCES",
    "Table",
    "alert_table",
    "price_table",
    "search_table",
    "write",
]

FORMATS = ("xlsx", "pdf")
SOURCES = ("busqueda", "precio", "alertas")
#: Progress is reported every this many rows.
EVERY = 1000
#: Product names a search export takes from the catalogue.
SEARCH_NAMES = 50

HISTORY_COLUMNS = (
    "codigo_licitacion",
    "fecha_cierre",
    "organismo",
    "region",
    "producto_cotizado",
    "cantidad",
    "precio_unitario",
    "monto_total",
    "nombre_proveedor",
    "rut_proveedor",
    "es_ganador",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Table:
    """What an export writes: a title, columns, how many rows, the rows (an iterator)."""

    title: str
    columns: Sequence[str]
    total: int
    rows: Iterator[Sequence[Any]]


def search_table(conn: Connection, text: str) -> Table:
    """The history's quote lines of the products ``text`` finds, newest first."""
    names = [p["producto"] for p in search(conn, text, SEARCH_NAMES)["productos"]]
    where = history.c.producto_cotizado.in_(names)
    total = conn.execute(select(func.count()).where(where)).scalar_one() if names else 0
    query = (
        select(*(history.c[c] for c in HISTORY_COLUMNS))
        .where(where)
        .order_by(history.c.fecha_cierre.desc(), history.c.codigo_licitacion)
    )
    rows = (
        (tuple(r) for r in conn.execution_options(yield_per=5_000).execute(query))
        if names
        else iter(())
    )
    return Table(title=f"Búsqueda «{text}»", columns=HISTORY_COLUMNS, total=int(total), rows=rows)


def price_table(analysis: dict[str, Any]) -> Table:
    """A price analysis, one fact per row (section, item, value, detail)."""
    rows: list[tuple[Any, ...]] = [
        ("precio", key, analysis.get(key), "")
        for key in ("precio_competitivo", "precio_sugerido", "precio_seguro")
    ]
    rows += [
        ("similar", p["producto"], p["similitud"], p.get("por", ""))
        for p in analysis.get("productos_similares", [])
    ]
    rows += [
        ("adjudicacion", a["fecha"], a["precio_unitario"], f"{a['proveedor']} / {a['organismo']}")
        for a in analysis.get("ultimas_adjudicaciones", [])
    ]
    rows += [
        ("competidor", c["nombre"], c["adjudicaciones"], f"{c['rut']}, {c['cotizaciones']} cotiz.")
        for c in analysis.get("competidores_frecuentes", [])
    ]
    rows += [("insight", i["tipo"], "", i["texto"]) for i in analysis.get("insights", [])]
    title = f"Análisis de precio «{analysis.get('producto', '')}»"
    return Table(
        title=title,
        columns=("seccion", "item", "valor", "detalle"),
        total=len(rows),
        rows=iter(rows),
    )


def alert_table(conn: Connection, index: ProfileIndex, subscriber: str) -> Table:
    """The published tenders the subscriber's profiles match now, best first."""
    t = tenders.c
    found = [
        dict(r._mapping)
        for r in conn.execute(select(tenders).where(t.estado == "publicada").order_by(t.codigo))
    ]
    matched = index.match([tender_text(row) for row in found])
    rows = []
    for row, matches in zip(found, matched, strict=True):
        mine = [m for m in matches if m.subscriber == subscriber]
        if mine:
            best = mine[0]
            rows.append(
                (
                    row["codigo"],
                    row["nombre"],
                    row["organismo"],
                    row["region"],
                    row["fecha_cierre"],
                    best.text,
                    best.similarity,
                )
            )
    rows.sort(key=lambda r: -(r[6] if r[6] is not None else 1.0))
    columns = ("codigo", "nombre", "organismo", "region", "fecha_cierre", "perfil", "similitud")
    return Table(
        title="Licitaciones que coinciden con sus alertas",
        columns=columns,
        total=len(rows),
        rows=iter(rows),
    )


def write(table: Table, path: Path, kind: str, progress: Callable[[int, int], None]) -> Path:
    """Write ``table`` to ``path`` as ``kind`` (xlsx or pdf), atomically; the path."""
    if kind not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", field="formato")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        (_xlsx if kind == "xlsx" else _pdf)(table, partial, _counted(table, progress))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _counted(table: Table, progress: Callable[[int, int], None]) -> Iterator[Sequence[Any]]:
    done = 0
    progress(0, table.total)
    for row in table.rows:
        yield row
        done += 1
        if done % EVERY == 0:
            progress(done, max(done, table.total))
    progress(done, max(done, table.total))


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _xlsx(table: Table, path: Path, rows: Iterator[Sequence[Any]]) -> None:
    need("openpyxl")
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title="datos")
    sheet.append(list(table.columns))
    try:
        for row in rows:
            sheet.append([_cell(v) for v in row])
    finally:  # also on failure: closes the sheet's writer (the caller deletes the file)
        book.save(path)


def _pdf(table: Table, path: Path, rows: Iterator[Sequence[Any]]) -> None:
    need("reportlab")
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen.canvas import Canvas

    width, height = landscape(A4)
    canvas = Canvas(str(path), pagesize=(width, height))
    canvas.setTitle(table.title)
    y = _pdf_page(canvas, table, height)
    for row in rows:
        if y < 30:
            canvas.showPage()
            y = _pdf_page(canvas, table, height)
        canvas.drawString(20, y, _line(row, width))
        y -= 10
    canvas.save()


def _pdf_page(canvas: Any, table: Table, height: float) -> float:
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(20, height - 30, table.title)
    canvas.drawString(20, height - 45, " | ".join(table.columns)[:200])
    canvas.setFont("Helvetica", 7)
    return height - 60


def _line(row: Sequence[Any], width: float) -> str:
    text = " | ".join("" if v is None else str(_cell(v)) for v in row)
    limit = int((width - 40) / 3.3)  # Helvetica 7 pt: about 3.3 points a character
    return text if len(text) <= limit else text[: limit - 1] + "…"
