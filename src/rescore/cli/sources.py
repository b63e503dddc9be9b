"""Commands that feed events from other systems: the outbox poller and the bus consumer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from rescore.cli.framework import GracefulStop, Session, echo, pass_session

if TYPE_CHECKING:
    from rescore.bus import BusConsumer
    from rescore.outbox import OutboxPoller

__all__ = ["consume", "poll"]


@click.command()
@click.option(
    "--source",
    "source_url",
    required=True,
    help="The database with seed 000's events_queue table (e.g. mysql+pymysql://...).",
)
@click.option(
    "--every", type=click.FloatRange(0.01), default=1.0, help="Seconds between empty polls."
)
@click.option("--batch", type=click.IntRange(1), default=500, help="Rows per poll.")
@click.option("--once", is_flag=True, help="Poll until events_queue has no new row, then exit.")
@click.option("--create-table", is_flag=True, help="Create events_queue if missing (demos).")
@pass_session
def poll(
    session: Session, source_url: str, every: float, batch: int, once: bool, create_table: bool
) -> None:
    """Ingest new rows of a source database's events_queue table (seed 000's outbox).

    Rows are read with FOR UPDATE SKIP LOCKED, ingested as events (event_id
    events_queue:<id>), then marked processed = TRUE, processed_at = NOW(); several pollers can
    run at once. Run a worker beside it to rescore. Ctrl-C stops after the poll in hand.
    """
    from rescore.db.engine import Database
    from rescore.outbox import EVENTS_QUEUE_DDL, OutboxPoller

    source = Database(source_url, field="--source", create=False)
    try:
        if create_table:
            with source.begin() as conn:
                conn.exec_driver_sql(EVENTS_QUEUE_DDL)
        with session.engine() as engine:
            total = _poll_loop(OutboxPoller(engine, source, batch_size=batch), every, once)
    finally:
        source.dispose()
    echo(f"polled {total} rows")


def _poll_loop(poller: OutboxPoller, every: float, once: bool) -> int:
    total = 0
    with GracefulStop() as stop:
        while not stop.requested:
            result = poller.poll_once()
            total += result.read
            if result.read:
                echo(
                    f"read {result.read}: accepted {result.accepted}, duplicates "
                    f"{result.duplicates}, unknown types {result.unknown}"
                )
            elif once or stop.wait(every):
                break
    return total


@click.command()
@click.option("--nats", "servers", default="nats://127.0.0.1:4222", help="NATS server(s).")
@click.option("--stream", default="RESCORE_EVENTS", help="JetStream stream (created if missing).")
@click.option("--subject", default="rescore.events", help="Subject to consume.")
@click.option("--durable", default="rescore", help="Durable consumer name (shared by replicas).")
@click.option("--batch", type=click.IntRange(1), default=200, help="Messages per fetch.")
@click.option("--once", is_flag=True, help="Consume until the stream has nothing new, then exit.")
@pass_session
def consume(
    session: Session,
    servers: str,
    stream: str,
    subject: str,
    durable: str,
    batch: int,
    once: bool,
) -> None:
    """Ingest events published to a NATS JetStream stream; ack only after they are stored.

    A server that cannot be reached at start is one error line (exit 75); once connected, the
    consumer rides out outages. Ctrl-C stops after the batch in hand; a second Ctrl-C kills.
    """
    import asyncio

    from rescore.bus import BusConsumer

    with session.engine() as engine:
        consumer = BusConsumer(
            engine, servers, stream=stream, subject=subject, durable=durable, batch_size=batch
        )
        total = asyncio.run(_consume_loop(consumer, once))
    echo(f"consumed {total} messages")


async def _consume_loop(consumer: BusConsumer, once: bool) -> int:
    total = 0
    with GracefulStop() as stop:
        await consumer.connect()
        try:
            while not stop.requested:
                result = await consumer.consume_once(timeout=1.0)
                total += result.messages
                if result.messages:
                    echo(
                        f"{result.messages} messages: accepted {result.accepted}, duplicates "
                        f"{result.duplicates}, refused {result.refused}"
                    )
                elif once:
                    break
        finally:
            await consumer.close()
    return total
