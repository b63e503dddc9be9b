"""NATS JetStream ingest (durable consumer, ack after commit) and the Redis lookup cache
(TTL, invalidated across processes, no stale put after an invalidation), on the real
services."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
import servers

from conftest import ToyPack, put_items
from helpers import need_service
from rescore.bus import BusConsumer
from rescore.cache import RedisCache
from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.plugins import PackRegistry
from rescore.settings import Settings

pytestmark = pytest.mark.integration

make_database = servers.make_database


def toy_engine(url: str, **settings: object) -> Engine:
    engine = Engine(
        Database(url), PackRegistry([ToyPack()]), Settings(database_url=url, **settings)
    )
    engine.migrate()
    return engine


def test_jetstream_events_are_acked_only_once_stored(
    make_database: servers.MakeDatabase, tmp_path: Path
) -> None:
    need_service("NATS", 4222)
    engine = toy_engine(make_database("postgresql"))
    put_items(engine, x=(1, 2), y=(3, 4))
    stream = f"T{uuid.uuid4().hex[:8]}"
    subject = f"{stream.lower()}.events"

    async def scenario() -> None:
        import nats

        consumer = BusConsumer(engine, "nats://127.0.0.1:4222", stream=stream, subject=subject)
        await consumer.connect()
        nc = await nats.connect("nats://127.0.0.1:4222")
        js = nc.jetstream()
        for n in range(50):
            event = {"type": "b_changed", "entity": "xy"[n % 2], "occurred_at": "2026-01-23"}
            await js.publish(subject, json.dumps(event).encode())
        await js.publish(subject, b"not json")
        await js.publish(subject, b'{"type": "nope", "entity": "x", "occurred_at": "2026-01-23"}')
        got = await consumer.consume_once(timeout=2.0)
        assert (got.messages, got.accepted, got.refused) == (52, 50, 2)
        assert (await consumer.consume_once(timeout=0.5)).messages == 0  # all acked
        # a second consumer on the same durable name sees nothing left either
        info = await js.consumer_info(stream, "rescore")
        assert info.num_ack_pending == 0
        assert info.num_pending == 0
        await consumer.close()
        await js.delete_stream(stream)
        await nc.close()

    asyncio.run(scenario())
    engine.work("w")
    assert engine.current("toy", "x")["b_score"].value == 2.0
    engine.close()


def test_redis_cache_is_shared_and_invalidated_by_other_processes(
    make_database: servers.MakeDatabase,
) -> None:
    need_service("Redis", 6379)
    cache_url = "redis://127.0.0.1:6379/12"
    url = make_database("postgresql")
    prefix = f"t{uuid.uuid4().hex[:6]}"
    api = RedisCache(cache_url, ttl=60, prefix=prefix)
    worker = RedisCache(cache_url, ttl=60, prefix=prefix)  # as in another process
    key = ("default", "toy", "x")

    generation = api.generation(key)
    assert api.put(key, {"watermark": 1}, generation)
    assert worker.get(key) == {"watermark": 1}  # shared

    stale_read = api.generation(key)
    worker.drop([key])  # a worker rescored x meanwhile
    assert api.get(key) is None
    assert not api.put(key, {"watermark": 1}, stale_read)  # the older read is not cached
    assert api.get(key) is None

    short = RedisCache(cache_url, ttl=0.2, prefix=prefix)
    assert short.put(key, {"watermark": 2}, short.generation(key))
    assert short.get(key) is not None
    import time

    time.sleep(0.4)
    assert short.get(key) is None  # TTL

    # wired through the engine: a rescore anywhere drops the shared entry
    engine = toy_engine(url, cache_url=cache_url)
    engine.observers.extend(o for o in [RedisCache(cache_url, ttl=60, prefix=prefix).invalidator()])
    put_items(engine, x=(5, 5))
    assert api.put(key, {"watermark": 0}, api.generation(key))
    engine.ingest(
        [{"event_id": "e1", "type": "a_changed", "entity": "x", "occurred_at": "2026-01-23"}]
    )
    assert api.get(key) is None
    engine.close()
    for c in (api, worker, short):
        c.close()
