"""Events: what happened to which entity. They trigger rescoring and form the audit trail.

An event is ``{event_id, type, entity, occurred_at, payload}`` plus an optional ``pack`` (needed
only when two packs declare the same type). Validation is all or nothing: one bad event in a
batch refuses the batch, with every problem named by position and field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from rescore.exceptions import InvalidEvent

__all__ = ["Event", "EventIn", "parse_events", "read_events_file"]

#: How many problems one error message lists before it says "and N more".
MAX_LISTED_ERRORS = 10

Identifier = Annotated[StrictStr, Field(min_length=1, max_length=128)]
TypeName = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class EventIn(BaseModel):
    """An event as a caller sends it (JSON or a CSV row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier
    type: TypeName
    entity: Identifier
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    pack: TypeName | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        """A naive time is taken as UTC: sources that omit the zone nearly always mean UTC."""
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("event_id", "entity")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """An event accepted into the store: routed to its pack and given its sequence number."""

    seq: int
    event_id: str
    tenant: str
    pack: str
    type: str
    entity: str
    lane: str
    occurred_at: datetime
    received_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


def parse_events(raws: Iterable[Any], *, label: str = "event") -> list[EventIn]:
    """Validate a batch; raise :class:`InvalidEvent` naming every bad position and field."""
    parsed: list[EventIn] = []
    problems: list[str] = []
    for index, raw in enumerate(raws, start=1):
        if isinstance(raw, EventIn):
            parsed.append(raw)
            continue
        try:
            if not isinstance(raw, Mapping):
                raise InvalidEvent(f"must be an object, not {type(raw).__name__}")
            parsed.append(EventIn.model_validate(dict(raw)))
        except ValidationError as exc:
            problems.extend(f"{label} {index}: {_where(e)}: {e['msg']}" for e in exc.errors())
        except InvalidEvent as exc:
            problems.append(f"{label} {index}: {exc.message}")
    if problems:
        raise InvalidEvent(_summary(problems), field=_first_field(problems), problems=problems)
    return parsed


def _where(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "event"


def _first_field(problems: Sequence[str]) -> str | None:
    parts = problems[0].split(": ")
    return parts[1] if len(parts) > 2 else None


def _summary(problems: Sequence[str]) -> str:
    listed = "; ".join(problems[:MAX_LISTED_ERRORS])
    more = len(problems) - MAX_LISTED_ERRORS
    tail = f"; and {more} more" if more > 0 else ""
    return f"{len(problems)} problem(s), nothing was stored: {listed}{tail}"


def read_events_file(text: str, fmt: str) -> list[EventIn]:
    """Parse a JSON-lines or CSV file of events (CSV ``payload`` is a JSON object)."""
    if fmt == "jsonl":
        return parse_events(_jsonl_rows(text))
    if fmt == "csv":
        return parse_events(_csv_rows(text))
    raise InvalidEvent(f"unknown format {fmt!r}: use jsonl or csv", field="format")


def _jsonl_rows(text: str) -> list[Any]:
    rows: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"line {number} is not JSON: {exc}", field="line") from exc
    return rows


def _csv_rows(text: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        clean: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v != ""}
        if "payload" in clean:
            try:
                clean["payload"] = orjson.loads(clean["payload"])
            except orjson.JSONDecodeError as exc:
                raise InvalidEvent(f"row {number}: payload is not JSON", field="payload") from exc
        rows.append(clean)
    return rows
