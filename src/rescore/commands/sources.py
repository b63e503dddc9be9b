"""Commands that feed events from other systems: the outbox poller and the bus consumer."""

from __future__ import annotations

import time
from typing import Any

import click

from rescore.cli import (
    console,
    engine_options,
    main,
    make_settings,
    opened,
    stop_on_signals,
)


@main.command()
@engine_options
@click.option(
    "--source",
    "source_url",
    required=True,
    help="The database with seed 000's events_queue table (e.g. mysql+pymysql://...).",
    envvar="RESCORE_POLL_SOURCE",
)
@click.option("--interval", type=click.FloatRange(0.01), default=1.0, help="Seconds between polls.")
@click.option("--batch", type=click.IntRange(1), default=500, help="Rows per poll.")
@click.option("--once", is_flag=True, help="Poll until events_queue has no new row, then exit.")
@click.option("--create-table", is_flag=True, help="Create events_queue if missing (demos).")
def poll(
    source_url: str, interval: float, batch: int, once: bool, create_table: bool, **options: Any
) -> None:
    """Ingest new rows of a source database's events_queue table (seed 000's outbox).

    Rows are read with FOR UPDATE SKIP LOCKED, ingested as events (event_id
    events_queue:<id>), then marked processed = TRUE, processed_at = NOW(); several pollers can
    run at once. Run a worker beside it to rescore.
    """
    from rescore.db.engine import Database
    from rescore.outbox import EVENTS_QUEUE_DDL, OutboxPoller

    settings = make_settings(**options)
    source = Database(source_url)
    try:
        if create_table:
            with source.begin() as conn:
                conn.exec_driver_sql(EVENTS_QUEUE_DDL)
        with opened(settings) as engine:
            poller = OutboxPoller(engine, source, batch_size=batch)
            total = _poll_loop(poller, interval, once)
    finally:
        source.dispose()
    console.print(f"polled {total} rows")


def _poll_loop(poller: Any, interval: float, once: bool) -> int:
    stop = stop_on_signals()
    total = 0
    while not stop():
        result = poller.poll_once()
        total += result.read
        if result.read:
            console.print(
                f"read {result.read}: accepted {result.accepted}, duplicates "
                f"{result.duplicates}, unknown types {result.unknown}",
                highlight=False,
            )
        elif once:
            break
        else:
            time.sleep(interval)
    return total


@main.command()
@engine_options
@click.option(
    "--nats",
    "servers",
    default="nats://127.0.0.1:4222",
    help="NATS server(s).",
    envvar="RESCORE_NATS_URL",
)
@click.option("--stream", default="RESCORE_EVENTS", help="JetStream stream (created if missing).")
@click.option("--subject", default="rescore.events", help="Subject to consume.")
@click.option("--durable", default="rescore", help="Durable consumer name (shared by replicas).")
@click.option("--batch", type=click.IntRange(1), default=200, help="Messages per fetch.")
@click.option("--once", is_flag=True, help="Consume until the stream has nothing new, then exit.")
def consume(
    servers: str, stream: str, subject: str, durable: str, batch: int, once: bool, **options: Any
) -> None:
    """Ingest events published to a NATS JetStream stream; ack only after they are stored."""
    import asyncio

    from rescore.bus import BusConsumer

    settings = make_settings(**options)
    with opened(settings) as engine:
        consumer = BusConsumer(
            engine, servers, stream=stream, subject=subject, durable=durable, batch_size=batch
        )
        total = asyncio.run(_consume_loop(consumer, once))
    console.print(f"consumed {total} messages")


async def _consume_loop(consumer: Any, once: bool) -> int:
    stop = stop_on_signals()
    total = 0
    await consumer.connect()
    try:
        while not stop():
            result = await consumer.consume_once(timeout=1.0)
            total += result.messages
            if result.messages:
                console.print(
                    f"{result.messages} messages: accepted {result.accepted}, duplicates "
                    f"{result.duplicates}, refused {result.refused}",
                    highlight=False,
                )
            elif once:
                break
    finally:
        await consumer.close()
    return total
