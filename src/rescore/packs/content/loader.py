"""Reading lessons for the scorers, and reproducible demo rows for tests and ``rescore init``.

``load_inputs`` gives each lesson two parts: ``lesson`` (its row in ``content_lessons``) and
``document`` (its stored analysis summary, or None before analysis). Bound parameters only,
500 lessons a query.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from rescore.exceptions import PluginError
from rescore.packs.content.schema import STAGES, documents, lessons
from rescore.packs.content.schools import SCHOOLS
from rescore.packs.sdk import all_keys, present_keys

__all__ = ["PARTS", "entity_keys", "insert_demo", "known_entities", "load_inputs"]

CHUNK_SIZE = 500
PARTS = frozenset({"lesson", "document"})
_DOC_COLUMNS = (
    documents.c.lesson_id,
    documents.c.school,
    documents.c.level,
    documents.c.confidence,
    documents.c.analyzer,
    documents.c.document,
)


def load_inputs(
    conn: Connection, entities: Sequence[str], parts: frozenset[str]
) -> dict[str, dict[str, Any]]:
    """``{lesson id: {"lesson": row, "document": summary or None}}`` for the lessons found."""
    unknown = parts - PARTS
    if unknown:
        raise PluginError(f"content pack has no input part(s) {sorted(unknown)}")
    wanted = sorted(set(entities))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), CHUNK_SIZE):
        found.update(_chunk(conn, wanted[start : start + CHUNK_SIZE]))
    return found


def _chunk(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = conn.execute(select(lessons).where(lessons.c.lesson_id.in_(ids))).mappings()
    found = {r["lesson_id"]: {"lesson": dict(r), "document": None} for r in rows}
    for doc in conn.execute(select(*_DOC_COLUMNS).where(documents.c.lesson_id.in_(ids))):
        if doc.lesson_id in found:
            found[doc.lesson_id]["document"] = {
                "school": doc.school,
                "level": doc.level,
                "confidence": doc.confidence,
                "analyzer": doc.analyzer,
                "keywords": list(doc.document["classification"]["keywords"]),
            }
    return found


def known_entities(conn: Connection, entities: Sequence[str]) -> set[str]:
    return present_keys(conn, lessons.c.lesson_id, entities)


def entity_keys(conn: Connection) -> Iterator[str]:
    yield from all_keys(conn, lessons.c.lesson_id)


# -- demo rows ---------------------------------------------------------------------------------

_STATE_OF = {
    "none": "pending",
    "downloaded": "analysing",
    "stored": "stored",
    "synced": "synced",
    "done": "done",
}


def insert_demo(conn: Connection, *, seed: int, size: int, now: datetime) -> int:
    """``size`` lessons spread over courses of eight, at every stage, some failed and some
    dead letters, with a stored analysis for those past analysis. Reproducible per seed."""
    rng = random.Random(seed)
    rows, docs = [], []
    for i in range(size):
        row = _demo_lesson(rng, i, now)
        rows.append(row)
        if row["stage"] in ("stored", "synced", "done"):
            docs.append(_demo_document(rng, row, now))
    if rows:
        conn.execute(insert(lessons), rows)
    if docs:
        conn.execute(insert(documents), docs)
    return size


def _demo_lesson(rng: random.Random, i: int, now: datetime) -> dict[str, Any]:
    course, module, lesson = f"demo{i // 8:03d}", f"m{(i % 8) // 4 + 1}", f"l{i % 4 + 1}"
    stage = rng.choice(STAGES)
    broken = stage != "done" and rng.random() < 0.2
    attempts = rng.randint(1, 3) if broken else 0
    return {
        "lesson_id": f"{course}_{module}_{lesson}",
        "source": "demo",
        "course_id": course,
        "course_title": f"Curso demo {i // 8}",
        "module_id": module,
        "module_title": f"Módulo {module[1:]}",
        "title": f"Lección {i % 4 + 1}",
        "position": i % 4 + 1,
        "video_url": f"file:///demo/{course}/{module}/{lesson}.mp4",
        "subtitles_url": None,
        "fingerprint": f"{rng.getrandbits(128):032x}",
        "state": "failed" if broken else _STATE_OF[stage],
        "stage": stage,
        "attempts": attempts,
        "last_error": "ServiceUnavailable: download failed: ReadTimeout" if broken else None,
        "dead": broken and attempts == 3,
        "detected_at": now - timedelta(hours=rng.randint(1, 72)),
        "updated_at": now,
    }


def _demo_document(rng: random.Random, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    school = rng.choice(list(SCHOOLS))
    level = rng.choice(("básico", "intermedio", "avanzado"))
    keywords = rng.sample(sorted(set(SCHOOLS[school].split())), 5)
    return {
        "lesson_id": row["lesson_id"],
        "fingerprint": row["fingerprint"],
        "school": school,
        "level": level,
        "confidence": rng.randint(20, 100),
        "analyzer": "demo",
        "document": {"classification": {"school": school, "level": level, "keywords": keywords}},
        "stored_at": now,
    }
