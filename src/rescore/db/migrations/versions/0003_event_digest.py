"""event digest: a reused event_id with a different body is a conflict, not a duplicate

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

``rescore_events.digest`` holds a hash of what an event says (pack, type, entity, payload), so
ingest can tell a true redelivery (same id, same digest: acknowledged as a duplicate) from a
reused id (same id, another digest: refused with 409). Rows stored before this revision have
no digest and are taken as duplicates, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rescore_events", sa.Column("digest", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rescore_events") as batch:
        batch.drop_column("digest")
