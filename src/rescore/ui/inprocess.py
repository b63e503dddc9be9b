"""Call one of the app's own JSON routes in process, as the viewer.

A pack's analytics page shows what its own read route answers (``GET /v1/packs/leads/analytics``
for the leads pack), so the dashboard never imports a pack and shows exactly what the API shows
the same key: the request goes through the app (authentication, tenancy, error handling) over
ASGI, without a socket.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message

__all__ = ["InProcessError", "get_json"]


class InProcessError(Exception):
    """The route answered with an error status."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"{status}: {body[:200].decode(errors='replace')}")
        self.status = status


async def get_json(app: ASGIApp, path: str, key: str) -> Any:
    """``GET path`` on ``app`` with ``key`` as the bearer; the decoded JSON body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {key}".encode()), (b"host", b"in-process")],
        "client": ("127.0.0.1", 0),
        "server": ("in-process", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if status != 200:
        raise InProcessError(status, body)
    return orjson.loads(body)
