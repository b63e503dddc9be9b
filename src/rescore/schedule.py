"""Scheduled jobs: work that runs on a clock rather than on an event, by cron in a time zone.

Packs declare them (``Pack.register_schedules``): a nightly retraining, a drift check; rescore
has its own (backup, reconciliation, snapshot, history partitions), and every scheduled
automation rule is one too. A schedule is a cron expression (``0 9 * * *``) in an IANA time
zone (``America/Bogota``), read by ``cronsim`` (daylight saving time included).

Both runtimes run them through :class:`Scheduler`: at each tick it finds, for every schedule,
the newest due time that is not older than ``schedule_catch_up`` seconds, and **claims** that
(schedule, due time) in ``rescore_schedule_runs`` before running it. A claim is an insert that
only one process can win, so two schedulers (two embedded runtimes, Celery beat restarted)
never run the same tick twice, and a scheduler restarted a minute after 09:00 still runs the
09:00 job. A job receives the engine and the due time it runs for.

Example::

    Schedule(name="leads.retrain", cron="0 3 * * *", timezone="America/Bogota",
             run=lambda engine, due: train(engine))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from rescore.exceptions import PluginError

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["Due", "Schedule", "Scheduler", "check_cron", "check_zone"]

log = logging.getLogger(__name__)

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def check_cron(expression: str) -> str:
    """``expression`` if it is a valid five-field cron expression, else ``ValueError``."""
    try:
        CronSim(expression, _EPOCH)
    except CronSimError as exc:
        raise ValueError(f"{expression!r} is not a cron expression: {exc}") from None
    return expression


def check_zone(name: str) -> str:
    """``name`` if it is an IANA time zone, else ``ValueError``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. America/Bogota)") from None
    return name


@dataclass(frozen=True, kw_only=True, slots=True)
class Schedule:
    """A named job and when it runs: ``cron`` in ``timezone``. ``run(engine, due)`` must be
    safe to run again for the same ``due`` (a crash in the middle repeats it)."""

    name: str
    cron: str
    run: Callable[[Engine, datetime], object]
    timezone: str = "UTC"
    description: str = ""

    def __post_init__(self) -> None:
        try:
            check_cron(self.cron)
            check_zone(self.timezone)
        except ValueError as exc:
            raise PluginError(f"schedule {self.name!r}: {exc}") from None

    def latest(self, now: datetime) -> datetime:
        """The newest due time at or before ``now`` (UTC)."""
        local = now.astimezone(ZoneInfo(self.timezone))
        due: datetime = next(CronSim(self.cron, local + timedelta(seconds=1), reverse=True))
        if due > local:
            due = next(CronSim(self.cron, due, reverse=True))
        return due.astimezone(UTC)

    def next_run(self, after: datetime) -> datetime:
        """The first due time strictly after ``after`` (UTC)."""
        local = after.astimezone(ZoneInfo(self.timezone))
        return next(CronSim(self.cron, local)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Due:
    """A schedule whose tick this scheduler claimed and must run."""

    schedule: Schedule
    at: datetime


class Scheduler:
    """Claims due ticks of ``schedules()`` (called at every tick: automation rules come and
    go) and runs them through ``engine``. Embedded: :meth:`tick` then :meth:`run` in one
    thread; Celery: beat's tick task claims, a job task per claim runs.

    A tick is run once it is due, if it is newer than the schedule's last recorded run and
    at most ``schedule_catch_up`` seconds old. A schedule that never ran in this database
    starts with the ticks after this scheduler started (a fresh install does not run last
    night's backup the moment it starts)."""

    def __init__(
        self, engine: Engine, schedules: Callable[[], Iterable[Schedule]], *, claimant: str
    ) -> None:
        self.engine = engine
        self.schedules = schedules
        self.claimant = claimant
        self.started = engine.clock()
        self._done: dict[str, datetime] = {}

    def tick(self) -> list[Due]:
        """Claim every schedule's newest due tick not yet run (and not too old)."""
        now = self.engine.clock()
        oldest = now - timedelta(seconds=self.engine.settings.schedule_catch_up)
        claimed: list[Due] = []
        for schedule in self.schedules():
            due = schedule.latest(now)
            if due < oldest or due <= self._done_until(schedule.name):
                continue
            self._done[schedule.name] = due
            if self.engine.claim_schedule_run(schedule.name, due, self.claimant):
                claimed.append(Due(schedule, due))
        return claimed

    def _done_until(self, name: str) -> datetime:
        if name not in self._done:
            last = self.engine.last_schedule_run(name)
            self._done[name] = last or self.started - timedelta(microseconds=1)
        return self._done[name]

    def run(self, due: Due) -> bool:
        """Run a claimed tick and record how it ended; a failing job is logged, not fatal."""
        name = due.schedule.name
        try:
            due.schedule.run(self.engine, due.at)
        except Exception as exc:
            log.exception("schedule %s (due %s) failed", name, due.at.isoformat())
            self.engine.finish_schedule_run(name, due.at, error=f"{type(exc).__name__}: {exc}")
            return False
        self.engine.finish_schedule_run(name, due.at)
        return True
