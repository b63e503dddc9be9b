"""The HTTP edge: what reaches a route, and what every error looks like on the way out.

- :class:`BodyGuard` (ASGI middleware) refuses a body over ``RESCORE_MAX_BODY_BYTES`` with 413
  before a route reads it, and a body that is not UTF-8 or carries ``NaN``/``Infinity`` (not
  JSON, though Python's parser takes them) with 400 saying where: line and column.
- :func:`validation_error` answers FastAPI's own validation errors in their usual shape, minus
  the caller's input (it may be huge, or hold a NaN that cannot be serialized), and a JSON
  syntax error as a 400 with its line and column.
- :func:`rescore_error` answers every :class:`RescoreError`; a 503 says only that a service is
  unavailable (the real message, which may name a database host, goes to the log).
- :func:`fields_as_sent` renames the fields of an error to what the caller sent, for routes
  whose body is not an event (``/update-score``'s ``event_type``, Pub/Sub's
  ``message.data.cedula``).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rescore.exceptions import (
    InvalidInput,
    Problem,
    RescoreError,
    ServiceUnavailable,
    TooLarge,
)

__all__ = [
    "BodyGuard",
    "MalformedBody",
    "fields_as_sent",
    "rescore_error",
    "strict_json",
    "validation_error",
]

log = logging.getLogger(__name__)

#: Brackets from which a body is parsed strictly before a route sees it (Python's parser
#: overflows its stack near a thousand levels; orjson refuses deeper than 1,024 cleanly).
DEEP = 500

#: Methods whose body the guard reads.
WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class MalformedBody(RescoreError):
    """The body is not valid JSON."""

    http_status = 400


def strict_json(raw: bytes | str) -> Any:
    """Parse JSON as the standard says: no ``NaN``, ``Infinity`` or numbers that overflow to
    infinity (``1e400``); errors say the line and column. The standard parser builds the value,
    because orjson reads an integer beyond 64 bits as a float and the payload check must see
    it whole."""
    return json.loads(check_json(raw))


def check_json(raw: bytes | str) -> str:
    """The body as text if it is strict JSON (orjson judges: strict, fast, and it stops at a
    nesting the standard parser would overflow the stack on), else :class:`MalformedBody`."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise MalformedBody(
            f"the body is not UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start})",
            field="body",
        ) from None
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(_where(exc.msg, exc.doc, exc.pos), field="body") from None
    return text


def _where(message: str, doc: str, pos: int) -> str:
    line = doc.count("\n", 0, pos) + 1
    column = pos - doc.rfind("\n", 0, pos)
    return f"the body is not valid JSON: {message} (line {line}, column {column})"


class BodyGuard:
    """Read a request's body once, refuse it early when it is too large or not JSON text,
    then replay it to the app."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            if _is_json(scope) and _suspect(body):
                check_json(body)
        except RescoreError as exc:
            await _answer(exc)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            raise self._too_large(f"{declared:,} bytes")
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(f"over {self.max_bytes:,} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    def _too_large(self, size: str) -> RescoreError:
        return TooLarge(
            f"the request body is {size}; at most {self.max_bytes:,} bytes are accepted "
            "(RESCORE_MAX_BODY_BYTES): send a smaller batch",
            field="body",
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return True


def _suspect(body: bytes) -> bool:
    """Whether a cheap scan finds what only a strict parse can judge: ``NaN``/``Infinity``
    (which Python's parser takes), bytes that are not UTF-8, or enough brackets to nest past
    Python's recursion limit (a batch of events has two per event, far from it per level,
    but the count is the cheap bound)."""
    if b"NaN" in body or b"Infinity" in body:
        return True
    if body.count(b"[") + body.count(b"{") > DEEP:
        return True
    try:
        body.decode()
    except UnicodeDecodeError:
        return True
    return False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


# errors on the way out ----------------------------------------------------------------------


def _answer(exc: RescoreError) -> JSONResponse:
    if isinstance(exc, ServiceUnavailable):
        log.warning("answering 503: %s", exc.message)
        message = (type(exc).__doc__ or "unavailable").strip()
        return JSONResponse(
            {"detail": message, "field": None}, status_code=503, headers={"Retry-After": "1"}
        )
    if exc.http_status == 422:
        return JSONResponse({"detail": _detail(exc)}, status_code=422)
    return JSONResponse(
        {"detail": exc.message, "field": exc.field},
        status_code=exc.http_status,
        headers=exc.headers or None,
    )


def _detail(exc: RescoreError) -> list[dict[str, Any]]:
    """FastAPI's shape: one entry per problem, ``loc`` the path in the body (with the
    event's position first in a batch)."""
    problems: Sequence[Problem] = getattr(exc, "problems", ())
    if not problems:
        problems = [Problem(field=exc.field or "", message=exc.message)]
    return [
        {
            "loc": _loc(p),
            "msg": p.message,
            "type": "value_error",
        }
        for p in problems
    ]


def _loc(problem: Problem) -> list[str | int]:
    parts: list[str | int] = [] if problem.index is None else [problem.index - 1]
    field = problem.field
    if field.startswith(("query.", "path.", "header.")):
        where, _, rest = field.partition(".")
        return [where, *parts, *rest.split(".")]
    return ["body", *parts, *(field.split(".") if field else [])]


async def rescore_error(_request: Request, exc: Exception) -> JSONResponse:
    """One handler for every rescore error, read from its ``http_status``."""
    assert isinstance(exc, RescoreError)
    return _answer(exc)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's validation errors without the input echoed back; JSON syntax errors as 400
    with the line and column."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid":
            body = exc.body if isinstance(exc.body, str) else ""
            reason = str(error.get("ctx", {}).get("error", "invalid JSON"))
            where = _where(reason, body, int(error["loc"][-1]))
            return _answer(MalformedBody(where, field="body"))
    detail = [{"loc": list(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])} for e in errors]
    return JSONResponse({"detail": detail}, status_code=422)


@contextmanager
def fields_as_sent(rename: Mapping[str, str], *, single: bool = True) -> Iterator[None]:
    """Re-raise errors with their fields named as the caller sent them: ``rename`` maps an
    event's field (``type``, ``entity``, ``payload``) to the caller's (``event_type``);
    ``single`` drops the batch position of a request that carried one event."""
    try:
        yield
    except RescoreError as exc:
        raise _renamed(exc, rename, single) from exc


def _renamed(exc: RescoreError, rename: Mapping[str, str], single: bool) -> RescoreError:
    new = copy.copy(exc)
    new.field = _rename(exc.field, rename) if exc.field else exc.field
    if isinstance(exc, InvalidInput) and isinstance(new, InvalidInput):
        new.problems = tuple(
            Problem(
                field=_rename(p.field, rename),
                message=p.message,
                index=None if single else p.index,
            )
            for p in exc.problems
        )
    return new


def _rename(field: str, rename: Mapping[str, str]) -> str:
    for ours, theirs in rename.items():
        if field == ours or field.startswith(f"{ours}."):
            return theirs + field[len(ours) :]
    return field
