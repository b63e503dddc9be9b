"""Semantic and keyword alerts: which subscribers a tender concerns.

Active profiles live in ``perfiles_alerta`` (the truth). Semantic ones are embedded with
:func:`rescore.embeddings.default_embedder` into a :class:`rescore.vectors.VectorIndex` (usearch
HNSW, cosine) kept as a file beside the database; keyword ones in a
:class:`~rescore.packs.tenders.matching.KeywordIndex` in memory. :meth:`ProfileIndex.sync`
brings both up to date with the table before each match: one cheap query (count and newest
creation time of the active profiles) when nothing changed, else it embeds the profiles the
index lacks and drops those it should not hold, and saves the file. A profile is never edited
in place (the API replaces it), so a changed id set is every change there is.

:meth:`ProfileIndex.match` answers, for a tender's text, each subscriber it concerns once, by
its best profile: semantic profiles whose cosine similarity reaches their threshold (the
profile's ``umbral``, else the embedder's default in :data:`DEFAULT_THRESHOLDS`, chosen on the
labelled set, see :mod:`.evaluation`), keyword profiles whose words appear in it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from rescore.embeddings import Embedder
from rescore.exceptions import ConfigurationError
from rescore.packs.tenders.matching import KeywordIndex
from rescore.packs.tenders.schema import alert_profiles
from rescore.vectors import VectorIndex

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MAX_MATCHES",
    "Matched",
    "ProfileIndex",
    "index_path",
    "tender_text",
    "threshold_for",
]

#: The cosine threshold of a semantic profile without its own ``umbral``, per embedder: the
#: F1-best threshold on the labelled set (``rescore bench --only T2`` shows how it was chosen).
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "hashing-v1": 0.19,
    "all-MiniLM-L6-v2": 0.50,
    "multilingual-e5-small-q4": 0.86,
}
#: Neighbours asked of the index per tender: the most subscribers one tender can alert.
MAX_MATCHES = 500
INDEX_FILE = "tenders-perfiles.usearch"

log = logging.getLogger(__name__)


def threshold_for(embedder: str) -> float:
    """The default threshold of ``embedder`` (0.5 for one not measured here)."""
    return DEFAULT_THRESHOLDS.get(embedder, 0.5)


def tender_text(tender: Mapping[str, Any]) -> str:
    """What a tender says it buys: its name, description and product."""
    parts = (tender.get("nombre"), tender.get("descripcion"), tender.get("producto"))
    return ". ".join(str(p) for p in parts if p)


def index_path(conn: Connection, folder: Path | None) -> Path | None:
    """Beside the SQLite file, else in ``folder`` (default ``.rescore``), named per database;
    None for an in-memory database (its index lives and dies with the process, like it)."""
    url = conn.engine.url
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    if folder is None and backend == "sqlite":
        return Path(str(url.database)).resolve().parent / INDEX_FILE
    name = f"{backend}-{url.host or 'local'}-{url.database or 'db'}-{INDEX_FILE}"
    return (folder or Path(".rescore")) / name


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    subscriber: str
    kind: str
    text: str
    threshold: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Matched:
    """A subscriber a tender concerns, by its best profile."""

    subscriber: str
    profile: str
    kind: str
    text: str
    similarity: float | None
    keywords: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "suscriptor_id": self.subscriber,
            "perfil_id": self.profile,
            "tipo": self.kind,
            "texto": self.text,
            "similitud": None if self.similarity is None else round(self.similarity, 4),
            "palabras": list(self.keywords),
        }


class ProfileIndex:
    """The active profiles of one source database, ready to match tenders against."""

    def __init__(self, embedder: Embedder, path: Path | None) -> None:
        self.embedder = embedder
        self.path = path
        self.vectors = _opened(embedder, path)
        self.profiles: dict[str, Profile] = {}
        self.keywords = KeywordIndex.of(())
        self._signature: tuple[Any, ...] | None = None
        self._lock = threading.Lock()

    def sync(self, conn: Connection) -> bool:
        """Bring the indexes up to date with ``perfiles_alerta``; whether anything changed."""
        p = alert_profiles.c
        signature = tuple(conn.execute(select(*_SIGNATURE).where(p.activo)).one())
        with self._lock:
            if signature == self._signature:
                return False
            rows = conn.execute(
                select(p.id, p.suscriptor_id, p.tipo, p.texto, p.umbral).where(p.activo)
            ).all()
            self._reload(
                {
                    r.id: Profile(
                        subscriber=r.suscriptor_id, kind=r.tipo, text=r.texto, threshold=r.umbral
                    )
                    for r in rows
                }
            )
            self._signature = signature
        return True

    def _reload(self, profiles: dict[str, Profile]) -> None:
        semantic = {vector_key(k, v.text): v for k, v in profiles.items() if v.kind == "semantic"}
        indexed = self.vectors.keys()
        stale = [k for k in indexed if k not in semantic]
        missing = [k for k in semantic if k not in self.vectors]
        self.vectors.remove(stale)
        if missing:
            self.vectors.add(missing, self.embedder.embed([semantic[k].text for k in missing]))
        if (stale or missing) and self.path is not None:
            self.vectors.save()
        self.profiles = profiles
        self.keywords = KeywordIndex.of(
            (k, [w.strip() for w in v.text.split(",")])
            for k, v in profiles.items()
            if v.kind == "keyword"
        )

    def embedded(self) -> list[str]:
        """The semantic profiles the vector index holds (ids, in its order)."""
        indexed = self.vectors.keys()
        return [profile_of(key) for key in indexed]

    def match(self, texts: Sequence[str]) -> list[list[Matched]]:
        """For each text, the subscribers it concerns (best profile each, best first)."""
        default = threshold_for(self.embedder.name)
        floor = min(
            [default, *(p.threshold for p in self.profiles.values() if p.threshold is not None)]
        )
        vectors = self.embedder.embed(list(texts))
        with self._lock:
            found = self.vectors.search_many(vectors, k=MAX_MATCHES, min_similarity=floor)
            return [
                self._best(text, hits, default) for text, hits in zip(texts, found, strict=True)
            ]

    def _best(self, text: str, hits: Sequence[Any], default: float) -> list[Matched]:
        best: dict[str, Matched] = {}
        for hit in hits:
            key = profile_of(hit.key)
            profile = self.profiles.get(key)
            limit = default if profile is None or profile.threshold is None else profile.threshold
            if profile is not None and hit.similarity >= limit:
                _keep(
                    best,
                    Matched(
                        subscriber=profile.subscriber,
                        profile=key,
                        kind="semantic",
                        text=profile.text,
                        similarity=hit.similarity,
                    ),
                )
        for key, words in self.keywords.matches(text).items():
            profile = self.profiles[key]
            _keep(
                best,
                Matched(
                    subscriber=profile.subscriber,
                    profile=key,
                    kind="keyword",
                    text=profile.text,
                    similarity=None,
                    keywords=tuple(words),
                ),
            )
        return sorted(best.values(), key=lambda m: (-(m.similarity or 1.0), m.subscriber))


#: What tells a sync that the active profiles changed: any added, removed, switched on or off,
#: and (the business may edit its own table) any text or threshold changed, short of an edit
#: that keeps the text's length and every threshold's sum, which only a restart then picks up.
_SIGNATURE = (
    func.count(),
    func.max(alert_profiles.c.creado_en),
    func.sum(func.length(alert_profiles.c.texto)),
    func.sum(func.coalesce(alert_profiles.c.umbral, 0.0)),
    func.count(alert_profiles.c.umbral),
)


def vector_key(profile: str, text: str) -> str:
    """A semantic profile's key in the vector index: its id and its text's digest, so an edited
    text is a new key (embedded again) and the old vector a stale one (removed)."""
    return f"{profile}#{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}"


def profile_of(key: str) -> str:
    """The profile id of a vector key."""
    return key.split("#", 1)[0]


def _opened(embedder: Embedder, path: Path | None) -> VectorIndex:
    """The saved index, or a new one: in memory without a path, and in place of a file another
    embedder made (or that does not match its keys): the table is the truth, the next sync
    embeds every profile again and the save replaces the file."""
    if path is None:
        return VectorIndex(embedder=embedder.name, dim=embedder.dim)
    try:
        return VectorIndex.open(path, embedder=embedder.name, dim=embedder.dim)
    except ConfigurationError as exc:
        log.warning("rebuilding the alert profiles' index: %s", exc)
        return VectorIndex(embedder=embedder.name, dim=embedder.dim, path=path)


def _keep(best: dict[str, Matched], candidate: Matched) -> None:
    """A keyword hit counts as certain (1.0); a subscriber keeps its strongest profile."""
    current = best.get(candidate.subscriber)
    strength = 1.0 if candidate.similarity is None else candidate.similarity
    if current is None or strength > (1.0 if current.similarity is None else current.similarity):
        best[candidate.subscriber] = candidate
