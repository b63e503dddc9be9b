"""Events: what happened to which entity. They trigger rescoring and form the audit trail.

An event is ``{event_id, type, entity, occurred_at, payload}`` plus an optional ``pack`` (needed
only when two packs declare the same type). Validation is all or nothing: one bad event in a
batch refuses the batch, with every problem named by position and field.

What is almost certainly a mistake is refused rather than stored: a number as ``occurred_at``
(pydantic would read it as Unix time), a time that overflows once converted to UTC, control
characters (NUL) in ids. Payloads are checked where ingest serializes them
(:mod:`rescore.ingest`, with :func:`json_problem`).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from rescore.exceptions import InvalidEvent, Problem

__all__ = [
    "Event",
    "EventIn",
    "invalid",
    "join",
    "json_problem",
    "parse_events",
    "read_events_file",
]

#: How many problems one error message lists before it says "and N more".
MAX_LISTED_ERRORS = 10

Identifier = Annotated[StrictStr, Field(min_length=1, max_length=128)]
TypeName = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]

#: Integers a payload may carry: what the JSON encoder of every store (orjson) writes exactly.
INT64 = (-(2**63), 2**64 - 1)
#: Nesting a payload may have (deeper is a mistake or an attack, never a business event).
MAX_DEPTH = 32

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class EventIn(BaseModel):
    """An event as a caller sends it (JSON or a CSV row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier
    type: TypeName
    entity: Identifier
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    pack: TypeName | None = None

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _not_a_number(cls, value: Any) -> Any:
        """pydantic reads a number (or a numeric string) as Unix time; a producer that sends
        one has almost always made a mistake (milliseconds, a row id), so refuse it."""
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
            raise PydanticCustomError(
                "datetime_type",
                "must be an ISO 8601 time such as 2026-01-23T10:30:00Z, not a number",
            )
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        """A naive time is taken as UTC: sources that omit the zone nearly always mean UTC."""
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise PydanticCustomError(
                "datetime_range", "is out of range once converted to UTC"
            ) from None

    @field_validator("event_id", "entity")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("value_error", "must not be blank")
        if _CONTROL.search(value):
            raise PydanticCustomError("value_error", "must not contain control characters")
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
    problems: list[Problem] = []
    for index, raw in enumerate(raws, start=1):
        try:
            event = raw if isinstance(raw, EventIn) else _validate(raw)
        except ValidationError as exc:
            problems.extend(
                Problem(index=index, field=_where(e), message=e["msg"]) for e in exc.errors()
            )
            continue
        except InvalidEvent as exc:
            problems.append(Problem(index=index, field="", message=exc.message))
            continue
        parsed.append(event)
    if problems:
        raise invalid(problems, label=label)
    return parsed


def _validate(raw: Any) -> EventIn:
    if not isinstance(raw, Mapping):
        raise InvalidEvent(f"must be an object, not {type(raw).__name__}")
    return EventIn.model_validate(dict(raw))


def invalid(problems: Sequence[Problem], *, label: str = "event") -> InvalidEvent:
    """One error for a list of problems: a summary for people, the problems for programs."""
    labelled = [
        Problem(index=p.index, field=p.field, message=p.message, label=label) for p in problems
    ]
    return InvalidEvent(
        _summary([str(p) for p in labelled]), field=problems[0].field, problems=labelled
    )


def json_problem(value: Any) -> tuple[str, str] | None:
    """The first value JSON cannot carry faithfully, as (dotted path, message), or None.

    NaN and infinities (``1e400`` parses as infinity) would be stored as null; integers beyond
    64 bits break the JSON encoders of every store; deep nesting is never a business event."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path, f"{item} is not a finite number"
        if (
            isinstance(item, int)
            and not isinstance(item, bool)
            and not INT64[0] <= item <= INT64[1]
        ):
            return path, "integer does not fit in 64 bits: send it as a string"
        if isinstance(item, Mapping | list) and depth >= MAX_DEPTH:
            return path, f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, Mapping):
            stack.extend((v, join(path, str(k)), depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, join(path, str(i)), depth + 1) for i, v in enumerate(item))
    return None


def join(path: str, key: str) -> str:
    """A dotted field path: ``join("payload", "amount")`` is ``payload.amount``."""
    return f"{path}.{key}" if path and key else path or key


def _where(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "event"


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
