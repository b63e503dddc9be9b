"""releases: which scorer version serves, and the shadow version's results

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

New tables only. ``rescore_releases`` holds, per (pack, scorer), the live version and the one
running in shadow; ``rescore_shadow_scores`` the shadow version's latest result per entity.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import rescore.db.schema
from rescore.db.schema import Key, Name, Value

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = rescore.db.schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "rescore_releases",
        sa.Column("pack", Name, nullable=False),
        sa.Column("scorer", Name, nullable=False),
        sa.Column("live", sa.String(length=32), nullable=False),
        sa.Column("shadow", sa.String(length=32), nullable=True),
        sa.Column("changed_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("pack", "scorer"),
    )
    op.create_table(
        "rescore_shadow_scores",
        sa.Column("tenant", Name, nullable=False),
        sa.Column("pack", Name, nullable=False),
        sa.Column("entity", Key, nullable=False),
        sa.Column("scorer", Name, nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("value", Value, nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("computed_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "pack", "entity", "scorer", "version"),
    )


def downgrade() -> None:
    op.drop_table("rescore_shadow_scores")
    op.drop_table("rescore_releases")
