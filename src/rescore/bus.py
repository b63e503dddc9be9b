"""Bus ingest: a durable NATS JetStream consumer, for sources that publish events to a bus.

Each message is one event as JSON (``{event_id, type, entity, occurred_at, payload}``, or a
JSON list of them). The consumer is a durable pull consumer: it fetches a batch, ingests the
valid events in one transaction, and acks the messages only after that transaction commits.
A crash before the ack means JetStream redelivers after ``ack_wait``; the redelivered events
are duplicates by ``event_id`` and are acknowledged, not applied twice. An event without an
``event_id`` gets ``nats:<stream>:<stream sequence>``, which is the same on every redelivery.

A message that can never be ingested (not JSON, not an event, an unknown type) is terminated
(``term``) and logged instead of being redelivered forever. When the database is down the
batch is nak'ed with a delay, and comes back.

Example::

    consumer = BusConsumer(engine, "nats://127.0.0.1:4222", stream="EVENTS", subject="events.>")
    asyncio.run(consumer.run(stop=asyncio.Event()))
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from rescore.engine import Engine
from rescore.events import parse_events
from rescore.exceptions import (
    STORAGE_RETRYABLE,
    InvalidEvent,
    ServiceUnavailable,
    UnknownEventType,
)

__all__ = ["BusConsumer", "ConsumeResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumeResult:
    """One fetched batch: messages, events newly stored, duplicates, messages refused."""

    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0


class BusConsumer:
    """Moves events from a JetStream stream into ``engine``; run several with one durable name
    to share the work."""

    def __init__(
        self,
        engine: Engine,
        servers: str,
        *,
        stream: str,
        subject: str,
        durable: str = "rescore",
        batch_size: int = 200,
        create_stream: bool = True,
    ) -> None:
        self.engine = engine
        self.servers = servers
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.batch_size = batch_size
        self.create_stream = create_stream
        self._nc: Any = None
        self._sub: Any = None

    async def connect(self) -> None:
        """Connect, failing fast with :class:`ServiceUnavailable` when the first connection
        cannot be made; once connected, reconnect for as long as it takes."""
        import nats
        from nats.errors import NoServersError
        from nats.js.errors import NotFoundError

        try:
            # nats-py drops a server only after max_reconnect_attempts (> 0) failures; -1
            # would retry the first connection forever, printing a traceback each time.
            self._nc = await nats.connect(
                self.servers,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                error_cb=_log_error,
            )
        except (NoServersError, OSError) as exc:
            raise ServiceUnavailable(
                f"NATS at {self.servers} cannot be reached ({exc or type(exc).__name__}); "
                "is it running?"
            ) from None
        self._nc.options["max_reconnect_attempts"] = -1  # from now on, ride out outages
        js = self._nc.jetstream()
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            if not self.create_stream:
                raise
            await js.add_stream(name=self.stream, subjects=[self.subject])
        self._sub = await js.pull_subscribe(self.subject, durable=self.durable, stream=self.stream)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.drain()
            self._nc = None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set."""
        if self._nc is None:
            await self.connect()
        try:
            while not stop.is_set():
                await self.consume_once(timeout=1.0)
        finally:
            await self.close()

    async def consume_once(self, timeout: float = 1.0) -> ConsumeResult:
        """Fetch one batch (waiting up to ``timeout``), ingest it, then ack it."""
        import nats.errors

        if self._sub is None:
            await self.connect()
        try:
            msgs = await self._sub.fetch(self.batch_size, timeout=timeout)
        except nats.errors.TimeoutError:
            return ConsumeResult()
        good, bad = [], []
        events: list[dict[str, Any]] = []
        for msg in msgs:
            found = self._events(msg)
            if found is None:
                bad.append(msg)
            else:
                good.append(msg)
                events.extend(found)
        try:
            result = await asyncio.to_thread(
                self.engine.ingest, events, tenant=self.engine.settings.tenant
            )
        except STORAGE_RETRYABLE as exc:
            log.warning("bus: %s; %d messages come back later", exc, len(good))
            await asyncio.gather(*(m.nak(delay=2.0) for m in good))
            await asyncio.gather(*(m.term() for m in bad))
            return ConsumeResult(messages=len(msgs), refused=len(bad))
        await asyncio.gather(*(m.ack_sync() for m in good), *(m.term() for m in bad))
        return ConsumeResult(
            messages=len(msgs),
            accepted=result.accepted,
            duplicates=result.duplicates,
            refused=len(bad),
        )

    def _events(self, msg: Any) -> list[dict[str, Any]] | None:
        """The message's events, validated; None if it can never be ingested."""
        seq = msg.metadata.sequence.stream
        try:
            data = orjson.loads(msg.data)
            raws = data if isinstance(data, list) else [data]
            for n, raw in enumerate(raws):
                if isinstance(raw, dict) and "event_id" not in raw:
                    raw["event_id"] = f"nats:{self.stream}:{seq}" + (f":{n}" if n else "")
            parsed = parse_events(raws)
            for event in parsed:
                self.engine.registry.router.resolve(event.type, event.pack)
        except (orjson.JSONDecodeError, InvalidEvent, UnknownEventType) as exc:
            log.warning("bus: message %s refused: %s", seq, exc)
            return None
        return [e.model_dump() for e in parsed]


async def _log_error(exc: Exception) -> None:
    """One warning line per connection problem (nats-py's default prints a traceback)."""
    log.info("NATS: %s", exc or type(exc).__name__)
