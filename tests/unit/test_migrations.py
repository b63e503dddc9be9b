"""Migrating an empty database gives exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rescore.db.engine import Database
from rescore.db.migrate import current_revision, head_revision, upgrade
from rescore.db.schema import metadata


def test_migrating_from_empty_matches_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    assert current_revision(db) is None
    upgrade(db)
    assert current_revision(db) == head_revision()
    with db.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    upgrade(db)  # idempotent
    db.dispose()
