"""Scheduled automation rules as cron schedules, for both runtimes' :class:`Scheduler`.

A rule ``{kind: schedule, cron, timezone, audience}`` becomes one schedule per time zone it
runs in: with ``timezone: audience`` one per distinct zone of the audience's groups (each
business's 09:00), else one in the rule's zone. At each tick the job asks the pack's audience
for the members of every group in that zone (at the tick's local time) and records one firing
per member, keyed by the tick: a tick run twice records nothing new.

Rules run for the runtime's tenant (``settings.tenant``) and for every tenant with rules of
its own. The audiences' zones are read at most once a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rescore.automations.rules import Rule, ScheduleTrigger
from rescore.schedule import Schedule

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["RuleSchedules", "fire_tick"]

log = logging.getLogger(__name__)

#: Seconds the audiences' zones are kept before being read again.
ZONES_TTL = 60.0


def fire_tick(
    engine: Engine, rule: Rule, tenant: str, due: datetime, zone: str | None = None
) -> dict[str, int]:
    """Record a scheduled rule's firings for the tick ``due`` (of the groups in ``zone``,
    or every group when None); the counts by outcome."""
    trigger = rule.trigger
    assert isinstance(trigger, ScheduleTrigger)
    if trigger.audience is None or rule.pack is None:
        return engine.fire_schedule(rule, due, None, tenant=tenant)
    zones = engine.audience_zones(rule.pack, trigger.audience)
    totals: dict[str, int] = {}
    for group, group_zone in sorted(zones.items()):
        if zone is not None and group_zone != zone:
            continue
        local = due.astimezone(
            ZoneInfo(group_zone if trigger.timezone == "audience" else trigger.timezone)
        )
        members = engine.audience_members(rule.pack, trigger.audience, group, local)
        counts = engine.fire_schedule(rule, due, members, tenant=tenant)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    log.info("rule %s at %s: %s", rule.name, due.isoformat(), totals)
    return totals


class RuleSchedules:
    """Callable giving the current schedules of every scheduled rule (for a Scheduler)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._zones: dict[tuple[str, str], tuple[float, set[str]]] = {}

    def __call__(self) -> list[Schedule]:
        found: list[Schedule] = []
        for tenant in self.engine.rule_tenants():
            for view in self.engine.automation_rules(tenant=tenant):
                rule = view.rule
                if rule.enabled and isinstance(rule.trigger, ScheduleTrigger):
                    found.extend(self._schedules(rule, tenant))
        return found

    def _schedules(self, rule: Rule, tenant: str) -> list[Schedule]:
        trigger = rule.trigger
        assert isinstance(trigger, ScheduleTrigger)
        zones: list[str | None] = [None]
        if trigger.timezone == "audience":
            zones = [*sorted(self._audience_zones(rule, trigger))]
        return [
            Schedule(
                name=f"rule:{tenant}:{rule.name}" + (f"@{zone}" if zone else ""),
                cron=trigger.cron,
                timezone=zone or trigger.timezone,
                run=_job(rule, tenant, zone),
                description=rule.description or f"automation rule {rule.name}",
            )
            for zone in zones
        ]

    def _audience_zones(self, rule: Rule, trigger: ScheduleTrigger) -> set[str]:
        assert rule.pack is not None
        assert trigger.audience is not None
        key = (rule.pack, trigger.audience)
        cached = self._zones.get(key)
        if cached is None or time.monotonic() - cached[0] > ZONES_TTL:
            zones = set(self.engine.audience_zones(*key).values())
            self._zones[key] = cached = (time.monotonic(), zones)
        return cached[1]


def _job(rule: Rule, tenant: str, zone: str | None) -> Callable[[Engine, datetime], object]:
    def run(engine: Engine, due: datetime) -> object:
        return fire_tick(engine, rule, tenant, due, zone)

    return run
