"""A scratch embedded deployment for benchmarks: a SQLite file with the credit demo clients
scored, and an admin API key."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rescore.engine import Engine
from rescore.settings import Settings

__all__ = ["Deployment", "deployment"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Deployment:
    folder: Path
    database_url: str
    key: str
    cedulas: tuple[str, ...]

    def env(self, **extra: str) -> dict[str, str]:
        return {"RESCORE_DATABASE_URL": self.database_url, "RESCORE_PACKS": "credit", **extra}


@contextmanager
def deployment(seed: int = 7) -> Iterator[Deployment]:
    """1,870 credit demo clients, all scored, in a temporary SQLite file."""
    with tempfile.TemporaryDirectory(prefix="rescore-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = Engine.from_settings(Settings(database_url=url, packs=["credit"]))
        try:
            engine.migrate()
            pack = engine.registry["credit"]
            with engine.source.begin() as conn:
                pack.generate_demo_data(conn, seed=seed)
            cedulas = tuple(engine.entity_keys("credit"))
            for start in range(0, len(cedulas), 500):
                engine.recompute("credit", cedulas[start : start + 500])
            _, key = engine.keys.create("default", "admin", datetime.now(UTC))
        finally:
            engine.close()
        yield Deployment(folder=Path(folder), database_url=url, key=key, cedulas=cedulas)
