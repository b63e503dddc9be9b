"""One open-data row checked and turned into a ``historico_licitaciones`` row, or refused.

Every refusal has a reason a person can act on (``RutProveedor check digit is wrong``), and a
row is taken whole or not at all: nothing is guessed. Quantities accept a decimal comma
(``12,5``), as Chilean spreadsheets write them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rescore.packs.tenders.catalog import valid_rut
from rescore.packs.tenders.schema import history

__all__ = ["KEY", "Rejected", "parse_row"]

#: The natural key of a quote line (the table's primary key), as positions in a parsed row.
KEY = (0, 1, 2, 3)
_LIMITS = {column.name: getattr(column.type, "length", None) for column in history.columns}
_TEXT = (
    ("CodigoCotizacion", "codigo_licitacion"),
    ("NombreCotizacion", "nombre_cotizacion"),
    ("NombreOrganismo", "organismo"),
    ("RegionUnidadCompra", "region"),
    ("Rubro", "categoria"),
    ("ProductoCotizado", "producto_cotizado"),
    ("NombreProveedor", "nombre_proveedor"),
    ("RegionProveedor", "region_proveedor"),
    ("TamanoProveedor", "tamano_proveedor"),
)
_WINNER = {"si": True, "sí": True, "1": True, "no": False, "0": False}


class Rejected(Exception):
    """Why a row was refused (one short sentence naming the column)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_row(raw: dict[str, str], month: date | None) -> tuple[Any, ...]:
    """The row in ``historico_licitaciones`` column order, or :class:`Rejected`.

    ``month`` (the file's month, from its name) bounds ``FechaCierre``: a month's file holds
    that month only, so re-importing it can be accounted for exactly."""
    text = {column: _text(raw, name, column) for name, column in _TEXT}
    closes = _closing(raw.get("FechaCierre", ""), month)
    item = _whole(raw, "Item", minimum=1, maximum=32_767)
    quantity = _quantity(raw.get("Cantidad", ""))
    total = _whole(raw, "MontoTotal", minimum=0, maximum=10**15)
    rut = raw.get("RutProveedor", "").replace(".", "").strip().upper()
    if not valid_rut(rut):
        raise Rejected(f"RutProveedor {rut!r} is not a RUT with a valid check digit")
    winner = _WINNER.get(raw.get("ProveedorSeleccionado", "").strip().lower())
    if winner is None:
        raise Rejected("ProveedorSeleccionado is not Si or No")
    return (
        text["codigo_licitacion"],
        item,
        rut,
        closes,
        text["nombre_cotizacion"],
        text["organismo"],
        text["region"],
        text["categoria"],
        text["producto_cotizado"],
        quantity,
        total,
        round(total / quantity, 2),
        text["nombre_proveedor"],
        text["region_proveedor"],
        text["tamano_proveedor"].lower(),
        winner,
    )


def _text(raw: dict[str, str], name: str, column: str) -> str:
    value = " ".join(raw.get(name, "").split())
    if not value:
        raise Rejected(f"{name} is empty")
    limit = _LIMITS[column]
    if limit is not None and len(value) > limit:
        raise Rejected(f"{name} is longer than {limit} characters")
    return value


def _closing(value: str, month: date | None) -> date:
    try:
        closes = datetime.fromisoformat(value.strip()).date()
    except ValueError:
        raise Rejected(f"FechaCierre {value!r} is not a date") from None
    if month is not None and (closes.year, closes.month) != (month.year, month.month):
        raise Rejected(f"FechaCierre {closes} is outside the file's month {month:%Y-%m}")
    return closes


def _whole(raw: dict[str, str], name: str, *, minimum: int, maximum: int) -> int:
    value = raw.get(name, "").strip()
    if not value.isdigit() or not minimum <= int(value) <= maximum:
        raise Rejected(f"{name} {value!r} is not a whole number from {minimum} to {maximum}")
    return int(value)


def _quantity(value: str) -> float:
    try:
        quantity = float(value.strip().replace(",", "."))
    except ValueError:
        raise Rejected(f"Cantidad {value!r} is not a number") from None
    if not 0 < quantity < 1e9:
        raise Rejected(f"Cantidad {value!r} is not a positive quantity")
    return round(quantity, 2)
