"""Similar products by meaning: the catalogue's names embedded once, searched by vector.

Trigrams find ``Notebook HP 14"`` for "notebook hp" but not ``Computador portátil HP`` or
``Laptop HP ProBook``; the embeddings of :mod:`rescore.embeddings` do (with the offline MiniLM
model; the hashing fallback finds other forms of the same words). :class:`ProductVectors`
embeds each distinct name of ``productos_cotizados`` once, keeps them in a
:class:`rescore.vectors.VectorIndex` in this process, and embeds only the names that are new
when the catalogue has grown (one ``count(*)`` tells). The index is rebuilt when the source
database or the embedder changes.

Example::

    vectors = ProductVectors(default_embedder())     # 0.55 for MiniLM, 0.4 for hashing
    vectors.neighbours(conn, "notebook hp")   # [("Laptop HP ProBook 14", 0.71), ...]
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, func, select

from rescore.embeddings import Embedder
from rescore.packs.tenders.schema import products
from rescore.vectors import VectorIndex

__all__ = ["DEFAULT_MIN_SIMILARITY", "MIN_SIMILARITY", "NEIGHBOURS", "ProductVectors"]

#: Cosine similarity a name needs to count as similar by meaning, by embedder: MiniLM's
#: cosines run higher (related but different products reach 0.45-0.5: "notebook hp" and a
#: toner cartridge), the hashing fallback's lower (two namings of one toner meet at 0.41), E5's
#: highest (compressed: two other products meet at 0.85 on median; at 0.91, over the
#: catalogue's 98 names, 69% of the pairs found are namings of one product and 60% of those
#: pairs are found, where MiniLM at 0.55 gives 68% and 52%).
MIN_SIMILARITY = {"hashing-v1": 0.4, "multilingual-e5-small-q4": 0.91}
DEFAULT_MIN_SIMILARITY = 0.55
#: At most this many names are added by meaning.
NEIGHBOURS = 8
_BATCH = 512


class ProductVectors:
    """The catalogue's product names as vectors, embedded once per process and embedder."""

    def __init__(self, embedder: Embedder, *, min_similarity: float | None = None) -> None:
        self.embedder = embedder
        self.min_similarity = (
            MIN_SIMILARITY.get(embedder.name, DEFAULT_MIN_SIMILARITY)
            if min_similarity is None
            else min_similarity
        )
        self._lock = threading.Lock()
        self._index = VectorIndex(dim=embedder.dim, embedder=embedder.name)
        self._source: str | None = None
        self._count = 0

    def neighbours(
        self, conn: Connection, text: str, k: int = NEIGHBOURS
    ) -> list[tuple[str, float]]:
        """Names whose meaning is close to ``text``, closest first, with their cosine."""
        self._refresh(conn)
        query = self.embedder.embed_one(text)
        with self._lock:
            found = self._index.search(query, k=k, min_similarity=self.min_similarity)
        return [(m.key, round(m.similarity, 4)) for m in found]

    def _refresh(self, conn: Connection) -> None:
        """Embed the names the index does not hold yet (all of them for a new source)."""
        source = conn.engine.url.render_as_string(hide_password=True)
        count = int(conn.execute(select(func.count()).select_from(products)).scalar_one())
        with self._lock:
            if source != self._source:
                self._index = VectorIndex(dim=self.embedder.dim, embedder=self.embedder.name)
                self._source, self._count = source, 0
            if count == self._count:
                return
            names = [
                n
                for n in conn.execute(select(products.c.producto)).scalars()
                if n not in self._index
            ]
            for start in range(0, len(names), _BATCH):
                batch = names[start : start + _BATCH]
                self._index.add(batch, self.embedder.embed(batch))
            self._count = count
