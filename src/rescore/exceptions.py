"""Every error rescore raises on purpose.

The hierarchy::

    RescoreError                      (500)  exit 1
    ├── ConfigurationError            (500)  exit 2: only the user can fix it (URL, path, setting)
    ├── InvalidInput                  (422)  exit 1: bad data from a caller; names the field
    │   ├── InvalidEvent              (422)  an event that cannot be accepted
    │   └── UnknownEventType          (422)  a type no loaded pack routes
    ├── NotFound                      (404)
    │   ├── UnknownPack               (404)
    │   ├── UnknownScorer             (404)
    │   └── EntityNotFound            (404)  the source has no such entity
    ├── PluginError                   (500)  a pack is malformed or clashes with another
    ├── BackupError                   (500)  a backup could not be made, read or restored
    │   └── BackupMismatch            (500)  data differs from the backup's manifest
    ├── ServiceUnavailable            (503)  exit 75: a service is down; retrying will help
    │   └── StorageUnavailable        (503)  the database cannot be reached
    └── ScoringError                  (500)  a scorer failed or broke its contract

Each subclass's docstring is its default message and each carries the ``http_status`` that the
HTTP layer answers with and the ``exit_code`` the CLI exits with, so one handler serves each
front end. Driver and OS errors are converted to these by one table (``rescore.boundary``):
callers never see a driver exception.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BackupError",
    "BackupMismatch",
    "ConfigurationError",
    "EntityNotFound",
    "InvalidEvent",
    "InvalidInput",
    "NotFound",
    "PluginError",
    "RescoreError",
    "ScoringError",
    "ServiceUnavailable",
    "StorageUnavailable",
    "UnknownEventType",
    "UnknownPack",
    "UnknownScorer",
]


class RescoreError(Exception):
    """Something went wrong in rescore."""

    http_status = 500
    exit_code = 1

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        problems: Sequence[str] = (),
    ) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.field = field
        #: One line per problem when a batch was refused whole (nothing of it was stored);
        #: the CLI prints them one a line.
        self.problems = tuple(problems)
        super().__init__(f"{field}: {self.message}" if field else self.message)


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


class ScoringError(RescoreError):
    """A scorer failed or broke its contract."""


class BackupError(RescoreError):
    """The backup could not be made, read or restored."""


class BackupMismatch(BackupError):
    """The data does not match the backup's manifest."""
