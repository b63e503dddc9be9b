"""history rows say what wrote them: an event, a manual rescore, population, reconciliation

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-30

Existing rows were all written by workers or manual rescores; they become ``event`` (the
default), which is what explain showed for them before ("manual rescore" when no event caused
the change, as it still does).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "rescore_history",
        sa.Column("trigger", sa.String(16), nullable=False, server_default="event"),
    )


def downgrade() -> None:
    op.drop_column("rescore_history", "trigger")
