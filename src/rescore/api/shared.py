"""What the core's routes and packs' routes share (packs reach it through
:mod:`rescore.packs.sdk`): OpenAPI error entries, documented examples, read-after-write."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from rescore.api.deps import ApiState
from rescore.api.models import ErrorOut
from rescore.engine import IngestResult, Settled
from rescore.exceptions import EntityNotFound, InvalidEvent

__all__ = [
    "AUTH",
    "MAX_WAIT_ENTITIES",
    "POSTED",
    "errors",
    "example_body",
    "example_param",
    "ok",
    "settle_and_view",
    "settle_views",
]

#: What every endpoint behind a key can answer.
AUTH = (401, 403)
#: What an endpoint with a body can also answer: 400 (not JSON), 413 (too large).
POSTED = (400, 413, *AUTH)
#: Entities one ``?wait=true`` call may rescore in the request.
MAX_WAIT_ENTITIES = 100


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an endpoint can answer."""
    return {code: {"model": ErrorOut} for code in codes}


def ok(example: Any, *codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: 200 with its example (an answer on the demo data), and errors."""
    return {200: {"content": {"application/json": {"example": example}}}, **errors(*codes)}


def example_body(value: Any, summary: str = "on the demo data") -> dict[str, Any]:
    """``openapi_examples`` for a request body or parameter: shown and prefilled by /docs,
    sent by schemathesis, and tested to succeed on the demo data."""
    return {"demo": {"summary": summary, "value": value}}


example_param = example_body


def settle_and_view(
    state: ApiState, result: IngestResult, timeout: float
) -> tuple[bool, list[dict[str, Any]]]:
    """Rescore what ``result`` queued now (read-after-write) and return the fresh views."""
    settled, views = settle_views(state, result, timeout)
    return settled.fresh, views


def settle_views(
    state: ApiState, result: IngestResult, timeout: float
) -> tuple[Settled, list[dict[str, Any]]]:
    """Rescore what ``result`` queued now, as a registered worker (a process killed mid-way
    has its claims given back like any worker's), and return the views of the entities that
    have scores; dead-lettered ones are in the report, with the reason, at once."""
    keys = sorted({(e.tenant, e.pack, e.entity) for e in result.events if e.lane != "none"})
    if len(keys) > MAX_WAIT_ENTITIES:
        raise InvalidEvent(
            f"wait=true rescores at most {MAX_WAIT_ENTITIES} entities per request, "
            f"this batch touches {len(keys)}: send it without wait",
            field="query.wait",
        )
    worker = state.heartbeat.claimant(f"wait{threading.get_ident()}")
    settled = state.engine.settle(result.events, worker=worker, timeout=timeout)
    views = []
    for key in keys:
        if key not in settled.dead:
            with contextlib.suppress(EntityNotFound):  # not scored in time: fresh says so
                views.append(state.lookup.get(key))
    return settled, views
