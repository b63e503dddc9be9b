"""A reused event_id is a conflict on PostgreSQL and MariaDB too, on both insert paths
(PostgreSQL's COPY for big batches, multi-row INSERT below it), and a redelivery stays a
duplicate. The digest the check compares is written by every path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import servers
import sqlalchemy as sa

from conftest import ToyPack
from rescore.db.dialect import COPY_THRESHOLD
from rescore.db.engine import Database
from rescore.db.schema import events
from rescore.engine import Engine
from rescore.exceptions import EventConflict
from rescore.plugins import PackRegistry
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database
server_url = servers.server_url

NOW = datetime.now(UTC).isoformat()


def batch(size: int, amount: int = 1) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"e{i}",
            "type": "b_changed",
            "entity": f"x{i % 7}",
            "occurred_at": NOW,
            "payload": {"amount": amount, "i": i},
        }
        for i in range(size)
    ]


@pytest.mark.parametrize("size", [3, COPY_THRESHOLD + 5])
def test_a_reused_id_is_a_conflict_and_a_redelivery_a_duplicate(server_url: str, size: int) -> None:
    engine = Engine(Database(server_url), PackRegistry([ToyPack()]), Settings())
    engine.migrate()
    assert engine.ingest(batch(size)).accepted == size
    again = engine.ingest(batch(size))
    assert (again.accepted, again.duplicates) == (0, size)
    with pytest.raises(EventConflict, match="'e0'"):
        engine.ingest(batch(size, amount=2))
    with engine.db.read() as conn:
        digests = conn.execute(sa.select(events.c.digest)).scalars().all()
    assert len(digests) == size
    assert all(d and len(d) == 32 for d in digests)
    engine.close()
