"""Fuzzy product search over the history's catalogue of names (the CLI's and API's search).

The database's index finds candidates (``pg_trgm`` GIN on PostgreSQL, an FTS5 ``trigram``
table on SQLite, a trigram table on MariaDB) and :func:`.similarity.word_similarity` ranks them,
so the same text finds the same names, in the same order, on every database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from rescore.packs.tenders import storage
from rescore.packs.tenders.analysis import similar_products
from rescore.packs.tenders.schema import products

__all__ = ["index_kind", "search"]


def index_kind(conn: Connection) -> str:
    """Which index serves the search on this database (reported with every answer)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return "pg_trgm"
    if dialect == "sqlite":
        return "fts5_trigram" if storage.FTS_AVAILABLE else "like"
    return "trigram_table" if dialect in ("mysql", "mariadb") else "like"


def search(conn: Connection, text: str, limit: int = 10) -> dict[str, Any]:
    """``{"consulta", "indice", "productos": [...]}``: names like ``text``, best first."""
    found = similar_products(conn, text, limit)
    names = [m["producto"] for m in found]
    extra = {
        name: (category, last)
        for name, category, last in conn.execute(
            select(products.c.producto, products.c.categoria, products.c.ultima_fecha).where(
                products.c.producto.in_(names)
            )
        )
    }
    for match in found:
        category, last = extra[match["producto"]]
        match["categoria"] = category
        match["ultima_fecha"] = last.isoformat()
    return {"consulta": text, "indice": index_kind(conn), "productos": found}
