"""Notifications reach real receivers on loopback: Apprise's JSON target (an HTTP receiver)
and e-mail (a local SMTP server), with the idempotency key and no secret in any error."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from conftest import event, put_items
from receivers import HttpReceiver, http_receiver
from rescore.automations import parse_rules
from rescore.automations.dispatcher import DeliveryDispatcher
from rescore.engine import Engine

pytestmark = pytest.mark.integration


class Mailbox:
    """An SMTP server's DATA handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    yield box, port
    server.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    yield from http_receiver()


def _fire(engine: Engine, channel: str) -> None:
    engine.add_rules(
        parse_rules(f"""
            name: notify-{channel}
            trigger: {{kind: event, type: a_changed}}
            actions: [{{notify: {{channel: {channel}, title: "Moved: {{{{ entity }}}}",
                                  body: "{{{{ entity }}}} moved to {{{{ payload.a }}}}"}}}}]
        """)
    )
    put_items(engine, x=(1, 0))
    engine.ingest([event(f"{channel}-1", "a_changed", "x", a=42)])
    dispatcher = DeliveryDispatcher(engine, worker="test")
    while dispatcher.run_once().handled:
        pass


def test_apprise_json_target_gets_the_message_and_its_key(
    engine: Engine, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESCORE_CHANNEL_OPS", f"json://{receiver.url.split('://')[1]}/alerts")
    _fire(engine, "ops")
    (got,) = receiver.wait_for(1)
    assert got.path == "/alerts"
    assert got.json()["title"] == "Moved: x"
    assert got.json()["message"] == "x moved to 42"
    (delivery,) = engine.deliveries()
    assert delivery["status"] == "sent"
    assert got.headers["Idempotency-Key"] == delivery["key"]
    assert delivery["message"]["via"] == "channel:ops"


def test_email_through_a_local_smtp_server(
    engine: Engine, smtp: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = smtp
    url = f"mailto://127.0.0.1:{port}?from=rescore@example.com&to=risk@example.com&mode=insecure"
    monkeypatch.setenv("RESCORE_CHANNEL_MAIL", url)
    _fire(engine, "mail")
    (mail,) = box.messages
    assert mail.rcpt_tos == ["risk@example.com"]
    parsed = message_from_bytes(mail.content)
    assert parsed["Subject"] == "Moved: x"
    assert "x moved to 42" in mail.content.decode()


def test_an_unreachable_channel_is_retried_and_its_url_never_shown(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    monkeypatch.setenv("RESCORE_CHANNEL_OPS", f"json://user:t0ps3cret@127.0.0.1:{port}/x")
    _fire(engine, "ops")
    (delivery,) = engine.deliveries()
    assert delivery["status"] == "pending"  # back in line, with backoff
    assert delivery["attempts"] == 1
    assert "did not accept" in delivery["last_error"]
    assert "t0ps3cret" not in str(delivery)
