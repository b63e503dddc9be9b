"""The knowledge base: one knowledge document per lesson, in a vector store per school.

:func:`knowledge_document` is the seed's ``_format_knowledge_document`` (what retrieval reads).
Two stores take it, both idempotent on re-sync (the same lesson replaces its entry, never adds
a second one):

- :class:`LocalVectorStore`, the default: one :class:`rescore.vectors.VectorIndex` per school
  in a folder, over the offline embeddings, searched by ``GET /v1/packs/content/search`` and
  ``rescore content search``;
- :class:`OpenAIVectorStore`, the seed's: the document uploaded as a file, attached to the
  school's vector store (``Hotmart - <school>``, created when missing), indexing awaited with
  a time-out; a lesson's previous file is detached and deleted once the new one is indexed.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from rescore.exceptions import ServiceUnavailable

if TYPE_CHECKING:
    from rescore.embeddings import Embedder
    from rescore.vectors import Match, VectorIndex

__all__ = [
    "IndexingFailed",
    "LocalVectorStore",
    "OpenAIVectorStore",
    "Synced",
    "VectorStore",
    "knowledge_document",
    "knowledge_text",
]


class IndexingFailed(ServiceUnavailable):
    """The vector store did not index the knowledge document (failed or timed out)."""


@dataclass(frozen=True, slots=True)
class Synced:
    """Where a knowledge document went: the store's id and the file (or key) in it."""

    store: str
    file: str


class VectorStore(Protocol):
    name: str

    def sync(self, lesson_id: str, document: Mapping[str, Any], previous: Synced | None) -> Synced:
        """Put ``document`` in its school's store and take ``previous`` (where the lesson's
        last version went, maybe another school's store) out."""
        ...

    def close(self) -> None: ...


def knowledge_document(
    lesson_id: str, row: Mapping[str, Any], analysis: Mapping[str, Any]
) -> dict[str, Any]:
    """The seed's knowledge document for one lesson (titles, classification, transcription,
    concepts, objectives, visual content, prerequisites)."""
    classification = analysis["classification"]
    visual = analysis["visual_analysis"]
    return {
        "lesson_id": lesson_id,
        "course": row["course_title"],
        "module": row["module_title"],
        "lesson": row["title"],
        "school": classification["school"],
        "level": classification["level"],
        "topics": classification["topics"],
        "keywords": classification["keywords"],
        "transcription": analysis["transcription"],
        "key_concepts": analysis["key_concepts"],
        "learning_objectives": analysis["learning_objectives"],
        "diagrams": visual.get("diagrams", []),
        "code_snippets": visual.get("code_snippets", []),
        "demonstrations": visual.get("demonstrations", []),
        "prerequisites": analysis.get("prerequisites", []),
    }


def knowledge_text(document: Mapping[str, Any]) -> str:
    """The text a local index embeds for a document: titles, keywords, concepts, speech."""
    spoken = " ".join(s["text"] for s in document["transcription"]["segments"])
    parts = [
        document["course"],
        document["module"],
        document["lesson"],
        " ".join(document["keywords"]),
        " ".join(document["key_concepts"]),
        spoken,
    ]
    return ". ".join(p for p in parts if p)


def slug(school: str) -> str:
    """A file-safe name for a school ("programación" -> "programacion")."""
    folded = unicodedata.normalize("NFKD", school).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-") or "school"


class LocalVectorStore:
    """One usearch index per school under ``root`` (``<school>.usearch``), offline."""

    name = "local"

    def __init__(self, root: Path, embedder: Embedder | None = None) -> None:
        if embedder is None:
            from rescore.embeddings import default_embedder

            embedder = default_embedder()
        self.root = root
        self.embedder = embedder
        self._indexes: dict[str, VectorIndex] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing to release: every sync saved its index."""

    def index(self, school: str) -> VectorIndex:
        return self._by_slug(slug(school))

    def _by_slug(self, name: str) -> VectorIndex:
        from rescore.vectors import VectorIndex

        with self._lock:
            if name not in self._indexes:
                path = self.root / f"{name}.usearch"
                self._indexes[name] = VectorIndex.open(path, embedder=self.embedder.name)
            return self._indexes[name]

    def sync(self, lesson_id: str, document: Mapping[str, Any], previous: Synced | None) -> Synced:
        index = self.index(document["school"])
        index.add([lesson_id], self.embedder.embed([knowledge_text(document)]))
        with self._lock:
            index.save()
        synced = Synced(store=f"local:{slug(document['school'])}", file=lesson_id)
        if previous is not None and previous != synced:  # it moved to another school
            self._remove(previous.store.removeprefix("local:"), previous.file)
        return synced

    def _remove(self, name: str, lesson_id: str) -> None:
        index = self._by_slug(name)
        if index.remove([lesson_id]):
            with self._lock:
                index.save()

    def search(self, query: str, *, schools: list[str], k: int = 5) -> list[tuple[str, Match]]:
        """The ``k`` nearest lessons to ``query`` over ``schools``: (school, match), closest
        first."""
        vector = self.embedder.embed_one(query)
        found = [(s, m) for s in schools for m in self.index(s).search(vector, k=k)]
        return sorted(found, key=lambda pair: -pair[1].similarity)[:k]


class OpenAIVectorStore:
    """The seed's OpenAI Vector Stores sync (file upload, attach, wait, time-out)."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 300.0,
        poll: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=2)
        self._timeout = timeout
        self._poll = poll
        self._sleep = sleep
        self._stores: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the key
        return "OpenAIVectorStore()"

    def close(self) -> None:
        self._client.close()

    def sync(self, lesson_id: str, document: Mapping[str, Any], previous: Synced | None) -> Synced:
        import openai

        try:
            store = self._store(document["school"])
            file_id = self._client.files.create(
                file=(f"{lesson_id}.json", orjson.dumps(document), "application/json"),
                purpose="assistants",
            ).id
            self._client.vector_stores.files.create(vector_store_id=store, file_id=file_id)
            self._wait(store, file_id)
        except openai.APIError as exc:
            raise ServiceUnavailable(f"OpenAI vector store: {type(exc).__name__}") from None
        synced = Synced(store=store, file=file_id)
        if previous is not None and previous != synced:
            self._forget(previous.store, previous.file)
        return synced

    def _store(self, school: str) -> str:
        name = f"Hotmart - {school}"
        with self._lock:
            if school not in self._stores:
                found = [s.id for s in self._client.vector_stores.list() if s.name == name]
                self._stores[school] = (
                    found[0]
                    if found
                    else self._client.vector_stores.create(
                        name=name, metadata={"school": school}
                    ).id
                )
            return self._stores[school]

    def _wait(self, store: str, file_id: str) -> None:
        deadline = time.monotonic() + self._timeout
        while True:
            status = self._client.vector_stores.files.retrieve(
                file_id=file_id, vector_store_id=store
            )
            if status.status == "completed":
                return
            if status.status in ("failed", "cancelled"):
                error = status.last_error.message if status.last_error else status.status
                raise IndexingFailed(f"indexing {file_id} failed: {error}")
            if time.monotonic() >= deadline:
                raise IndexingFailed(f"indexing {file_id} timed out after {self._timeout:.0f} s")
            self._sleep(self._poll)

    def _forget(self, store: str, file_id: str) -> None:
        import openai

        try:
            self._client.vector_stores.files.delete(file_id=file_id, vector_store_id=store)
            self._client.files.delete(file_id)
        except openai.NotFoundError:
            pass  # already gone: the re-sync's goal
