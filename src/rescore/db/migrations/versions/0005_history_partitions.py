"""history partitions: rescore_history partitioned by month on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

On PostgreSQL, ``rescore_history`` becomes ``PARTITION BY RANGE (changed_at)`` with one
partition per month that holds rows, the current month and the next three, and a default
partition (see ``rescore.db.partitions`` and ADR 0012). Existing rows are copied in id ranges
of 50,000 inside the migration's transaction, so a failure changes nothing; ids and the id
sequence are kept. The table is locked against writes (not reads) while it is copied: run it in
a quiet hour on a big table (7-16 s per million rows measured here). SQLite and
MariaDB/MySQL keep a plain table: this revision does nothing there.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from alembic import op

from rescore.db import partitions

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    done = partitions.convert(conn, now=datetime.now(UTC))
    if done.rows:
        log.info(
            "rescore_history partitioned: %d rows into %d months in %.1f s",
            done.rows,
            done.months,
            done.seconds,
        )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        partitions.revert(conn)
