"""From validated events to the rows ingest stores, and the checks that need the whole batch.

:meth:`rescore.engine.Engine.ingest` calls these; they are apart to keep the engine short.

- Each event is routed (its pack and lane) and its **digest** computed: a hash of what it says
  (pack, type, entity, payload). The time is left out on purpose: a producer that retries may
  stamp a new time on the same event (seed 000's ``/update-score`` does).
- An ``event_id`` seen twice with different digests, in one batch or against a stored event,
  is a :class:`EventConflict` (409): silently keeping the first would lose the second.
- What the settings bound is refused: a payload larger than ``max_payload_bytes`` (413), an
  ``occurred_at`` outside the window ``max_event_age_days`` back to ``max_event_lead_seconds``
  ahead (422).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.schema import events
from rescore.events import MAX_DEPTH, EventIn, invalid, join, json_problem
from rescore.exceptions import (
    EventConflict,
    Problem,
    StorageUnavailable,
    TooLarge,
    UnknownEventType,
)
from rescore.routing import Router
from rescore.settings import Settings
from rescore.store import chunks

log = logging.getLogger(__name__)

__all__ = [
    "MAX_WARNINGS",
    "Limits",
    "Recent",
    "digest",
    "event_rows",
    "refuse_reused_ids",
    "unknown_warnings",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """The bounds an event must respect, from :class:`Settings`."""

    max_payload_bytes: int
    max_age: timedelta
    max_lead: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_payload_bytes=settings.max_payload_bytes,
            max_age=timedelta(days=settings.max_event_age_days),
            max_lead=timedelta(seconds=settings.max_event_lead_seconds),
        )


def digest(pack: str, type_: str, entity: str, payload_json: bytes) -> str:
    """What an event says, hashed (BLAKE2b, 128 bits, hex): equal digests mean the same event.
    NUL separates the parts: no id, type or pack may contain one."""
    head = f"{pack}\0{type_}\0{entity}\0".encode()
    return hashlib.blake2b(head + payload_json, digest_size=16).hexdigest()


def event_rows(
    parsed: Sequence[EventIn], *, router: Router, tenant: str, now: datetime, limits: Limits
) -> list[dict[str, Any]]:
    """The rows to insert, one per distinct ``event_id``; raise for any event that cannot be
    stored (every problem of the batch at once)."""
    rows: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    window = _window(now, limits)
    for index, event in enumerate(parsed, start=1):
        try:
            resolved = router.resolve(event.type, event.pack)
        except UnknownEventType as exc:
            problems.append(Problem(index=index, field=exc.field or "type", message=exc.message))
            continue
        if window is not None and not window[0] <= event.occurred_at <= window[1]:
            problems.append(_out_of_window(index, event.occurred_at, window))
        payload, bad = _payload_json(event.payload)
        if bad is not None:
            where, message = bad
            problems.append(Problem(index=index, field=join("payload", where), message=message))
            continue
        if len(payload) > limits.max_payload_bytes:
            raise TooLarge(
                f"event {index}: the payload is {len(payload):,} bytes; at most "
                f"{limits.max_payload_bytes:,} are accepted (RESCORE_MAX_PAYLOAD_BYTES)",
                field="payload",
            )
        row = {
            "event_id": event.event_id,
            "tenant": tenant,
            "pack": resolved.pack,
            "type": event.type,
            "entity": event.entity,
            "lane": resolved.route.lane.value,
            "occurred_at": event.occurred_at,
            "received_at": now,
            "payload": event.payload,
            "digest": digest(resolved.pack, event.type, event.entity, payload),
        }
        first = rows.setdefault(event.event_id, row)
        if first["digest"] != row["digest"]:
            raise EventConflict(
                f"event {index} reuses event_id {event.event_id!r} of an earlier event of this "
                "batch with a different body: give each event its own id (nothing was stored)",
                field="event_id",
            )
    if problems:
        raise invalid(problems)
    return list(rows.values())


def _window(now: datetime, limits: Limits) -> tuple[datetime, datetime] | None:
    try:
        return now - limits.max_age, now + limits.max_lead
    except OverflowError:  # a window wider than the calendar: nothing to refuse
        return None


def _out_of_window(index: int, at: datetime, window: tuple[datetime, datetime]) -> Problem:
    oldest, latest = window
    message = (
        f"{at.isoformat()} is outside the accepted window {oldest:%Y-%m-%dT%H:%MZ} to "
        f"{latest:%Y-%m-%dT%H:%MZ} (RESCORE_MAX_EVENT_AGE_DAYS, RESCORE_MAX_EVENT_LEAD_SECONDS)"
    )
    return Problem(index=index, field="occurred_at", message=message)


def _payload_json(payload: Mapping[str, Any]) -> tuple[bytes, tuple[str, str] | None]:
    """The payload as canonical JSON (sorted keys, for the digest), or the first value JSON
    cannot carry faithfully. Fast path: orjson refuses integers beyond 64 bits itself; the
    full walk runs only when the output could hide a problem (a ``null`` may be a NaN or an
    infinity; enough brackets may be too deep a nesting)."""
    try:
        dumped = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return b"", json_problem(payload) or ("", "cannot be stored as JSON")
    if b"null" in dumped or dumped.count(b"{") + dumped.count(b"[") > MAX_DEPTH:
        return dumped, json_problem(payload)
    return dumped, None


def refuse_reused_ids(
    conn: Connection, rows: Sequence[Mapping[str, Any]], new: Mapping[str, int]
) -> None:
    """Raise :class:`EventConflict` when an event that was not new has a stored twin with a
    different digest. One query, and only when the batch had duplicates (rows stored before
    digests existed have none and count as the same event)."""
    ours = {row["event_id"]: row["digest"] for row in rows if row["event_id"] not in new}
    if not ours:
        return
    tenant = rows[0]["tenant"]
    for part in chunks(sorted(ours)):
        query = sa.select(events.c.event_id, events.c.digest).where(
            events.c.tenant == tenant, events.c.event_id.in_(part)
        )
        for event_id, stored in conn.execute(query):
            if stored is not None and stored != ours[event_id]:
                raise EventConflict(
                    f"event_id {event_id!r} is already stored for a different event (another "
                    "type, entity or payload): give this event its own id (nothing was stored)",
                    field="event_id",
                )


class Recent:
    """A bounded set that forgets its oldest members: the entities ingest recently found in
    their pack's source, so a busy stream asks the source only about entities it has not
    seen lately (the unknown-entity warning is a courtesy, not a guarantee)."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def add(self, items: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            for item in items:
                self._items[item] = None
                self._items.move_to_end(item)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


#: Warnings one ingest answer carries at most (the rest are counted).
MAX_WARNINGS = 20


def unknown_warnings(
    rows: Sequence[Mapping[str, Any]],
    *,
    known_of: Callable[[str, Sequence[str]], set[str] | None],
    label_of: Callable[[str], str],
    recent: Recent,
) -> tuple[str, ...]:
    """Warnings for the entities of ``rows`` their pack's source does not have, asking
    ``known_of(pack, entities)`` only about entities not seen there lately."""
    by_pack: dict[str, set[str]] = {}
    for row in rows:
        by_pack.setdefault(row["pack"], set()).add(row["entity"])
    warnings: list[str] = []
    for pack, seen in sorted(by_pack.items()):
        entities = {e for e in seen if (pack, e) not in recent}
        if not entities:
            continue
        try:
            known = known_of(pack, sorted(entities))
        except StorageUnavailable as exc:  # the warning is a courtesy; ingest goes on
            log.warning("could not check %s entities against the source: %s", pack, exc)
            continue
        recent.add((pack, e) for e in known or ())
        warnings.extend(
            f"no {label_of(pack)} {e!r} in the {pack} source data: its events are stored, and "
            "rescoring it dead-letters it"
            for e in sorted(entities - (entities if known is None else known))
        )
    if len(warnings) > MAX_WARNINGS:
        more = len(warnings) - MAX_WARNINGS
        warnings = [*warnings[:MAX_WARNINGS], f"... and {more} more unknown entities"]
    return tuple(warnings)
