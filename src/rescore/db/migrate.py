"""Schema management: Alembic migrations for the core tables, create-if-missing for packs'
source tables (they belong to the business system; rescore only creates them for demos and
embedded use)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from rescore.db.engine import Database
from rescore.plugins import PackRegistry

__all__ = [
    "create_source_tables",
    "current_revision",
    "downgrade",
    "head_revision",
    "migration_pending",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database"] = db
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (idempotent)."""
    with db.begin() as conn:
        config = _config(db)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(db: Database, revision: str) -> None:
    """Undo migrations down to ``revision`` (for operators rolling a release back)."""
    with db.begin() as conn:
        config = _config(db)
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migration_pending(db: Database) -> bool:
    """True when the database holds tables and is not at the latest migration: migrating it
    changes data that exists (a new, empty database has nothing to lose)."""
    with db.read() as conn:
        if not sa.inspect(conn).get_table_names():
            return False
        return MigrationContext.configure(conn).get_current_revision() != head_revision()


def create_source_tables(db: Database, registry: PackRegistry) -> None:
    """Create the packs' source tables that do not exist yet."""
    with db.begin() as conn:
        for name in registry.names:
            registry[name].source_metadata().create_all(conn)
