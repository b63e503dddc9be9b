"""Alembic environment: runs on the connection rescore hands it (see rescore.db.migrate).

History partitions (PostgreSQL) are tables of the database but not of the models:
``include_name`` keeps them out of comparisons and autogenerate."""

from __future__ import annotations

from alembic import context

from rescore.db.partitions import include_name
from rescore.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
