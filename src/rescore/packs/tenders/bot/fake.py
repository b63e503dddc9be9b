"""A fake Telegram Bot API server on loopback, for the bot's tests and the T5 benchmark.

Shipped in the package (as procrastinate ships its in-memory connector) because the benchmark
runs from ``rescore bench``, outside the test tree. It speaks the Bot API's wire format as
python-telegram-bot uses it (``POST /bot<token>/<method>``, form-encoded parameters whose
values are JSON, multipart uploads for documents, ``{"ok": true, "result": ...}`` answers):

- ``getMe``, ``deleteWebhook``, ``setMyCommands``;
- ``getUpdates``: long poll of the updates a test injects with :meth:`FakeTelegram.say`
  (waits up to the request's ``timeout`` for one, then answers ``[]``);
- ``sendMessage`` and ``sendDocument`` (multipart): recorded in :attr:`FakeTelegram.sent`
  with the time they arrived, so a test reads what a chat received and how fast.

Example::

    with FakeTelegram().serving() as telegram:
        app = ApplicationBuilder().token(FakeTelegram.TOKEN).base_url(telegram.base_url)...
        asked = telegram.say(chat_id=42, text="/precio notebook")
        reply = telegram.wait_for(42, lambda m: "Analizando" in m.text)
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import orjson

__all__ = ["FakeTelegram", "Sent"]


@dataclass
class Sent:
    """A message or document the bot sent to a chat, and when it arrived (monotonic)."""

    chat_id: int
    method: str
    text: str
    at: float
    filename: str | None = None
    data: bytes = b""
    reply_to: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class FakeTelegram:
    """The Bot API for one bot; thread-safe."""

    TOKEN = "123456:FAKE-token-for-tests"

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.calls: list[str] = []
        self.asked_at: dict[int, float] = {}
        self._updates: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._messages = itertools.count(1000)
        self._changed = threading.Condition()
        self.base_url = ""

    # what a test does ----------------------------------------------------------------------

    def say(self, chat_id: int, text: str, *, first_name: str = "Ana") -> int:
        """A user sends ``text`` to the bot; the update's message id."""
        message_id = next(self._messages)
        command = text.split()[0] if text.startswith("/") else ""
        entities = [{"type": "bot_command", "offset": 0, "length": len(command)}] if command else []
        user = {"id": chat_id, "is_bot": False, "first_name": first_name}
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "from": user,
            "text": text,
            "entities": entities,
        }
        with self._changed:
            self.asked_at[message_id] = time.monotonic()
            self._updates.append({"update_id": next(self._ids), "message": message})
            self._changed.notify_all()
        return message_id

    def to(self, chat_id: int) -> list[Sent]:
        """What the bot sent ``chat_id`` so far, in order."""
        with self._changed:
            return [s for s in self.sent if s.chat_id == chat_id]

    def wait_for(self, chat_id: int, match: Callable[[Sent], bool], timeout: float = 30.0) -> Sent:
        """The first thing sent to ``chat_id`` that ``match`` accepts (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for sent in self.sent:
                    if sent.chat_id == chat_id and match(sent):
                        return sent
                left = deadline - time.monotonic()
                if left <= 0:
                    said = [s.text for s in self.sent if s.chat_id == chat_id]
                    raise TimeoutError(f"chat {chat_id} got nothing matching; it got {said}")
                self._changed.wait(left)

    # the Bot API -----------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        """Answer one Bot API method (the ``result`` of its JSON answer)."""
        self.calls.append(method)
        if method == "getUpdates":
            return self._get_updates(params)
        if method in ("sendMessage", "sendDocument"):
            return self._record(method, params, files)
        if method == "getMe":
            return {"id": 1, "is_bot": True, "first_name": "CompraAgil", "username": "compra_bot"}
        return True  # deleteWebhook, setMyCommands, close, logOut

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), 30.0)
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                left = deadline - time.monotonic()
                if self._updates or left <= 0:
                    return list(self._updates)
                self._changed.wait(left)

    def _record(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        document = files.get("document")
        sent = Sent(
            chat_id=chat_id,
            method=method,
            text=str(params.get("text") or params.get("caption") or ""),
            at=time.monotonic(),
            filename=document[0] if document else None,
            data=document[1] if document else b"",
            reply_to=_reply_to(params),
        )
        with self._changed:
            self.sent.append(sent)
            self._changed.notify_all()
        message: dict[str, Any] = {
            "message_id": next(self._messages),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "text": sent.text,
        }
        if document:
            message["document"] = {
                "file_id": f"f{message['message_id']}",
                "file_unique_id": f"u{message['message_id']}",
                "file_name": document[0],
            }
        return message

    @contextmanager
    def serving(self) -> Iterator[FakeTelegram]:
        """Serve on a free loopback port; :attr:`base_url` is what the bot's ``base_url``
        takes (the token follows it)."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}/bot"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            with self._changed:
                self._changed.notify_all()
            server.shutdown()
            server.server_close()


def _reply_to(params: dict[str, Any]) -> int | None:
    found = params.get("reply_parameters")
    if isinstance(found, dict) and "message_id" in found:
        return int(found["message_id"])
    return None


def _value(raw: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def _parse(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parameters and uploaded files (name -> (filename, bytes)) of a Bot API request."""
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        params: dict[str, Any] = {}
        files: dict[str, Any] = {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            data = data if isinstance(data, bytes) else b""
            if part.get_filename():
                files[str(name)] = (part.get_filename(), data)
            else:
                params[str(name)] = _value(data.decode())
        return params, files
    if content_type.startswith("application/json"):
        return (orjson.loads(body) if body else {}), {}
    return {k: _value(v) for k, v in parse_qsl(body.decode())}, {}


def _handler(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in two writes: without this, Nagle's algorithm holds the
            # body until the client's delayed ACK (~40 ms a request), which Telegram never adds
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            method = self.path.rstrip("/").rsplit("/", 1)[-1]
            token = self.path.split("/")[1].removeprefix("bot")
            if token != FakeTelegram.TOKEN:
                return self._answer(
                    401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                )
            params, files = _parse(self.headers.get("Content-Type", ""), body)
            self._answer(200, {"ok": True, "result": fake.call(method, params, files)})

        do_GET = do_POST

        def _answer(self, status: int, payload: Any) -> None:
            data = orjson.dumps(payload)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the bot stopped mid long poll
                return

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
