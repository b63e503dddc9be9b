"""workers: heartbeats of every claimant of pending work

Revision ID: 0004
Revises: 0006
Create Date: 2026-11-30

Workers register here and beat every ``heartbeat_interval`` seconds; a worker whose heartbeat is
older than ``worker_stale_after`` is pruned and its claims are given back at once, instead of
after the claim lease (a kill -9 left work claimed for five minutes before this).

Numbered 0004 as planned, chained after 0006 (history trigger), which landed first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import rescore.db.schema

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rescore_workers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("process", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", rescore.db.schema.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", rescore.db.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("rescore_workers", schema=None) as batch_op:
        batch_op.create_index("ix_rescore_workers_process", ["process"], unique=False)
        batch_op.create_index("ix_rescore_workers_heartbeat", ["heartbeat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rescore_workers", schema=None) as batch_op:
        batch_op.drop_index("ix_rescore_workers_heartbeat")
        batch_op.drop_index("ix_rescore_workers_process")
    op.drop_table("rescore_workers")
