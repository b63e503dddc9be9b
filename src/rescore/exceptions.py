"""Every error rescore raises on purpose.

The hierarchy::

    RescoreError                      (500)
    ├── InvalidInput                  (422)  bad data from a caller; names the field
    │   ├── InvalidEvent              (422)  an event that cannot be accepted
    │   └── UnknownEventType          (422)  a type no loaded pack routes
    ├── NotFound                      (404)
    │   ├── UnknownPack               (404)
    │   ├── UnknownScorer             (404)
    │   └── EntityNotFound            (404)  the source has no such entity
    ├── PluginError                   (500)  a pack is malformed or clashes with another
    ├── StorageUnavailable            (503)  the database cannot be reached
    └── ScoringError                  (500)  a scorer failed or broke its contract

Each subclass's docstring is its default message and each carries the ``http_status`` that the
HTTP layer answers with, so one handler serves them all. Driver errors (SQLAlchemy, sqlite3) are
converted to these at the storage boundary: callers never see a driver exception.
"""

from __future__ import annotations

__all__ = [
    "EntityNotFound",
    "InvalidEvent",
    "InvalidInput",
    "NotFound",
    "PluginError",
    "RescoreError",
    "ScoringError",
    "StorageUnavailable",
    "UnknownEventType",
    "UnknownPack",
    "UnknownScorer",
]


class RescoreError(Exception):
    """Something went wrong in rescore."""

    http_status = 500

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.field = field
        super().__init__(f"{field}: {self.message}" if field else self.message)


class InvalidInput(RescoreError):
    """The input is not valid."""

    http_status = 422


class InvalidEvent(InvalidInput):
    """The event is not valid."""


class UnknownEventType(InvalidInput):
    """No loaded pack routes this event type."""


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


class StorageUnavailable(RescoreError):
    """The database cannot be reached; try again when it is back."""

    http_status = 503


class ScoringError(RescoreError):
    """A scorer failed or broke its contract."""
