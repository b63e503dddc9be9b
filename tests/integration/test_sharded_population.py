"""Population rescoring sharded over Celery workers (RabbitMQ, PostgreSQL): three shards on two
worker processes rescore every contact once, through the bulk path, and the final count says
the store holds them all; a second run over the same data changes nothing."""

from __future__ import annotations

import re
import signal
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
import servers
import sqlalchemy as sa
from test_celery import kill, start

from helpers import need_service, run
from rescore.db.schema import history, scores
from rescore.packs.leads.generator import write_parquet

pytestmark = pytest.mark.integration

make_database = servers.make_database

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
CONTACTS = 2_500
AS_OF = datetime(2026, 1, 23, 12)


def purge_population(broker_url: str) -> None:
    from celery import Celery

    app = Celery(broker=broker_url, set_as_current=False)
    with app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            channel.queue_purge("population")
        except Exception:
            channel = conn.channel()  # not declared yet: nothing to purge
        channel.close()


def counts(url: str) -> tuple[int, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(scores)).scalar_one()
        changes = conn.execute(sa.select(sa.func.count()).select_from(history)).scalar_one()
    engine.dispose()
    return int(rows), int(changes)


def test_shards_rescore_the_population_once(
    make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    need_service("RabbitMQ", 5672)
    url = make_database("postgresql")
    env = {
        "RESCORE_DATABASE_URL": url,
        "RESCORE_BROKER_URL": BROKER,
        "RESCORE_PACKS": "leads",
        "RESCORE_LEADS_AS_OF": AS_OF.isoformat(),
    }
    run("init", cwd=tmp_path, env=env)
    population = tmp_path / "population"
    write_parquet(population, contacts_total=CONTACTS, seed=3, as_of=AS_OF, chunk_size=1_000)
    purge_population(BROKER)
    args = ["worker", "--celery", "--queues", "population", "--concurrency", "1"]
    workers = [start(args, env, tmp_path / f"w{n}.log") for n in range(2)]
    try:
        rescore = ["rescore", "leads", "--all", "--shards", "3", "--from-parquet", str(population)]
        first = run(*rescore, "--chunk-size", "1000", cwd=tmp_path, env=env)
        assert len(re.findall(r"^shard \d: ", first.stdout, re.MULTILINE)) == 3
        assert f"3 shards rescored {CONTACTS:,} of {CONTACTS:,}" in first.stdout
        assert f"{CONTACTS:,} changed; the store holds scores for {CONTACTS:,}" in first.stdout
        assert counts(url) == (2 * CONTACTS, 2 * CONTACTS)  # two scorers, each written once
        again = run(*rescore, "--chunk-size", "1000", cwd=tmp_path, env=env)
        assert f"; 0 changed; the store holds scores for {CONTACTS:,}" in again.stdout
        assert counts(url) == (2 * CONTACTS, 2 * CONTACTS)
    finally:
        for worker in workers:
            kill(worker, signal.SIGTERM)


def test_shards_need_a_broker(tmp_path: Path) -> None:
    done = run("rescore", "leads", "--all", "--shards", "2", cwd=tmp_path, env={}, check=False)
    assert done.returncode != 0
    assert "--shards needs a broker" in done.stderr
    assert isinstance(done, subprocess.CompletedProcess)
