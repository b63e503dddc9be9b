"""``rescore loyalty demo``: seed 003's automations end to end, delivered to a local receiver.

It fills a fresh SQLite file with demo businesses and customers, scores them, starts a
WhatsApp stand-in on loopback (an HTTP receiver that Apprise's JSON target posts to: set
``RESCORE_CHANNEL_WHATSAPP`` yourself to send for real), runs the embedded runtime, replays a
business day (registrations with missing fields, points loads, visits) and then fires the
birthday rule for today in every business's time zone. It ends with what each rule fired and
what arrived at the receiver.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from rescore.packs.sdk import (
    EmbeddedRuntime,
    Session,
    console,
    echo,
    pass_session,
    settled,
    source_write,
)

if TYPE_CHECKING:
    from rescore.packs.loyalty.pack import LoyaltyPack

__all__ = ["demo_command"]

DEMO_DB = ".rescore/loyalty-demo.db"


class Inbox:
    """What the local WhatsApp stand-in received (thread-safe)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, path: str, body: bytes) -> None:
        message = orjson.loads(body) if body else {}
        with self.lock:
            self.messages.append({"to": path.rsplit("/", 1)[-1], **message})


@contextmanager
def receiver(inbox: Inbox) -> Iterator[str]:
    """An HTTP receiver on a free loopback port; yields its Apprise JSON URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            inbox.add(self.path, self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/whatsapp/{{to}}"
    finally:
        server.shutdown()
        server.server_close()


def demo_command(pack: LoyaltyPack) -> click.Command:
    """The ``demo`` command, bound to ``pack``."""

    @click.command("demo")
    @click.option("--customers", type=click.IntRange(100, 1_000_000), default=20_000,
                  show_default=True, help="Demo customers (up to 200 businesses).")  # fmt: skip
    @click.option("--events", type=click.IntRange(0), default=300, show_default=True,
                  help="Business-day events to replay.")  # fmt: skip
    @click.option("--seed", type=int, default=7, show_default=True)
    @pass_session
    def demo(session: Session, customers: int, events: int, seed: int) -> None:
        """Seed 003 end to end: registrations, points and birthdays fire the shipped rules,
        and the messages arrive at a local WhatsApp stand-in."""
        url = session.options.get("database_url") or f"sqlite:///{DEMO_DB}"
        _fresh(url)
        inbox = Inbox()
        with (
            receiver(inbox) as channel,
            _channel(channel),
            session.engine(create=True, database_url=url, packs=["loyalty"]) as engine,
        ):
            _prepare(engine, pack, customers, seed)
            with EmbeddedRuntime(engine):
                _replay(engine, pack, events, seed)
                _birthdays(engine, pack)
                settled(engine)
            _report(engine, inbox, url)

    return demo


def _fresh(url: str) -> None:
    """Start from an empty file (only the demo's own default file is ever removed)."""
    if url == f"sqlite:///{DEMO_DB}":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)


@contextmanager
def _channel(url: str) -> Iterator[None]:
    """Point the ``whatsapp`` channel at the local receiver, unless the user set one."""
    mine = "RESCORE_CHANNEL_WHATSAPP" not in os.environ
    if mine:
        os.environ["RESCORE_CHANNEL_WHATSAPP"] = url
    try:
        yield
    finally:
        if mine:
            os.environ.pop("RESCORE_CHANNEL_WHATSAPP", None)


def _prepare(engine: Any, pack: LoyaltyPack, customers: int, seed: int) -> None:
    started = time.perf_counter()
    with source_write(engine) as conn:
        count = pack.generate_demo_data(conn, seed=seed, size=customers)
    keys = list(engine.entity_keys("loyalty"))
    for start in range(0, len(keys), 2000):
        engine.recompute("loyalty", keys[start : start + 2000])
    elapsed = time.perf_counter() - started
    echo(f"loyalty: {count:,} customers created and scored in {elapsed:.1f} s")


def _replay(engine: Any, pack: LoyaltyPack, events: int, seed: int) -> None:
    simulator = pack.simulator(seed)
    types: Counter[str] = Counter()
    for _ in range(events):
        with source_write(engine) as conn:
            event = simulator.step(conn)
        engine.ingest([event])
        types[event["type"]] += 1
    echo("replayed " + ", ".join(f"{n} {t}" for t, n in sorted(types.items())))


def _birthdays(engine: Any, pack: LoyaltyPack) -> None:
    """Fire the birthday rule for today, as its 09:00 tick does in each business's zone."""
    from rescore.automations.scheduling import fire_tick

    rule = engine.automation_rule("loyalty.birthday").rule
    counts = fire_tick(engine, rule, engine.settings.tenant, engine.clock())
    echo(f"birthdays today: {counts.get('fired', 0)} greetings queued")


def _report(engine: Any, inbox: Inbox, url: str) -> None:
    from rich.table import Table

    fired: Counter[str] = Counter()
    for row in engine.firings(tenant=engine.settings.tenant, limit=100_000):
        fired[row["rule"]] += 1
    counts = engine.delivery_counts(tenant=engine.settings.tenant)
    table = Table(title="rules fired")
    table.add_column("rule")
    table.add_column("fired", justify="right")
    for rule, n in sorted(fired.items()):
        table.add_row(rule, f"{n:,}")
    console().print(table)
    with inbox.lock:
        arrived = list(inbox.messages)
    echo(f"deliveries: {dict(sorted(counts.items()))}; {len(arrived)} arrived at the receiver")
    for message in arrived[-5:]:
        echo(f"  to {message['to']}: {message.get('message', '')}")
    echo(f"see them all: rescore --database-url {url} automations deliveries")
