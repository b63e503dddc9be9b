"""The database layer: schema, engine factory, dialect-specific statements, migrations."""
