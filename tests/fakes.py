"""Local fake servers on loopback that speak outside services' wire formats, for any test:
Hotmart's (OAuth client-credentials token, paged courses, modules and lessons), Gemini's
``generateContent`` and OpenAI's chat completions, files and vector stores.

Each records what it received and takes scripted failures (``fail(path_part, status, times)``:
a 429 or a 500 for the next matching requests), so a test shows retries, back-off and
dead letters against the real client libraries, never a mocked SDK::

    with serve(FakeGemini(answers=['{"ok": 1}'])) as gemini:
        model = GeminiModel(api_key="k", model="gemini-2.0-flash", base_url=gemini.url)
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class Fake:
    """A scripted service: subclasses answer in :meth:`answer`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._failures: list[list[Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    def fail(self, part: str, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests whose path contains ``part``."""
        self._failures.append([part, status, times, retry_after])

    def handle(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            for failure in self._failures:
                part, status, left, retry_after = failure
                if left > 0 and part in request.path:
                    failure[2] -= 1
                    headers = {"Retry-After": retry_after} if retry_after else {}
                    return Reply(status, self.error(status), headers)
        return self.answer(request)

    def error(self, status: int) -> Any:
        return {"error": {"code": status, "message": f"scripted {status}"}}

    def answer(self, request: Request) -> Reply:
        raise NotImplementedError

    def count(self, part: str) -> int:
        with self.lock:
            return sum(part in r.path for r in self.requests)


@contextmanager
def serve(fake: Fake) -> Iterator[Fake]:
    """Run ``fake`` on a free loopback port; ``fake.url`` is its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=parsed.path,
                query=parse_qs(parsed.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            reply = fake.handle(request)
            data = reply.raw if reply.raw is not None else orjson.dumps(reply.body)
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _do

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# -- Hotmart -----------------------------------------------------------------------------------


class FakeHotmart(Fake):
    """Hotmart's shape: ``POST /security/oauth/token`` (Basic auth, client credentials),
    ``GET /courses``, ``/courses/{id}/modules``, ``/modules/{id}/lessons`` paged with
    ``max_results``/``page_token`` -> ``items`` and ``page_info.next_page_token``.
    ``catalogue`` is ``{course: {"title", "modules": {module: {"title", "lessons": [...]}}}}``;
    tokens last ``expires_in`` seconds (tests make them expire at once)."""

    def __init__(
        self,
        catalogue: dict[str, Any],
        *,
        expires_in: int = 3600,
        media: dict[str, bytes] | None = None,
        media_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.catalogue = catalogue
        self.expires_in = expires_in
        #: files served unauthenticated under /media/ (videos, subtitles), after media_delay
        self.media = media or {}
        self.media_delay = media_delay
        self.tokens: dict[str, float] = {}
        self._ids = itertools.count(1)

    def answer(self, request: Request) -> Reply:
        if request.path.startswith("/media/"):
            time.sleep(self.media_delay)
            return Reply(200, raw=self.media[request.path.removeprefix("/media/")])
        if request.path.endswith("/oauth/token"):
            return self._token(request)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.tokens.get(bearer, 0) < time.time():
            return Reply(401, {"error": "invalid_token"})
        return self._page(request, self._items(request.path))

    def _token(self, request: Request) -> Reply:
        if not request.headers.get("authorization", "").startswith("Basic "):
            return Reply(401, {"error": "unauthorized_client"})
        token = f"tok-{next(self._ids)}"
        self.tokens[token] = time.time() + self.expires_in
        return Reply(
            200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}
        )

    def _items(self, path: str) -> list[dict[str, Any]]:
        if path.endswith("/courses"):
            return [{"id": c, "title": v["title"]} for c, v in self.catalogue.items()]
        if m := re.search(r"/courses/([^/]+)/modules$", path):
            modules = self.catalogue[m.group(1)]["modules"]
            return [{"id": mid, "title": mv["title"]} for mid, mv in modules.items()]
        m = re.search(r"/modules/([^/]+)/lessons$", path)
        assert m, path
        for course in self.catalogue.values():
            if m.group(1) in course["modules"]:
                return list(course["modules"][m.group(1)]["lessons"])
        return []

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Reply:
        size = int(request.query.get("max_results", ["50"])[0])
        start = int(request.query.get("page_token", ["0"])[0])
        following = start + size
        info = {
            "results_per_page": size,
            "total_results": len(items),
            "next_page_token": str(following) if following < len(items) else None,
        }
        return Reply(200, {"items": items[start:following], "page_info": info})


# -- Gemini ------------------------------------------------------------------------------------


class FakeGemini(Fake):
    """``POST /v1beta/models/{model}:generateContent``: answers ``answers`` in turn (the last
    one repeats), as ``candidates[0].content.parts[0].text``."""

    def __init__(self, answers: list[str]) -> None:
        super().__init__()
        self.answers = answers

    def error(self, status: int) -> Any:
        names = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
        return {"error": {"code": status, "message": "scripted", "status": names.get(status, "")}}

    def answer(self, request: Request) -> Reply:
        assert ":generateContent" in request.path, request.path
        text = self.answers[min(self.count(":generateContent"), len(self.answers)) - 1]
        return Reply(
            200,
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": text}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 10,
                    "candidatesTokenCount": 10,
                    "totalTokenCount": 20,
                },
                "modelVersion": "gemini-2.0-flash",
            },
        )


# -- OpenAI ------------------------------------------------------------------------------------


class FakeOpenAI(Fake):
    """``/chat/completions`` (``answers`` in turn), ``/files`` and ``/vector_stores`` with
    their files. A vector store file is ``in_progress`` for ``polls`` retrievals, then
    ``completed`` (or ``failed`` for file names in ``fail_indexing``)."""

    def __init__(self, answers: list[str] | None = None, *, polls: int = 1) -> None:
        super().__init__()
        self.answers = answers or ["{}"]
        self.polls = polls
        self.fail_indexing: set[str] = set()
        self.files: dict[str, dict[str, Any]] = {}
        self.stores: dict[str, dict[str, Any]] = {}
        self.attached: dict[str, dict[str, int]] = {}  # store -> file -> retrievals
        self._ids = itertools.count(1)

    def error(self, status: int) -> Any:
        return {"error": {"message": "scripted", "type": "server_error", "code": None}}

    def answer(self, request: Request) -> Reply:
        path = request.path.removeprefix("/v1")
        if path == "/chat/completions":
            return self._chat()
        if path.startswith("/files"):
            return self._files(request, path)
        return self._stores(request, path)

    def _chat(self) -> Reply:
        text = self.answers[min(self.count("/chat/completions"), len(self.answers)) - 1]
        return Reply(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    def _files(self, request: Request, path: str) -> Reply:
        if request.method == "POST":
            name = re.search(rb'filename="([^"]+)"', request.body)
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = {
                "id": file_id,
                "object": "file",
                "bytes": len(request.body),
                "created_at": 1,
                "filename": name.group(1).decode() if name else "upload",
                "purpose": "assistants",
                "status": "processed",
            }
            return Reply(200, self.files[file_id])
        file_id = path.rsplit("/", 1)[-1]
        if self.files.pop(file_id, None) is None:
            return Reply(
                404, {"error": {"message": "no such file", "type": "invalid_request_error"}}
            )
        return Reply(200, {"id": file_id, "object": "file", "deleted": True})

    def _store(self, name: str, metadata: dict[str, Any]) -> dict[str, Any]:
        store_id = f"vs_{next(self._ids)}"
        self.stores[store_id] = {
            "id": store_id,
            "object": "vector_store",
            "created_at": 1,
            "name": name,
            "usage_bytes": 0,
            "status": "completed",
            "metadata": metadata,
            "last_active_at": 1,
            "file_counts": {
                "in_progress": 0,
                "completed": 0,
                "failed": 0,
                "cancelled": 0,
                "total": 0,
            },
        }
        self.attached[store_id] = {}
        return self.stores[store_id]

    def _stores(self, request: Request, path: str) -> Reply:
        if path == "/vector_stores":
            if request.method == "POST":
                body = request.json()
                return Reply(200, self._store(body["name"], body.get("metadata") or {}))
            data = list(self.stores.values())
            return Reply(
                200,
                {
                    "object": "list",
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                },
            )
        m = re.fullmatch(r"/vector_stores/([^/]+)/files(?:/([^/]+))?", path)
        assert m, path
        store, file_id = m.group(1), m.group(2)
        if request.method == "POST":
            file_id = request.json()["file_id"]
            self.attached[store][file_id] = 0
        elif request.method == "DELETE":
            self.attached[store].pop(file_id, None)
            return Reply(
                200, {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}
            )
        else:
            self.attached[store][file_id] += 1
        return Reply(200, self._vs_file(store, file_id))

    def _vs_file(self, store: str, file_id: str) -> dict[str, Any]:
        polls = self.attached[store][file_id]
        name = self.files.get(file_id, {}).get("filename", "")
        status, error = "in_progress", None
        if polls >= self.polls:
            status = "failed" if name in self.fail_indexing else "completed"
            if status == "failed":
                error = {"code": "server_error", "message": "scripted indexing failure"}
        return {
            "id": file_id,
            "object": "vector_store.file",
            "usage_bytes": 10,
            "created_at": 1,
            "vector_store_id": store,
            "status": status,
            "last_error": error,
        }


# -- Telegram ----------------------------------------------------------------------------------

# The Bot API fake lives in the package (the T5 benchmark runs outside the test tree too);
# tests take it from here like every other fake.
from rescore.packs.tenders.bot.fake import FakeTelegram, Sent  # noqa: E402, F401
