"""automations: rules, their hysteresis state, the firings outbox, deliveries, schedule runs

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-30

New tables only (nothing existing changes), so it is safe on a database that holds data.
``rescore_firings`` is the transactional outbox: a firing is inserted in the transaction of
the event or score write that caused it, unique on its idempotency key.
``rescore_schedule_runs`` makes each cron tick run once across schedulers and restarts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import rescore.db.schema
from rescore.db.schema import Key, Name, Seq

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = rescore.db.schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "rescore_rules",
        sa.Column("tenant", Name, nullable=False),
        sa.Column("name", Key, nullable=False),
        sa.Column("pack", Name, nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "name"),
    )
    op.create_table(
        "rescore_rule_state",
        sa.Column("tenant", Name, nullable=False),
        sa.Column("rule", Key, nullable=False),
        sa.Column("entity", Key, nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "rule", "entity"),
    )
    _firings()
    _deliveries()
    op.create_table(
        "rescore_schedule_runs",
        sa.Column("name", Key, nullable=False),
        sa.Column("due_at", UTC(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", "due_at"),
    )


def _firings() -> None:
    op.create_table(
        "rescore_firings",
        sa.Column("id", Seq, autoincrement=True, nullable=False),
        sa.Column("tenant", Name, nullable=False),
        sa.Column("rule", Key, nullable=False),
        sa.Column("pack", Name, nullable=True),
        sa.Column("entity", Key, nullable=False),
        sa.Column("occurrence", sa.String(length=160), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("fired_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_rescore_firings_key"),
    )
    with op.batch_alter_table("rescore_firings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rescore_firings_rule_entity", ["tenant", "rule", "entity", "fired_at"]
        )
        batch_op.create_index("ix_rescore_firings_fired_at", ["tenant", "fired_at"])


def _deliveries() -> None:
    op.create_table(
        "rescore_deliveries",
        sa.Column("id", Seq, autoincrement=True, nullable=False),
        sa.Column("firing_id", Seq, nullable=True),
        sa.Column("tenant", Name, nullable=False),
        sa.Column("rule", Key, nullable=False),
        sa.Column("action", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", UTC(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", UTC(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("digest_id", Seq, nullable=True),
        sa.Column("message", sa.JSON(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("sent_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_rescore_deliveries_key"),
    )
    with op.batch_alter_table("rescore_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_rescore_deliveries_due", ["status", "due_at"])
        batch_op.create_index("ix_rescore_deliveries_firing", ["firing_id"])
        batch_op.create_index("ix_rescore_deliveries_rule", ["tenant", "rule", "status"])


def downgrade() -> None:
    for table in (
        "rescore_schedule_runs",
        "rescore_deliveries",
        "rescore_firings",
        "rescore_rule_state",
        "rescore_rules",
    ):
        op.drop_table(table)
