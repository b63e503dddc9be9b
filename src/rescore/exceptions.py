"""Every error rescore raises on purpose.

The hierarchy::

    RescoreError                      (500)  exit 1
    ├── ConfigurationError            (500)  exit 2: only the user can fix it (URL, path, setting)
    ├── InvalidInput                  (422)  exit 1: bad data from a caller; names the field
    │   ├── InvalidEvent              (422)  an event that cannot be accepted
    │   └── UnknownEventType          (422)  a type no loaded pack routes
    ├── TooLarge                      (413)  a body, payload or batch over its limit
    ├── Conflict                      (409)
    │   └── EventConflict             (409)  an event_id reused for a different event
    ├── NotFound                      (404)
    │   ├── UnknownPack               (404)
    │   ├── UnknownScorer             (404)
    │   └── EntityNotFound            (404)  the source has no such entity
    ├── PluginError                   (500)  a pack is malformed or clashes with another
    ├── BackupError                   (500)  a backup could not be made, read or restored
    │   └── BackupMismatch            (500)  data differs from the backup's manifest
    ├── ServiceUnavailable            (503)  exit 75: a service is down; retrying will help
    │   ├── StorageUnavailable        (503)  the database cannot be reached
    │   └── WriteConflict             (503)  a deadlock victim, still conflicting after retries
    └── ScoringError                  (500)  a scorer failed or broke its contract

Each subclass's docstring is its default message and each carries the ``http_status`` that the
HTTP layer answers with and the ``exit_code`` the CLI exits with, so one handler serves each
front end. Invalid input may carry its :class:`Problem` list (one per bad field, with the
event's position in a batch), so each front end can name every field the way its caller sent
it. Driver and OS errors are converted to these by one table (``rescore.boundary``):
callers never see a driver exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "STORAGE_RETRYABLE",
    "BackupError",
    "BackupMismatch",
    "ConfigurationError",
    "Conflict",
    "EntityNotFound",
    "EventConflict",
    "InvalidEvent",
    "InvalidInput",
    "NotFound",
    "PluginError",
    "Problem",
    "RescoreError",
    "ScoringError",
    "ServiceUnavailable",
    "StorageUnavailable",
    "TooLarge",
    "UnknownEventType",
    "UnknownPack",
    "UnknownScorer",
    "WriteConflict",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    """One bad field of a refused input: ``index`` is the 1-based position in a batch (None
    for a single item), ``field`` a dotted path (``payload.amount``). Printed as the CLI shows
    it: ``event 2: occurred_at: must be an ISO 8601 time ...``."""

    field: str
    message: str
    index: int | None = None
    label: str = "event"

    def __str__(self) -> str:
        where = f"{self.label} {self.index}: " if self.index is not None else ""
        return f"{where}{self.field}: {self.message}" if self.field else where + self.message


class RescoreError(Exception):
    """Something went wrong in rescore."""

    http_status = 500
    exit_code = 1

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.field = field
        #: Each problem when a batch was refused whole (nothing of it was stored): the CLI
        #: prints them one a line, the HTTP API as FastAPI-shaped ``detail`` entries.
        self.problems = tuple(problems)
        super().__init__(f"{field}: {self.message}" if field else self.message)

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body (e.g. ``Retry-After``); none here."""
        return {}


class ConfigurationError(RescoreError):
    """rescore is not set up right; only a change of configuration fixes this."""

    exit_code = 2


class InvalidInput(RescoreError):
    """The input is not valid."""

    http_status = 422


class InvalidEvent(InvalidInput):
    """The event is not valid."""


class UnknownEventType(InvalidInput):
    """No loaded pack routes this event type."""


class TooLarge(RescoreError):
    """The request is larger than accepted; the message says the limit and its setting."""

    http_status = 413


class Conflict(RescoreError):
    """The request conflicts with what is stored."""

    http_status = 409


class EventConflict(Conflict):
    """This event_id is already used by a different event."""


class NotFound(RescoreError):
    """Not found."""

    http_status = 404


class UnknownPack(NotFound):
    """No pack of that name is loaded."""


class UnknownScorer(NotFound):
    """No scorer of that name is registered."""


class EntityNotFound(NotFound):
    """The source data has no such entity."""


class PluginError(RescoreError):
    """A pack is malformed or clashes with another pack."""


class ServiceUnavailable(RescoreError):
    """A service rescore needs cannot be reached; try again when it is back."""

    http_status = 503
    exit_code = 75  # EX_TEMPFAIL: retrying later may succeed


class StorageUnavailable(ServiceUnavailable):
    """The database cannot be reached; try again when it is back."""


class WriteConflict(ServiceUnavailable):
    """The database chose this transaction as a deadlock victim (or gave up waiting for a
    lock) on every attempt; nothing of it was written, and sending it again will succeed.

    Not a :class:`StorageUnavailable`: the database is up, so lookups do not turn stale."""


#: What a worker loop waits out and tries again: the database is down, or it kept choosing
#: the transaction as a deadlock victim.
STORAGE_RETRYABLE = (StorageUnavailable, WriteConflict)


class ScoringError(RescoreError):
    """A scorer failed or broke its contract."""


class BackupError(RescoreError):
    """The backup could not be made, read or restored."""


class BackupMismatch(BackupError):
    """The data does not match the backup's manifest."""
