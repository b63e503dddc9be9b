"""The content pack's source schema: seed 004's course catalogue and its pipeline state.

``content_lessons`` is both what the source (Hotmart or a local folder) says a lesson is and the
pipeline's state for it, one row per lesson: ``state`` (pending, downloading, analysing, stored,
synced, done, failed), ``stage`` (the last step that finished, so a retry or a resume after a
crash starts after it), ``attempts``, ``last_error``, ``dead`` (retries exhausted: a dead
letter), and a lease (``lease_owner``, ``lease_until``) that a worker takes with one guarded
``UPDATE``, the same on SQLite, PostgreSQL and MariaDB. ``fingerprint`` is the source's content
hash: a lesson whose fingerprint did not change is never processed again.

``content_documents`` is the seed's Firestore document per lesson (the analysis, the
classification, where the video is, which vector store holds its knowledge document).
Times are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["STAGES", "STATES", "documents", "lessons", "metadata"]

#: Every state a lesson can be in, in pipeline order (``failed`` last).
STATES = ("pending", "downloading", "analysing", "stored", "synced", "done", "failed")
#: The steps' finishing marks, in order: a lesson's ``stage`` is the last one reached.
STAGES = ("none", "downloaded", "stored", "synced", "done")

metadata = MetaData()

lessons = Table(
    "content_lessons",
    metadata,
    Column("lesson_id", String(200), primary_key=True, comment="course_module_lesson"),
    Column("source", String(40), nullable=False, comment="folder or hotmart"),
    Column("course_id", String(64), nullable=False),
    Column("course_title", String(300), nullable=False),
    Column("module_id", String(64), nullable=False),
    Column("module_title", String(300), nullable=False),
    Column("title", String(300), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Column("video_url", Text, nullable=False),
    Column("subtitles_url", Text, nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False, default="pending"),
    Column("stage", String(16), nullable=False, default="none"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("dead", Boolean, nullable=False, default=False),
    Column("retry_at", DateTime, nullable=True),
    Column("lease_owner", String(80), nullable=True),
    Column("lease_until", DateTime, nullable=True),
    Column("video_key", String(400), nullable=True, comment="where the download is stored"),
    Column("downloaded_at", DateTime, nullable=True),
    Column("detected_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_content_lessons_course", "course_id", "position"),
    Index("ix_content_lessons_state", "state", "dead"),
)

documents = Table(
    "content_documents",
    metadata,
    Column("lesson_id", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("school", String(80), nullable=False),
    Column("level", String(40), nullable=False),
    Column("confidence", Integer, nullable=False, comment="0-100, the classification's"),
    Column("analyzer", String(80), nullable=False),
    Column("document", JSON, nullable=False, comment="the seed's Firestore document"),
    Column("vector_store", String(200), nullable=True),
    Column("vector_file", String(200), nullable=True),
    Column("stored_at", DateTime, nullable=False),
    Column("synced_at", DateTime, nullable=True),
    Index("ix_content_documents_school", "school"),
)
