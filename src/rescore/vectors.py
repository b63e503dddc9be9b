"""A vector index with string keys, kept as a file beside the database.

pgvector is not available everywhere rescore runs (SQLite, MariaDB, a PostgreSQL without the
extension), so nearest-neighbour search lives in a usearch HNSW index next to the database; the
rows it indexes stay in the database, which is the truth: an index can always be rebuilt from
them (``VectorIndex.open(..., embedder=...)`` tells you when it must be)::

    from rescore.embeddings import default_embedder
    from rescore.vectors import VectorIndex

    embedder = default_embedder()
    index = VectorIndex.open(Path(".rescore/profiles.usearch"), embedder=embedder.name)
    index.add(["profile-7"], embedder.embed(["Vendo laptops HP"]))
    index.search(embedder.embed_one("Compra de notebooks"), k=5, min_similarity=0.4)
    index.save()

Keys are the caller's strings (a profile id, a lesson id); adding a key again replaces its
vector. Similarities are cosines in [-1, 1], higher is closer. An index is safe to share between
threads; between processes, one writes and saves, the others :meth:`VectorIndex.open` again.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from usearch.index import Index

from rescore.embeddings import DIMENSIONS
from rescore.exceptions import ConfigurationError

__all__ = ["Match", "VectorIndex"]

# Below this many vectors an exact scan is as fast as the graph and never misses a neighbour.
_EXACT_BELOW = 2_000


@dataclass(frozen=True, kw_only=True, slots=True)
class Match:
    """One neighbour: its key and its cosine similarity to the query."""

    key: str
    similarity: float


def _label(key: str) -> int:
    """A stable 63-bit integer for a string key (usearch keys are integers)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") >> 1


class VectorIndex:
    """An HNSW index (cosine) of ``dim``-wide vectors under string keys, saved to ``path``.

    ``embedder`` names what made the vectors; :meth:`open` refuses to mix vectors of another
    embedder into a saved index (rebuild it instead, from the database)."""

    def __init__(self, *, dim: int = DIMENSIONS, embedder: str, path: Path | None = None) -> None:
        self.dim = dim
        self.embedder = embedder
        self.path = path
        self._index = Index(ndim=dim, metric="cos", dtype="f32")
        self._keys: dict[int, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, embedder: str, dim: int = DIMENSIONS) -> VectorIndex:
        """The index saved at ``path``, or a new empty one there when there is none yet."""
        index = cls(dim=dim, embedder=embedder, path=path)
        meta_path = _meta_path(path)
        if not path.exists() or not meta_path.exists():
            return index
        meta = json.loads(meta_path.read_text())
        if meta.get("embedder") != embedder or meta.get("dim") != dim:
            raise ConfigurationError(
                f"the index {path} was built by {meta.get('embedder')!r} ({meta.get('dim')} "
                f"dimensions), not {embedder!r}: delete it and rebuild it from the database"
            )
        index._index.load(str(path))
        index._keys = {_label(key): key for key in meta["keys"]}
        if len(index._index) != len(index._keys):
            raise ConfigurationError(
                f"the index {path} holds {len(index._index)} vectors but its key file "
                f"{len(index._keys)}: delete both and rebuild the index from the database"
            )
        return index

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _label(key) in self._keys

    def keys(self) -> list[str]:
        """Every key indexed (to reconcile the index with the rows it mirrors)."""
        with self._lock:
            return list(self._keys.values())

    def add(self, keys: Sequence[str], vectors: NDArray[np.float32]) -> None:
        """Index ``vectors[i]`` under ``keys[i]``, replacing what a key held before."""
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        if not keys:
            return
        labels = np.array([_label(k) for k in keys], dtype=np.uint64)
        with self._lock:
            known = [int(label) for label in labels if int(label) in self._keys]
            if known:
                self._index.remove(np.array(known, dtype=np.uint64))
            self._index.add(labels, np.asarray(vectors, dtype=np.float32))
            self._keys.update(zip((int(label) for label in labels), keys, strict=True))

    def remove(self, keys: Sequence[str]) -> int:
        """Drop these keys; returns how many were indexed."""
        with self._lock:
            labels = [_label(k) for k in keys if _label(k) in self._keys]
            if labels:
                self._index.remove(np.array(labels, dtype=np.uint64))
            for label in labels:
                del self._keys[label]
        return len(labels)

    def search(
        self, vector: NDArray[np.float32], *, k: int = 10, min_similarity: float = -1.0
    ) -> list[Match]:
        """The ``k`` nearest keys to one vector with at least ``min_similarity``, closest first."""
        return self.search_many(np.asarray([vector]), k=k, min_similarity=min_similarity)[0]

    def search_many(
        self, vectors: NDArray[np.float32], *, k: int = 10, min_similarity: float = -1.0
    ) -> list[list[Match]]:
        """:meth:`search` for each row of ``vectors`` at once (one call, all cores)."""
        with self._lock:
            if not self._keys or len(vectors) == 0:
                return [[] for _ in range(len(vectors))]
            found = self._index.search(
                np.asarray(vectors, dtype=np.float32),
                min(k, len(self._keys)),
                exact=len(self._keys) < _EXACT_BELOW,
            )
            keys = np.atleast_2d(found.keys)
            distances = np.atleast_2d(found.distances)
            return [
                self._matches(ks, ds, min_similarity)
                for ks, ds in zip(keys, distances, strict=True)
            ]

    def _matches(
        self, labels: NDArray[np.uint64], distances: NDArray[np.float32], floor: float
    ) -> list[Match]:
        out = []
        for label, distance in zip(labels, distances, strict=True):
            key = self._keys.get(int(label))
            similarity = 1.0 - float(distance)
            if key is not None and similarity >= floor:
                out.append(Match(key=key, similarity=similarity))
        return out

    def save(self) -> None:
        """Write the index and its keys to ``path`` (each replaced whole, never half-written)."""
        if self.path is None:
            raise ConfigurationError("this index has no path to save to")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            temporary = self.path.with_name(self.path.name + ".tmp")
            self._index.save(str(temporary))
            os.replace(temporary, self.path)
            meta = {"embedder": self.embedder, "dim": self.dim, "keys": list(self._keys.values())}
            _write_atomically(_meta_path(self.path), json.dumps(meta))


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
