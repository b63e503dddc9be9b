"""The pipeline's state table (``content_lessons``): detection, claims, steps, failures.

Every change is one short statement with bound parameters, the same on SQLite, PostgreSQL and
MariaDB. A worker **claims** a lesson with a guarded ``UPDATE`` (only when no live lease is
held: the row count says who won), extends nothing (a lease is long enough for one lesson's
steps, ``lease_seconds``), and every step it finishes is written before the next starts. A
worker killed with ``kill -9`` leaves its lease to expire; the next run claims the lesson again
and resumes **after the last finished stage** (a finished download or analysis is not redone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from rescore.packs.content.schema import lessons
from rescore.packs.content.sources import LessonRef

__all__ = [
    "Detected",
    "claim",
    "claimable",
    "detect",
    "failed",
    "lesson_row",
    "moved",
    "release",
    "state_counts",
]


@dataclass(slots=True)
class Detected:
    """What one detection found, by lesson id."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "changed": len(self.changed), "unchanged": self.unchanged}


def detect(conn: Connection, found: Iterable[LessonRef], now: datetime) -> Detected:
    """Record the source's lessons: new ones pending, changed ones (another fingerprint) back
    to pending with their attempts cleared, unchanged ones untouched (failed ones keep
    waiting for their retry)."""
    refs = {ref.lesson_id: ref for ref in found}
    known = (
        dict(
            conn.execute(
                select(lessons.c.lesson_id, lessons.c.fingerprint).where(
                    lessons.c.lesson_id.in_(list(refs))
                )
            ).all()
        )
        if refs
        else {}
    )
    result = Detected()
    for lesson_id, ref in refs.items():
        if lesson_id not in known:
            conn.execute(insert(lessons).values(**_fresh(ref, now), detected_at=now))
            result.new.append(lesson_id)
        elif known[lesson_id] != ref.fingerprint:
            conn.execute(
                update(lessons).where(lessons.c.lesson_id == lesson_id).values(**_fresh(ref, now))
            )
            result.changed.append(lesson_id)
        else:
            result.unchanged += 1
    return result


def _fresh(ref: LessonRef, now: datetime) -> dict[str, Any]:
    return {
        "lesson_id": ref.lesson_id,
        "source": ref.source,
        "course_id": ref.course_id,
        "course_title": ref.course_title,
        "module_id": ref.module_id,
        "module_title": ref.module_title,
        "title": ref.title,
        "position": ref.position,
        "video_url": ref.video_url,
        "subtitles_url": ref.subtitles_url,
        "fingerprint": ref.fingerprint,
        "state": "pending",
        "stage": "none",
        "attempts": 0,
        "last_error": None,
        "dead": False,
        "retry_at": None,
        "updated_at": now,
    }


def _available(now: datetime) -> Any:
    """Lessons a worker may take now: unfinished, not dead letters, due, not leased."""
    return and_(
        lessons.c.stage != "done",
        lessons.c.dead.is_(False),
        or_(lessons.c.retry_at.is_(None), lessons.c.retry_at <= now),
        or_(lessons.c.lease_until.is_(None), lessons.c.lease_until < now),
    )


def claimable(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Up to ``limit`` lesson ids a worker may claim now, oldest detected first."""
    query = (
        select(lessons.c.lesson_id)
        .where(_available(now))
        .order_by(lessons.c.detected_at, lessons.c.course_id, lessons.c.position)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def claim(conn: Connection, lesson_id: str, worker: str, now: datetime, lease: float) -> bool:
    """Take ``lesson_id`` for ``worker`` if nobody holds it; True when this call won."""
    won = conn.execute(
        update(lessons)
        .where(lessons.c.lesson_id == lesson_id, _available(now))
        .values(lease_owner=worker, lease_until=now + timedelta(seconds=lease))
    )
    return won.rowcount == 1


def lesson_row(conn: Connection, lesson_id: str) -> dict[str, Any]:
    row = conn.execute(select(lessons).where(lessons.c.lesson_id == lesson_id)).mappings().one()
    return dict(row)


def moved(conn: Connection, lesson_id: str, worker: str, now: datetime, **values: Any) -> bool:
    """Write a step's outcome (state, stage, ...) if ``worker`` still holds the lesson."""
    done = conn.execute(
        update(lessons)
        .where(lessons.c.lesson_id == lesson_id, lessons.c.lease_owner == worker)
        .values(updated_at=now, **values)
    )
    return done.rowcount == 1


def failed(
    conn: Connection,
    lesson_id: str,
    worker: str,
    now: datetime,
    *,
    error: str,
    max_attempts: int,
    retry_seconds: float,
) -> tuple[int, bool] | None:
    """Record a failure: attempts + 1, the error, a retry after exponential backoff, or a dead
    letter once ``max_attempts`` is reached. Returns (attempts, dead), or None when ``worker``
    no longer holds the lesson (its lease ran out and another worker has it: not ours to
    record)."""
    attempts = (
        int(
            conn.execute(
                select(lessons.c.attempts).where(lessons.c.lesson_id == lesson_id)
            ).scalar_one()
        )
        + 1
    )
    dead = attempts >= max_attempts
    held = moved(
        conn,
        lesson_id,
        worker,
        now,
        state="failed",
        attempts=attempts,
        last_error=error[:1000],
        dead=dead,
        retry_at=None if dead else now + timedelta(seconds=retry_seconds * 2 ** (attempts - 1)),
        lease_owner=None,
        lease_until=None,
    )
    return (attempts, dead) if held else None


def release(conn: Connection, lesson_id: str, worker: str, now: datetime) -> None:
    moved(conn, lesson_id, worker, now, lease_owner=None, lease_until=None)


def state_counts(conn: Connection, course_id: str | None = None) -> dict[str, int]:
    """How many lessons are in each state (dead letters counted as ``dead``)."""
    state = lessons.c.state
    query = select(state, lessons.c.dead, func.count()).group_by(state, lessons.c.dead)
    if course_id is not None:
        query = query.where(lessons.c.course_id == course_id)
    counts: dict[str, int] = {}
    for name, dead, count in conn.execute(query).all():
        key = "dead" if dead else name
        counts[key] = counts.get(key, 0) + int(count)
    return counts


def reset_dead(conn: Connection, lesson_ids: Sequence[str], now: datetime) -> int:
    """Give dead letters another chance (``rescore content retry``): attempts cleared."""
    done = conn.execute(
        update(lessons)
        .where(lessons.c.lesson_id.in_(list(lesson_ids)), lessons.c.dead.is_(True))
        .values(dead=False, attempts=0, retry_at=None, updated_at=now)
    )
    return int(done.rowcount)


def course_state(counts: Mapping[str, int]) -> str:
    """A course's state from its lessons': done when all are, failed when any is a dead
    letter or waits for a retry, else the earliest state one of them is in."""
    if not counts:
        return "pending"
    if set(counts) == {"done"}:
        return "done"
    if "dead" in counts or "failed" in counts:
        return "failed"
    order = ("pending", "downloading", "analysing", "stored", "synced", "done")
    return next(s for s in order if counts.get(s))
