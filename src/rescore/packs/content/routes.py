"""Seed 004's HTTP API, under ``/v1/packs/content``, behind rescore's API keys.

- ``GET /lessons?state=&course_id=&limit=`` (read): each lesson's state, attempts, last error.
- ``GET /lessons/{lesson_id}`` (read): one lesson's state and its stored document.
- ``GET /courses`` (read): each course's state (from its lessons') and counts by state.
- ``GET /analytics`` (read): counts by state and by school (the dashboard's analytics piece).
- ``GET /search?q=&school=&k=`` (read): the lessons nearest to a query in the local
  knowledge base, one vector store per school.
- ``POST /webhook`` (write): the seed's webhook trigger; detection now (its counts in the
  answer), processing in the background after the answer.
- ``POST /hotmart`` (no key; Hotmart's ``X-Hotmart-Hottok`` checked against
  ``RESCORE_CONTENT_HOTTOK``): the same, for Hotmart's own webhook.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Body, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy import func, select

from rescore.exceptions import NotFound, RescoreError
from rescore.packs.content import state as lesson_state
from rescore.packs.content.schema import documents, lessons
from rescore.packs.sdk import (
    AUTH,
    POSTED,
    Reader,
    State,
    Writer,
    example_body,
    ok,
    source_read,
)

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.packs.content.knowledge import LocalVectorStore
    from rescore.packs.content.pack import ContentPack
    from rescore.packs.content.pipeline import Pipeline

__all__ = ["router"]

LESSON = {
    "lesson_id": "demo000_m1_l1",
    "course_id": "demo000",
    "course_title": "Curso demo 0",
    "module_title": "Módulo 1",
    "title": "Lección 1",
    "state": "done",
    "stage": "done",
    "attempts": 0,
    "dead": False,
    "last_error": None,
    "updated_at": "2026-11-30T02:03:00",
}
SEARCH = {
    "query": "funciones en Python",
    "results": [
        {
            "lesson_id": "py101_m2_l1",
            "school": "programación",
            "similarity": 0.61,
            "course": "Python desde cero",
            "title": "Funciones con parámetros",
            "level": "básico",
        }
    ],
}
StateName = Literal[
    "pending", "downloading", "analysing", "stored", "synced", "done", "failed", "dead"
]
LessonId = Annotated[
    StrictStr, Path(max_length=200, openapi_examples=example_body("demo000_m1_l1"))
]


class WebhookIn(BaseModel):
    """Hotmart's webhook body (``event`` and ``data``); only its arrival matters: detection
    reads the source itself."""

    model_config = ConfigDict(extra="allow", strict=True)

    event: Annotated[StrictStr, Field(max_length=80)] = "CLUB_CONTENT_UPDATED"


#: What a webhook answers: detection's counts; processing goes on after the answer.
DETECTED = {"event": "CLUB_CONTENT_UPDATED", "new": 0, "changed": 0, "unchanged": 5}
DETECTED["processing"] = True


def router(pack: ContentPack) -> APIRouter:
    """The pack's routes."""
    api = APIRouter(tags=["content"])

    @api.get("/lessons", responses=ok({"lessons": [LESSON]}, *AUTH))
    def list_lessons(
        who: Reader,
        app: State,
        state: Annotated[StateName | None, Query(openapi_examples=example_body("done"))] = None,
        course_id: Annotated[StrictStr | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Lessons and where each stands in the pipeline (``dead``: no retry left)."""
        query = select(*_LESSON_COLUMNS).order_by(lessons.c.course_id, lessons.c.lesson_id)
        if state == "dead":
            query = query.where(lessons.c.dead.is_(True))
        elif state is not None:
            query = query.where(lessons.c.state == state, lessons.c.dead.is_(False))
        if course_id is not None:
            query = query.where(lessons.c.course_id == course_id)
        with source_read(app.engine) as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
        return {"lessons": [_lesson(r) for r in rows]}

    @api.get("/lessons/{lesson_id}", responses=ok({**LESSON, "document": {}}, *AUTH, 404))
    def one_lesson(lesson_id: LessonId, who: Reader, app: State) -> dict[str, Any]:
        """One lesson's state and its stored document (the seed's Firestore document)."""
        with source_read(app.engine) as conn:
            row = (
                conn.execute(select(*_LESSON_COLUMNS).where(lessons.c.lesson_id == lesson_id))
                .mappings()
                .one_or_none()
            )
            if row is None:
                raise NotFound(f"no lesson {lesson_id!r}", field="lesson_id")
            doc = conn.execute(
                select(documents.c.document).where(documents.c.lesson_id == lesson_id)
            ).scalar_one_or_none()
        return {**_lesson(row), "document": doc}

    @api.get("/courses", responses=ok({"courses": [_COURSE]}, *AUTH))
    def courses(who: Reader, app: State) -> dict[str, Any]:
        """Each course's state (done when every lesson is, failed when any lesson failed)."""
        return {"courses": _courses(app.engine)}

    @api.get("/analytics", responses=ok(_ANALYTICS, *AUTH))
    def analytics(who: Reader, app: State) -> dict[str, Any]:
        """Lessons by state, by school and level, and courses by state (the dashboard)."""
        with source_read(app.engine) as conn:
            states = lesson_state.state_counts(conn)
            schools = conn.execute(
                select(documents.c.school, documents.c.level, func.count()).group_by(
                    documents.c.school, documents.c.level
                )
            ).all()
        by_school: dict[str, int] = {}
        for school, _level, count in schools:
            by_school[school] = by_school.get(school, 0) + int(count)
        courses = _courses(app.engine)
        order = (*_COURSE_STATES, "dead")
        return {
            "states": {name: states[name] for name in order if name in states},
            "schools": by_school,
            "courses": {s: sum(c["state"] == s for c in courses) for s in _COURSE_STATES},
        }

    @api.get("/search", responses=ok(SEARCH, *AUTH))
    def search(
        who: Reader,
        app: State,
        q: Annotated[
            StrictStr,
            Query(
                min_length=1, max_length=500, openapi_examples=example_body("funciones en Python")
            ),
        ],
        school: Annotated[StrictStr | None, Query(max_length=80)] = None,
        k: Annotated[int, Query(ge=1, le=50)] = 5,
    ) -> dict[str, Any]:
        """The lessons nearest to ``q`` in the local knowledge base (one school or all)."""
        return {"query": q, "results": search_lessons(app.engine, q, school=school, k=k)}

    @api.post(
        "/webhook",
        responses=ok(
            DETECTED,
            *AUTH,
            *POSTED,
            503,
        ),
    )
    def webhook(
        who: Writer,
        app: State,
        tasks: BackgroundTasks,
        body: Annotated[
            WebhookIn,
            Body(
                openapi_examples=example_body(
                    {"event": "CLUB_CONTENT_UPDATED", "data": {"product_id": 4444}}
                )
            ),
        ],
    ) -> dict[str, Any]:
        """Detect new and changed lessons now; process them after answering."""
        return _detect_then_process(app.engine, tasks, body.event)

    @api.post("/hotmart", responses=ok(DETECTED, 403, *POSTED, 503))
    def hotmart(
        app: State,
        tasks: BackgroundTasks,
        body: Annotated[
            WebhookIn,
            Body(openapi_examples=example_body({"event": "CLUB_CONTENT_UPDATED"})),
        ],
        hottok: Annotated[
            str | None,
            Header(
                alias="X-Hotmart-Hottok",
                max_length=256,
                openapi_examples=example_body("hottok-de-ejemplo"),
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Hotmart's own webhook, which cannot send a rescore key: it is let in by the hottok
        Hotmart signs every call with (``X-Hotmart-Hottok``, compared in constant time with
        ``RESCORE_CONTENT_HOTTOK``), then does what ``POST /webhook`` does."""
        from rescore.packs.content.config import load_settings

        expected = load_settings().hottok
        if not expected:
            raise HottokRefused("set RESCORE_CONTENT_HOTTOK to accept Hotmart's webhook here")
        if hottok is None or not hmac.compare_digest(hottok.encode(), expected.encode()):
            raise HottokRefused("the hottok does not match", field="X-Hotmart-Hottok")
        return _detect_then_process(app.engine, tasks, body.event)

    return api


class HottokRefused(RescoreError):
    """Hotmart's webhook was refused: its hottok is missing, wrong, or not configured."""

    http_status = 403


def _detect_then_process(engine: Engine, tasks: BackgroundTasks, event: str) -> dict[str, Any]:
    """Detection now (its counts answer the caller); the processing after the answer."""
    from rescore.packs.content.config import load_settings
    from rescore.packs.content.pipeline import Pipeline

    pipeline = Pipeline.from_settings(load_settings())
    try:
        detected = pipeline.detect(engine)
    except BaseException:
        pipeline.close()
        raise
    tasks.add_task(_run_and_close, pipeline, engine)
    return {"event": event, **detected.counts(), "processing": True}


def _run_and_close(pipeline: Pipeline, engine: Engine) -> None:
    with pipeline:
        pipeline.run(engine)


_LESSON_COLUMNS = (
    lessons.c.lesson_id,
    lessons.c.course_id,
    lessons.c.course_title,
    lessons.c.module_title,
    lessons.c.title,
    lessons.c.state,
    lessons.c.stage,
    lessons.c.attempts,
    lessons.c.dead,
    lessons.c.last_error,
    lessons.c.updated_at,
)
_COURSE_STATES = ("pending", "downloading", "analysing", "stored", "synced", "done", "failed")
_COURSE = {
    "course_id": "demo000",
    "title": "Curso demo 0",
    "state": "failed",
    "lessons": {"done": 5, "failed": 2, "pending": 1},
}
_ANALYTICS = {
    "states": {"done": 12, "pending": 8, "failed": 4, "dead": 2},
    "schools": {"programación": 7, "marketing": 5},
    "courses": dict.fromkeys(_COURSE_STATES, 1),
}


def _lesson(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["dead"] = bool(out["dead"])
    out["updated_at"] = out["updated_at"].isoformat() if out["updated_at"] else None
    return out


def _courses(engine: Engine) -> list[dict[str, Any]]:
    """Each course with its lessons' counts by state and the course's state."""
    query = (
        select(lessons.c.course_id, lessons.c.course_title).distinct().order_by(lessons.c.course_id)
    )
    with source_read(engine) as conn:
        found = conn.execute(query).all()
        return [
            {
                "course_id": cid,
                "title": title,
                "state": lesson_state.course_state(counts),
                "lessons": counts,
            }
            for cid, title in found
            for counts in [lesson_state.state_counts(conn, cid)]
        ]


def search_lessons(
    engine: Engine, q: str, *, school: str | None, k: int, index: LocalVectorStore | None = None
) -> list[dict[str, Any]]:
    """Search the local knowledge base (``index``, default: the configured one); each hit
    with its lesson's titles and level."""
    from rescore.packs.content.config import load_settings

    with source_read(engine) as conn:
        schools = (
            [school]
            if school
            else list(conn.execute(select(documents.c.school).distinct()).scalars())
        )
    if not schools:
        return []
    index = index or load_settings().make_local_index()
    hits = index.search(q, schools=schools, k=k)
    return _described(engine, hits)


def _described(engine: Engine, hits: list[Any]) -> list[dict[str, Any]]:
    ids = [match.key for _school, match in hits]
    with source_read(engine) as conn:
        rows = {
            r.lesson_id: r
            for r in conn.execute(
                select(
                    lessons.c.lesson_id, lessons.c.course_title, lessons.c.title, documents.c.level
                )
                .join(documents, documents.c.lesson_id == lessons.c.lesson_id)
                .where(lessons.c.lesson_id.in_(ids))
            )
        }
    return [
        {
            "lesson_id": m.key,
            "school": s,
            "similarity": round(m.similarity, 4),
            "course": rows[m.key].course_title,
            "title": rows[m.key].title,
            "level": rows[m.key].level,
        }
        for s, m in hits
        if m.key in rows
    ]
