"""distributed runtime: exact types on MariaDB/MySQL, index on claimed_by

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

On MariaDB/MySQL, 0001 made score values ``FLOAT`` (single precision there) and its datetimes
came out as they should only because ``UTCDateTime`` now asks for ``DATETIME(6)``; this
revision widens the values to ``DOUBLE`` and makes sure every datetime keeps microseconds.
Other dialects already had both. Every dialect gets an index on ``rescore_pending.claimed_by``
(acks and the claim check look rows up by worker).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VALUES = {
    "rescore_scores": [("value", False)],
    "rescore_history": [("before_value", True), ("after_value", False)],
}
DATETIMES = {
    "rescore_api_keys": [("created_at", False), ("revoked_at", True)],
    "rescore_events": [("occurred_at", False), ("received_at", False)],
    "rescore_pending": [("enqueued_at", False), ("available_at", False), ("claimed_at", True)],
    "rescore_scores": [("changed_at", False), ("computed_at", False)],
    "rescore_history": [("changed_at", False)],
}


def _mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def _retype(tables: dict[str, list[tuple[str, bool]]], new: sa.types.TypeEngine[Any]) -> None:
    for table, columns in tables.items():
        for column, nullable in columns:
            op.alter_column(table, column, type_=new, existing_nullable=nullable)


def upgrade() -> None:
    if _mysql():
        _retype(VALUES, mysql.DOUBLE())
        _retype(DATETIMES, mysql.DATETIME(fsp=6))
    with op.batch_alter_table("rescore_pending", schema=None) as batch_op:
        batch_op.create_index("ix_rescore_pending_claimed_by", ["claimed_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rescore_pending", schema=None) as batch_op:
        batch_op.drop_index("ix_rescore_pending_claimed_by")
    if _mysql():
        _retype(VALUES, mysql.FLOAT())
