"""Real receivers on loopback for automation deliveries: an HTTP receiver (webhooks, Apprise's
JSON target) and an SMTP server (e-mail through Apprise)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every POST; answers ``fail_with`` for the first ``failures`` requests and
    waits ``delay`` seconds before answering (a slow receiver for kill tests)."""

    failures: int = 0
    fail_with: int = 503
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(receiver.fail_with)
                    self.end_headers()
                    return
                receiver.received.append(Received(self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.received)


def http_receiver(**options: Any) -> Iterator[HttpReceiver]:
    """A started receiver, stopped after the test (use from a fixture)."""
    receiver = HttpReceiver(**options).start()
    try:
        yield receiver
    finally:
        receiver.stop()
