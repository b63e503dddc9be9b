"""Seed 000's HTTP contracts, as the lender's systems (n8n workflows, the scoring API) call them.

- ``POST /update-score`` ``{cedula, event_type, event_data}``: record the event and rescore the
  client now; answers with the new scores and the measured processing time (option 2).
- ``POST /update-batch`` ``{cedulas: [...]}``: rescore up to 500 clients now (the seed's limit
  was 50 per request; 500 is ours, measured under half a second).
- ``POST /predict`` ``{cedula}``: the lookup contract of the seed's scoring API.

They are the credit pack's *contract routes* (``Pack.register_contract_routes``): served at the
root, as the seed's clients call them, the one documented exception to ``/v1/packs/<pack>``.
They share rescore's API keys and tenants, and their errors name the fields these contracts
use (``cedula``, ``event_type``, ``event_data``), not the event's.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from rescore.exceptions import EntityNotFound
from rescore.packs.credit import examples as ex
from rescore.packs.credit.event_types import EVENT_ROUTES
from rescore.packs.sdk import POSTED, Reader, State, Writer, example_body, fields_as_sent, ok
from rescore.packs.sdk import settle_and_view as settle

__all__ = ["MAX_BATCH_CEDULAS", "router"]

PACK = "credit"
MAX_BATCH_CEDULAS = 500
#: How an event's fields are named in /update-score's body (errors name what was sent).
UPDATE_SCORE_FIELDS = {"type": "event_type", "entity": "cedula", "payload": "event_data"}

Cedula = Annotated[StrictStr, Field(pattern=r"^[0-9]{5,15}$", examples=[ex.CEDULA])]


class UpdateScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    cedula: Cedula
    event_type: Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=64,
            json_schema_extra={"enum": sorted(EVENT_ROUTES)},
            description="One of the credit pack's event types.",
        ),
    ]
    event_data: dict[str, Any] = Field(
        default_factory=dict, description="The event's payload: finite numbers, 64-bit integers."
    )
    event_id: Annotated[StrictStr, Field(min_length=1, max_length=128)] | None = Field(
        None, description="Makes retries safe; generated when absent."
    )


class UpdateScoreOut(BaseModel):
    status: str
    cedula: str
    event_type: str
    event_id: str
    duplicate: bool
    fresh: bool = Field(description="The scores below reflect this event.")
    platam_score: float | None
    hybrid_score: float | None
    ml_probability_default: float | None = Field(
        description="Probability of default within 12 months, 0-1 (the default_probability "
        "score, which is in %, over 100); null without the ml extra."
    )
    scores: dict[str, float]
    updated_at: str | None
    processing_time_ms: float


class UpdateBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    cedulas: Annotated[list[Cedula], Field(min_length=1, max_length=MAX_BATCH_CEDULAS)]


class BatchItem(BaseModel):
    cedula: str
    status: str
    platam_score: float | None = None
    hybrid_score: float | None = None
    error: str | None = None


class UpdateBatchOut(BaseModel):
    total_processed: int
    successful: int
    failed: int
    results: list[BatchItem]
    processing_time_ms: float


class PredictIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    cedula: Cedula


class PredictOut(BaseModel):
    cedula: str
    platam_score: float | None
    hybrid_score: float | None
    ml_probability_default: float | None = Field(
        description="Probability of default within 12 months, 0-1 (the default_probability "
        "score, which is in %, over 100); null without the ml extra."
    )
    breakdown: dict[str, dict[str, float]]
    updated_at: str
    age_seconds: float
    stale: bool
    source: str


router = APIRouter(tags=["credit (seed 000 contracts)"])


def _value(view: dict[str, Any], scorer: str) -> float | None:
    found = view["scores"].get(scorer)
    return None if found is None else float(found["value"])


def _probability(view: dict[str, Any] | None) -> float | None:
    """The PD score (%) as seed 000's ``ml_probability_default`` (0-1)."""
    percent = _value(view, "default_probability") if view else None
    return None if percent is None else round(percent / 100.0, 6)


@router.post(
    "/update-score",
    response_model=UpdateScoreOut,
    responses=ok(ex.UPDATED, *POSTED, 404, 409, 503),
)
def update_score(
    body: Annotated[UpdateScoreIn, Body(openapi_examples=example_body(ex.UPDATE_SCORE))],
    who: Writer,
    state: State,
) -> UpdateScoreOut:
    """Record the event and rescore the client now (read-after-write)."""
    started = time.perf_counter()
    engine = state.engine
    known = engine.known_entities(PACK, [body.cedula])
    if known is not None and body.cedula not in known:
        raise EntityNotFound(f"no client {body.cedula} in the credit source", field="cedula")
    event_id = body.event_id or f"update-score-{uuid.uuid4()}"
    event = {
        "event_id": event_id,
        "type": body.event_type,
        "entity": body.cedula,
        "occurred_at": datetime.now(UTC),
        "payload": body.event_data,
        "pack": PACK,
    }
    with fields_as_sent(UPDATE_SCORE_FIELDS):
        result = engine.ingest([event], tenant=who.tenant)
        fresh, views = settle(state, result, timeout=10.0)
    view = views[0] if views else _current_or_none(state, who.tenant, body.cedula)
    return UpdateScoreOut(
        status="success",
        cedula=body.cedula,
        event_type=body.event_type,
        event_id=event_id,
        duplicate=result.duplicates > 0,
        fresh=fresh,
        platam_score=_value(view, "platam") if view else None,
        hybrid_score=_value(view, "hybrid") if view else None,
        ml_probability_default=_probability(view),
        scores={n: s["value"] for n, s in view["scores"].items()} if view else {},
        updated_at=view["updated_at"] if view else None,
        processing_time_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _current_or_none(state: Any, tenant: str, cedula: str) -> dict[str, Any] | None:
    try:
        view: dict[str, Any] = state.lookup.get((tenant, PACK, cedula))
    except EntityNotFound:
        return None
    return view


@router.post("/update-batch", response_model=UpdateBatchOut, responses=ok(ex.BATCHED, *POSTED, 503))
def update_batch(
    body: Annotated[UpdateBatchIn, Body(openapi_examples=example_body(ex.UPDATE_BATCH))],
    who: Writer,
    state: State,
) -> UpdateBatchOut:
    """Rescore up to 500 clients now, every scorer; one unknown cédula fails alone."""
    started = time.perf_counter()
    cedulas = list(dict.fromkeys(body.cedulas))
    report = state.engine.recompute(PACK, cedulas, tenant=who.tenant)
    done = {o.entity: o.values for o in report.outcomes}
    failed = {f.work.entity: f.error for f in report.failures}
    results = []
    for cedula in cedulas:
        if cedula in failed:
            results.append(BatchItem(cedula=cedula, status="error", error=failed[cedula]))
            continue
        values = done[cedula]
        results.append(
            BatchItem(
                cedula=cedula,
                status="success",
                platam_score=values.get("platam"),
                hybrid_score=values.get("hybrid"),
            )
        )
    return UpdateBatchOut(
        total_processed=len(cedulas),
        successful=len(done),
        failed=len(failed),
        results=results,
        processing_time_ms=round((time.perf_counter() - started) * 1000, 2),
    )


@router.post("/predict", response_model=PredictOut, responses=ok(ex.PREDICTED, *POSTED, 404, 503))
async def predict(
    body: Annotated[PredictIn, Body(openapi_examples=example_body(ex.PREDICT))],
    who: Reader,
    state: State,
) -> PredictOut:
    """The client's current scores and breakdown, with freshness (cache, database, snapshot)."""
    key = (who.tenant, PACK, body.cedula)
    view = state.lookup.cached(key)
    if view is None:
        with fields_as_sent({"entity": "cedula"}):
            view = await run_in_threadpool(state.lookup.get, key)
    return PredictOut(
        cedula=body.cedula,
        platam_score=_value(view, "platam"),
        hybrid_score=_value(view, "hybrid"),
        ml_probability_default=_probability(view),
        breakdown={n: s["components"] for n, s in view["scores"].items()},
        updated_at=view["updated_at"],
        age_seconds=view["age_seconds"],
        stale=view["stale"],
        source=view["source"],
    )
