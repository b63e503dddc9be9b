"""The HTTP API's request and response models: strict on the way in, complete on the way out.

Strict types matter at this edge: pydantic's lax mode would take ``false`` for a number or
``"12"`` for an integer; here a wrong type is a 422 that names the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

__all__ = [
    "MAX_BATCH",
    "DeadLetterOut",
    "ErrorOut",
    "ExplainOut",
    "HealthOut",
    "HistoryOut",
    "IngestOut",
    "PendingOut",
    "PubSubEnvelope",
    "ReadyOut",
    "RequeueIn",
    "RequeueOut",
    "ScoreView",
]

#: Events per POST /v1/events request; a larger batch is refused with 413.
MAX_BATCH = 10_000

Name = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Key = Annotated[StrictStr, Field(min_length=1, max_length=128)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorOut(BaseModel):
    """Every error rescore itself answers: a message that says what to do, and the field."""

    detail: str
    field: str | None = None


class Queued(BaseModel):
    critical: int
    normal: int


class ScoreOut(BaseModel):
    value: float
    components: dict[str, float]
    reasons: list[str]
    version: str | None
    watermark: int
    changed_at: str
    computed_at: str


class ScoreView(BaseModel):
    """An entity's current scores and how fresh they are."""

    tenant: str
    pack: str
    entity: str
    scores: dict[str, ScoreOut]
    versions: dict[str, str | None]
    watermark: int = Field(description="Sequence of the newest event these scores reflect.")
    updated_at: str = Field(description="When the scores were last computed (ISO 8601, UTC).")
    age_seconds: float = Field(description="Seconds since updated_at, at answer time.")
    pending: bool = Field(description="Events are accepted for this entity but not reflected.")
    stale: bool = Field(
        description="True when the answer may miss accepted events: work is pending, or the "
        "database is unreachable and the answer comes from the cache or the last snapshot."
    )
    stale_since: str | None = Field(
        None,
        description="While the database is unreachable: since when this process knows it "
        "(ISO 8601, UTC); every answer meanwhile is stale.",
    )
    source: Literal["cache", "database", "snapshot"]


class DeadLetterOut(BaseModel):
    pack: str
    entity: str
    reason: str = Field(description="Why rescoring it failed for good (see /v1/dead-letter).")


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    queued: Queued
    warnings: list[str] = Field(
        default_factory=list,
        description="E.g. an entity the pack's source does not have (its event is stored and "
        "dead-lettered when rescored).",
    )
    fresh: bool | None = Field(
        None, description="With ?wait=true: whether every critical entity was rescored in time."
    )
    scores: list[ScoreView] | None = Field(
        None, description="With ?wait=true: the fresh scores of the entities the batch touched."
    )
    dead_lettered: list[DeadLetterOut] | None = Field(
        None,
        description="With ?wait=true: touched entities whose rescoring failed for good (e.g. "
        "not in the source); their events are stored. fresh is false when any is.",
    )


class PubSubMessage(Strict):
    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)

    data: StrictStr = Field(
        description="Base64 of a JSON object: event_type, cedula (or entity), timestamp and "
        "any other field, which goes into the payload.",
        json_schema_extra={"contentEncoding": "base64", "contentMediaType": "application/json"},
    )
    message_id: StrictStr | None = Field(None, alias="messageId")
    publish_time: StrictStr | None = Field(None, alias="publishTime")
    attributes: dict[str, StrictStr] | None = None


class PubSubEnvelope(Strict):
    """Google Pub/Sub's push body (seed 000, option 1)."""

    model_config = ConfigDict(extra="allow", strict=True)

    message: PubSubMessage
    subscription: StrictStr | None = None


class ChangeOut(BaseModel):
    id: int
    scorer: str
    version: str
    before: float | None
    after: float
    deltas: dict[str, float]
    components: dict[str, float]
    reasons: list[str]
    event_ids: list[str]
    watermark: int
    changed_at: str


class HistoryOut(BaseModel):
    items: list[ChangeOut]
    limit: int
    offset: int


class CauseOut(BaseModel):
    event_id: str
    type: str
    lane: str
    occurred_at: str
    payload: dict[str, Any]


class ExplainedChange(BaseModel):
    scorer: str
    version: str
    before: float | None
    after: float
    deltas: dict[str, float]
    reasons: list[str]
    changed_at: str
    events: list[CauseOut]


class CurrentOut(BaseModel):
    value: float
    components: dict[str, float]
    version: str


class ExplainOut(BaseModel):
    pack: str
    entity: str
    current: dict[str, CurrentOut]
    changes: list[ExplainedChange]


class PendingItem(BaseModel):
    pack: str
    entity: str
    lane: str
    priority: int
    state: str
    attempts: int
    last_error: str | None
    first_seq: int
    watermark: int
    enqueued_at: str | None


class PendingOut(BaseModel):
    counts: dict[str, int]
    items: list[PendingItem]


class RequeueIn(Strict):
    pack: Name | None = None
    entity: Key | None = None


class RequeueOut(BaseModel):
    requeued: int


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    ready: bool
    database: bool
    workers: bool | None = Field(description="None when this process runs no workers.")
    lag_seconds: dict[str, float] = Field(
        description="Age of the oldest unfinished work (waiting or claimed), by lane; dead "
        "letters and retries not yet due do not count."
    )
    max_lag_seconds: dict[str, float]
