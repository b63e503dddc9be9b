"""population digest: what a population write scored, so an unchanged re-run can skip it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

One nullable column on ``rescore_scores``. Adding a nullable column without a default is a
catalogue change on PostgreSQL, SQLite and MariaDB (10.3+ adds it in place), so it is safe and
quick on a table that already holds millions of scores; existing rows read NULL ("not
written by a population run"), which only means their next population run compares them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rescore_scores") as batch:
        batch.add_column(sa.Column("population_digest", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rescore_scores") as batch:
        batch.drop_column("population_digest")
