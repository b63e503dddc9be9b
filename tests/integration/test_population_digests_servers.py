"""Population digests on the servers: the digest lookup (a temporary table loaded with COPY on
PostgreSQL, multi-row INSERT on MariaDB, then one primary-key lookup per entity) lets an
unchanged re-run skip every contact, and a write by any other path brings its entity back."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import servers

from rescore import operations
from rescore import population as runs
from rescore.engine import Engine
from rescore.packs.leads.generator import write_parquet
from rescore.population import ParquetSource, rescore_population
from rescore.settings import Settings
from rescore.store import Computed

pytestmark = pytest.mark.integration

make_database = servers.make_database

CONTACTS = 600
AS_OF = datetime(2026, 1, 23, 12)


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_a_rerun_skips_by_digest_until_another_write(
    kind: str, make_database: servers.MakeDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "LOOKUP_PART", 100)  # each chunk's lookups in parts,
    monkeypatch.setattr(operations, "LOOKUP_THREADS", 2)  # on two connections side by side,
    for dialect in ("postgresql", "mysql"):  # and store batches, WRITERS at once
        monkeypatch.setitem(runs.STORE_BATCH, dialect, 40)
    url = make_database(kind)
    population = tmp_path / "population"
    write_parquet(population, contacts_total=CONTACTS, seed=3, as_of=AS_OF, chunk_size=250)
    engine = Engine.from_settings(Settings(database_url=url, packs=["leads"]))
    try:
        engine.migrate(source_tables=False)
        pack = engine.registry["leads"]
        source = ParquetSource(population)
        first = rescore_population(engine, "leads", pack, source, chunk_size=250)
        assert (first.unchanged, first.changed) == (0, CONTACTS)
        again = rescore_population(engine, "leads", pack, source, chunk_size=250)
        assert (again.unchanged, again.changed) == (CONTACTS, 0)
        stored = engine.current("leads", "7")
        engine.write_scores(  # the per-entity path, same results: it clears the digests
            [
                Computed(
                    pack="leads",
                    entity="7",
                    results={n: s.as_result() for n, s in stored.items()},
                    versions={n: s.version for n, s in stored.items()},
                    watermark=0,
                )
            ]
        )
        third = rescore_population(engine, "leads", pack, source, chunk_size=250)
        assert (third.unchanged, third.changed) == (CONTACTS - 1, 0)
    finally:
        engine.close()
