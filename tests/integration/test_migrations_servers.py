"""Migrating an empty PostgreSQL or MariaDB database gives exactly the models' schema (the
SQLite case is in tests/unit/test_migrations.py), and the MariaDB-specific types hold. The
history partitions of PostgreSQL are tables of the database but not of the models: the
comparison leaves them out with the same ``include_name`` the migrations use."""

from __future__ import annotations

import pytest
import servers
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rescore.db.engine import Database
from rescore.db.migrate import current_revision, head_revision, upgrade
from rescore.db.partitions import include_name
from rescore.db.schema import metadata

pytestmark = pytest.mark.integration

make_database = servers.make_database
server_url = servers.server_url


def test_migrating_from_empty_matches_the_models(server_url: str) -> None:
    db = Database(server_url)
    assert current_revision(db) is None
    upgrade(db)
    assert current_revision(db) == head_revision()
    with db.read() as conn:
        opts = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, metadata)
    assert diff == []
    upgrade(db)  # idempotent
    db.dispose()


def test_mariadb_keeps_microseconds_and_double_precision(
    make_database: servers.MakeDatabase,
) -> None:
    url = make_database("mariadb")
    db = Database(url)
    upgrade(db)
    with db.read() as conn:
        columns = {
            (r.TABLE_NAME, r.COLUMN_NAME): r.COLUMN_TYPE
            for r in conn.execute(
                sa.text(
                    "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE()"
                )
            )
        }
    assert columns[("rescore_scores", "value")] == "double"
    assert columns[("rescore_history", "after_value")] == "double"
    assert columns[("rescore_events", "received_at")] == "datetime(6)"
    assert columns[("rescore_history", "changed_at")] == "datetime(6)"
    db.dispose()
