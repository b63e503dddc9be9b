"""Scheduled jobs: work that runs on a clock rather than on an event.

Packs declare them (``Pack.register_schedules``): a nightly model retraining, a drift check, a
population rescoring. A schedule runs either ``every`` a fixed interval or daily ``at`` a UTC
time of day. The embedded runtime runs them in its own thread; the distributed runtime hands
them to Celery beat. A job receives the engine and must be safe to run twice (a restart may
repeat it).

Example::

    Schedule(name="leads.retrain", at=time(3, 0), run=lambda engine: train(engine))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from rescore.exceptions import PluginError

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["Schedule"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Schedule:
    """A named job and when it runs: ``every`` an interval, or daily ``at`` a UTC time."""

    name: str
    run: Callable[[Engine], object]
    every: timedelta | None = None
    at: time | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if (self.every is None) == (self.at is None):
            raise PluginError(f"schedule {self.name!r}: give exactly one of every= or at=")
        if self.every is not None and self.every <= timedelta(0):
            raise PluginError(f"schedule {self.name!r}: every= must be positive")

    def next_run(self, after: datetime) -> datetime:
        """The first time strictly after ``after`` (a UTC-aware datetime) this job is due."""
        if self.every is not None:
            return after + self.every
        assert self.at is not None
        today = datetime.combine(after.date(), self.at, tzinfo=after.tzinfo)
        return today if today > after else today + timedelta(days=1)
