"""The core endpoints: ingest, score lookups, history, explanations, the queue, health.

Every endpoint but ``/healthz`` and ``/readyz`` needs an API key; the key's tenant bounds what
the call reads and writes. Errors are ``{"detail": ..., "field": ...}`` with the status the
error carries (validation errors keep FastAPI's ``{"detail": [{"loc", "msg"}]}`` shape, 422).
Every operation documents a request and an answer that work on the demo data
(``rescore init --demo-data``); a test sends each one.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from rescore.api import examples as ex
from rescore.api.deps import Admin, ApiState, Reader, State, Writer, state_of
from rescore.api.guard import MalformedBody, fields_as_sent, strict_json
from rescore.api.hits import cached_response, json_response
from rescore.api.lookup import score_dict, view
from rescore.api.models import (
    MAX_BATCH,
    DeadLetterOut,
    ExplainOut,
    HealthOut,
    HistoryOut,
    IngestOut,
    PendingOut,
    PubSubEnvelope,
    ReadyOut,
    RequeueIn,
    RequeueOut,
    ScoreView,
)
from rescore.api.openapi import EVENTS_BODY
from rescore.api.shared import AUTH, POSTED, example_body, example_param, ok, settle_views
from rescore.engine import IngestResult
from rescore.exceptions import InvalidEvent, InvalidInput, TooLarge
from rescore.queue import DEAD

__all__ = ["LOOKUP_PATH", "router"]

router = APIRouter()

PackName = Annotated[
    str, Path(min_length=1, max_length=64, openapi_examples=example_param(ex.PACK))
]
EntityKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        openapi_examples=example_param(ex.CEDULA),
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
WaitTimeout = Annotated[float, Query(gt=0, le=30, description="Seconds ?wait=true may take.")]
Wait = Annotated[bool, Query(description="Answer once the touched scores are fresh.")]

#: How Pub/Sub's fields map to an event's (for errors that name what the caller sent).
PUBSUB_FIELDS = {
    "event_id": "message.messageId",
    "type": "message.data.event_type",
    "entity": "message.data.cedula",
    "occurred_at": "message.data.timestamp",
    "payload": "message.data",
    "pack": "message.attributes.pack",
}


# ingest ------------------------------------------------------------------------------------


@router.post(
    "/v1/events",
    response_model=IngestOut,
    tags=["events"],
    summary="Ingest one event or a batch (idempotent on event_id)",
    responses=ok(ex.INGESTED, *POSTED, 404, 409, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": EVENTS_BODY, "examples": example_body(ex.EVENT)}
            },
        }
    },
)
def post_events(
    who: Writer,
    state: State,
    body: Annotated[Any, Body(include_in_schema=False)],
    wait: Wait = False,
    timeout: WaitTimeout = 5.0,
) -> IngestOut:
    """Store events and queue their entities. A batch is **all or nothing**: one invalid event
    and nothing is stored (the error names each bad event and field). Events whose
    ``event_id`` is already stored are acknowledged as duplicates and not applied twice; an
    ``event_id`` reused for a different event is a 409. With ``?wait=true`` the touched
    entities are rescored before the answer (at most 100).

    An entity its pack's source does not have is named in ``warnings``; its event is stored,
    and rescoring it is a permanent failure: with ``?wait=true`` the answer comes at once,
    200 with ``fresh: false`` and the entity in ``dead_lettered`` with the reason (requeue it
    from the dead letter once the source has it)."""
    batch = body if isinstance(body, list) else [body]
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"at most {MAX_BATCH:,} events per request, got {len(batch):,}")
    with fields_as_sent({}, single=not isinstance(body, list)):
        result = state.engine.ingest(batch, tenant=who.tenant)
    return _ingest_out(state, result, wait, timeout)


def _ingest_out(state: ApiState, result: IngestResult, wait: bool, timeout: float) -> IngestOut:
    out = IngestOut.model_validate(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "queued": result.queued,
            "warnings": list(result.warnings),
        }
    )
    if wait:
        settled, views = settle_views(state, result, timeout)
        out.fresh = settled.fresh
        out.scores = [ScoreView.model_validate(v) for v in views]
        out.dead_lettered = [
            DeadLetterOut(pack=pack, entity=entity, reason=reason)
            for (_tenant, pack, entity), reason in sorted(settled.dead.items())
        ]
    return out


@router.post(
    "/v1/pubsub/push",
    response_model=IngestOut,
    tags=["events"],
    summary="Google Pub/Sub push endpoint (seed 000, option 1)",
    responses=ok(ex.INGESTED, *POSTED, 404, 409, 503),
)
def pubsub_push(
    who: Writer,
    state: State,
    envelope: Annotated[PubSubEnvelope, Body(openapi_examples=example_body(ex.PUBSUB))],
    wait: Wait = False,
    timeout: WaitTimeout = 5.0,
) -> IngestOut:
    """Map a push message to an event: ``message.data`` is base64 JSON with ``event_type`` and
    ``cedula`` (or ``entity``); ``messageId`` becomes the event id, so Pub/Sub's redeliveries
    are acknowledged as duplicates; ``timestamp`` (else ``publishTime``) is when it happened;
    every other field goes into the payload. An optional ``pack`` attribute picks the pack.
    Errors name the fields as sent (``message.data.cedula``, not ``entity``)."""
    with fields_as_sent(PUBSUB_FIELDS):
        event = _event_from_pubsub(envelope)
        result = state.engine.ingest([event], tenant=who.tenant)
    return _ingest_out(state, result, wait, timeout)


def _event_from_pubsub(envelope: PubSubEnvelope) -> dict[str, Any]:
    message = envelope.message
    data = _pubsub_data(message.data)
    if not message.message_id:
        raise InvalidEvent("messageId is required (it makes redelivery safe)", field="event_id")
    entity = data.pop("cedula", None) or data.pop("entity", None)
    event_type = data.pop("event_type", None) or data.pop("event", None)
    if not isinstance(entity, str) or not entity:
        raise InvalidEvent("needs a 'cedula' (or 'entity') string", field="entity")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEvent("needs an 'event_type' string", field="type")
    occurred = data.pop("timestamp", None) or message.publish_time or datetime.now(UTC)
    pack = (message.attributes or {}).get("pack")
    return {
        "event_id": message.message_id,
        "type": event_type,
        "entity": entity,
        "occurred_at": occurred,
        "payload": data,
        **({"pack": pack} if pack else {}),
    }


def _pubsub_data(data: str) -> dict[str, Any]:
    try:
        decoded = strict_json(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError, MalformedBody) as exc:
        reason = exc.message if isinstance(exc, MalformedBody) else "is not base64"
        raise InvalidInput(
            f"must be base64 of a JSON object ({reason.replace('the body', 'it')})",
            field="message.data",
        ) from exc
    if not isinstance(decoded, dict):
        raise InvalidInput("must decode to a JSON object", field="message.data")
    return decoded


# scores ------------------------------------------------------------------------------------


#: The lookup route's path (:class:`rescore.api.hits.CachedHits` answers its cache hits).
LOOKUP_PATH = "/v1/scores/{pack}/{entity}"


@router.get(
    LOOKUP_PATH,
    response_model=ScoreView,
    tags=["scores"],
    summary="Current scores with breakdown and freshness, or as of a past time",
    responses=ok(ex.SCORES, *AUTH, 404, 503),
)
async def get_scores(
    who: Reader,
    state: State,
    pack: PackName,
    entity: EntityKey,
    as_of: Annotated[datetime | None, Query(description="Time travel (ISO 8601).")] = None,
) -> Response:
    """Answers from the in-process cache, else the database; when the database is unreachable,
    from the cache or the last snapshot with ``stale: true`` (never a 500)."""
    key = (who.tenant, pack, entity)
    if as_of is not None:
        return json_response(await run_in_threadpool(_as_of_view, state, key, _utc(as_of)))
    hit = cached_response(state, key)  # CachedHits answers most hits before routing
    if hit is not None:
        return hit
    state.engine.registry[pack]
    return json_response(await run_in_threadpool(state.lookup.get, key))


def _utc(at: datetime) -> datetime:
    """``at`` in UTC (naive is UTC); a time that leaves the calendar once converted is the
    caller's mistake, not a server error."""
    try:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("is out of range once converted to UTC", field="query.as_of") from None


def _as_of_view(state: ApiState, key: tuple[str, str, str], at: datetime) -> dict[str, Any]:
    tenant, pack, entity = key
    found = state.engine.as_of(pack, entity, at, tenant=tenant)
    scores = {
        n: score_dict(
            e.after, e.components, e.reasons, e.version, e.watermark, e.changed_at, e.changed_at
        )
        for n, e in found.items()
    }
    newest = max(e.changed_at for e in found.values())
    return view(tenant, pack, entity, scores) | {
        "age_seconds": round((at - newest).total_seconds(), 3),
        "pending": False,
        "stale": False,
        "stale_since": None,
        "source": "database",
    }


@router.get(
    "/v1/scores/{pack}/{entity}/history",
    response_model=HistoryOut,
    tags=["scores"],
    summary="Every change of an entity's scores, newest first (paged)",
    responses=ok(ex.HISTORY, *AUTH, 404, 503),
)
def get_history(
    who: Reader,
    state: State,
    pack: PackName,
    entity: EntityKey,
    limit: Limit = 50,
    offset: Offset = 0,
    scorer: Annotated[str | None, Query(max_length=64)] = None,
) -> HistoryOut:
    rows = state.engine.history(
        pack, entity, tenant=who.tenant, scorer=scorer, limit=limit, offset=offset
    )
    items = [
        {
            "id": r.id,
            "scorer": r.scorer,
            "version": r.version,
            "before": r.before,
            "after": r.after,
            "deltas": dict(r.deltas),
            "components": dict(r.components),
            "reasons": list(r.reasons),
            "event_ids": list(r.event_ids),
            "watermark": r.watermark,
            "changed_at": r.changed_at.isoformat(),
        }
        for r in rows
    ]
    return HistoryOut.model_validate({"items": items, "limit": limit, "offset": offset})


@router.get(
    "/v1/scores/{pack}/{entity}/explain",
    response_model=ExplainOut,
    tags=["scores"],
    summary="Why did this entity's score change? Component deltas and causing events",
    responses=ok(ex.EXPLAINED, *AUTH, 404, 503),
)
def get_explain(
    who: Reader,
    state: State,
    pack: PackName,
    entity: EntityKey,
    limit: Limit = 20,
    offset: Offset = 0,
) -> ExplainOut:
    found = state.engine.explain(pack, entity, tenant=who.tenant, limit=limit, offset=offset)
    return ExplainOut.model_validate(found.as_dict())


# the queue ---------------------------------------------------------------------------------


def _pending_out(
    state: ApiState, tenant: str, status: str | None, limit: int, offset: int
) -> PendingOut:
    engine = state.engine
    counts = engine.pending_counts(tenant=tenant)
    rows = engine.pending_items(tenant=tenant, state=status, limit=limit, offset=offset)
    items = [
        {
            "pack": w.pack,
            "entity": w.entity,
            "lane": w.lane.value,
            "priority": w.priority,
            "state": w.state,
            "attempts": w.attempts,
            "last_error": w.last_error,
            "first_seq": w.first_seq,
            "watermark": w.watermark,
            "enqueued_at": w.enqueued_at.isoformat() if w.enqueued_at else None,
        }
        for w in rows
    ]
    return PendingOut.model_validate({"counts": counts, "items": items})


@router.get(
    "/v1/pending",
    response_model=PendingOut,
    tags=["queue"],
    summary="Work waiting to be rescored, by lane",
    responses=ok(ex.PENDING, *AUTH, 503),
)
def get_pending(
    who: Admin,
    state: State,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PendingOut:
    return _pending_out(state, who.tenant, None, limit, offset)


@router.get(
    "/v1/dead-letter",
    response_model=PendingOut,
    tags=["queue"],
    summary="Entities whose rescoring failed max_attempts times",
    responses=ok(ex.DEAD_LETTER, *AUTH, 503),
)
def get_dead_letter(
    who: Admin,
    state: State,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PendingOut:
    return _pending_out(state, who.tenant, DEAD, limit, offset)


@router.post(
    "/v1/dead-letter/requeue",
    response_model=RequeueOut,
    tags=["queue"],
    summary="Put dead-lettered entities back in line (all, a pack's, or one entity)",
    responses=ok(ex.REQUEUED, *POSTED, 404, 503),
)
def post_requeue(
    who: Admin,
    state: State,
    body: Annotated[RequeueIn, Body(openapi_examples=example_body(ex.REQUEUE))] = RequeueIn(),  # noqa: B008
) -> RequeueOut:
    count = state.engine.requeue_dead(tenant=who.tenant, pack=body.pack, entity=body.entity)
    return RequeueOut(requeued=count)


# health ------------------------------------------------------------------------------------


@router.get(
    "/healthz", response_model=HealthOut, tags=["health"], summary="Alive", responses=ok(ex.HEALTH)
)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    tags=["health"],
    summary="Database reachable, workers alive, lanes not lagging",
    responses=ok(ex.READY) | {503: {"model": ReadyOut, "description": "Not ready"}},
)
def readyz(request: Request, response: Response) -> ReadyOut:
    state = state_of(request)
    database = state.engine.ping()
    lag = state.engine.lane_lag() if database else {"critical": 0.0, "normal": 0.0}
    limits = _max_lag(state)
    workers = state.runtime.alive if state.runtime is not None else None
    ready = database and workers is not False and all(lag[k] <= limits[k] for k in lag)
    if not ready:
        response.status_code = 503
    return ReadyOut(
        ready=ready, database=database, workers=workers, lag_seconds=lag, max_lag_seconds=limits
    )


def _max_lag(state: ApiState) -> dict[str, float]:
    settings = state.settings
    return {
        "critical": settings.max_critical_lag,
        "normal": settings.flush_interval * 3 + settings.max_critical_lag,
    }
