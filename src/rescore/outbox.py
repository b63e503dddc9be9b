"""The outbox poller: a source database's ``events_queue`` table (seed 000) as an event source.

The business system inserts one row per event, in exactly seed 000's schema::

    CREATE TABLE events_queue (
        id INT AUTO_INCREMENT PRIMARY KEY,
        cedula VARCHAR(20) NOT NULL,
        event_type VARCHAR(50) NOT NULL,
        event_data JSON,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        processed BOOLEAN DEFAULT FALSE,
        processed_at TIMESTAMP NULL,
        INDEX idx_cedula (cedula),
        INDEX idx_processed (processed, created_at)
    );

Each poll, in one source transaction, locks a batch of unprocessed rows with
``FOR UPDATE SKIP LOCKED`` (so pollers running at once take disjoint batches), ingests them as
events whose ``event_id`` is ``events_queue:<id>`` (a re-read after a crash is a duplicate,
acknowledged and not applied twice), then marks exactly those rows ``processed = TRUE,
processed_at = NOW()`` as the seed's batch job does, and commits. A crash between the ingest
and that commit leaves the rows unprocessed; the next poll re-reads them harmlessly. So no row
is ingested twice and none is skipped.

A row whose ``event_type`` no loaded pack knows cannot be ingested; it is marked processed
too (else it would block the queue forever) and logged with its id.

Example::

    poller = OutboxPoller(engine, Database("mysql+pymysql://root@127.0.0.1:3306/platam"))
    while True:
        if not poller.poll_once().read:
            time.sleep(1.0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.dialect import for_claim
from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.exceptions import UnknownEventType

__all__ = ["EVENTS_QUEUE_DDL", "OutboxPoller", "PollResult", "events_queue"]

log = logging.getLogger(__name__)

EVENTS_QUEUE_DDL = """CREATE TABLE IF NOT EXISTS events_queue (
    id INT AUTO_INCREMENT PRIMARY KEY,
    cedula VARCHAR(20) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    event_data JSON,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    processed BOOLEAN DEFAULT FALSE,
    processed_at TIMESTAMP NULL,
    INDEX idx_cedula (cedula),
    INDEX idx_processed (processed, created_at)
)"""

events_queue = sa.Table(
    "events_queue",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cedula", sa.String(20), nullable=False),
    sa.Column("event_type", sa.String(50), nullable=False),
    sa.Column("event_data", sa.Text),  # JSON; MariaDB hands it over as text
    sa.Column("created_at", sa.DateTime),
    sa.Column("processed", sa.Boolean),
    sa.Column("processed_at", sa.DateTime),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class PollResult:
    """One poll: rows read, events newly accepted, duplicates (re-reads), unknown types."""

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    unknown: int = 0


class OutboxPoller:
    """Moves ``events_queue`` rows of ``source`` into ``engine``; safe to run several at once."""

    def __init__(self, engine: Engine, source: Database, *, batch_size: int = 500) -> None:
        self.engine = engine
        self.source = source
        self.batch_size = batch_size

    def poll_once(self) -> PollResult:
        """Ingest one batch of unprocessed rows and mark them processed."""
        with self.source.begin() as conn:
            _utc_session(conn)
            query = (
                sa.select(events_queue)
                .where(events_queue.c.processed == sa.false())
                .order_by(events_queue.c.id)
                .limit(self.batch_size)
            )
            rows = conn.execute(for_claim(conn, query)).all()
            if not rows:
                return PollResult()
            known, unknown = self._split(rows)
            result = self.engine.ingest(known, tenant=self.engine.settings.tenant)
            conn.execute(
                events_queue.update()
                .where(events_queue.c.id.in_([r.id for r in rows]))
                .values(processed=True, processed_at=sa.func.now())
            )
        return PollResult(
            read=len(rows),
            accepted=result.accepted,
            duplicates=result.duplicates,
            unknown=len(unknown),
        )

    def _split(self, rows: Any) -> tuple[list[dict[str, Any]], list[int]]:
        known: list[dict[str, Any]] = []
        unknown: list[int] = []
        for row in rows:
            try:
                self.engine.registry.router.resolve(row.event_type)
            except UnknownEventType as exc:
                log.warning("events_queue row %s skipped: %s", row.id, exc)
                unknown.append(row.id)
                continue
            known.append(_event(row))
        return known, unknown


def _event(row: Any) -> dict[str, Any]:
    data = row.event_data
    if isinstance(data, str | bytes):
        data = orjson.loads(data) if data else {}
    created = row.created_at or datetime.now(UTC)
    return {
        "event_id": f"events_queue:{row.id}",
        "type": row.event_type,
        "entity": row.cedula,
        "occurred_at": created.replace(tzinfo=UTC) if created.tzinfo is None else created,
        "payload": data if isinstance(data, dict) else {"event_data": data},
    }


def _utc_session(conn: Connection) -> None:
    """TIMESTAMP columns come back in the session's time zone: make that UTC."""
    if conn.dialect.name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET time_zone = '+00:00'")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
