"""The tenders pack (seed 001's CompraAgil, Chilean public procurement): see
:mod:`rescore.packs.tenders.pack` and docs/packs/tenders.md."""

from __future__ import annotations

from rescore.packs.tenders.analysis import PriceQuery, analizar_precio_optimo_v2, analyze
from rescore.packs.tenders.importer import ImportReport, import_file
from rescore.packs.tenders.pack import EVENT_ROUTES, TendersPack
from rescore.packs.tenders.scorers import PriceAnalysis

__all__ = [
    "EVENT_ROUTES",
    "ImportReport",
    "PriceAnalysis",
    "PriceQuery",
    "TendersPack",
    "analizar_precio_optimo_v2",
    "analyze",
    "import_file",
]
