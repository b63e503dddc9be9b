"""The rule book: the rules in force for each tenant, and their evaluation inside the
transactions that cause firings.

The rules in force are every pack's shipped rules plus the tenant's own (``rescore_rules``); a
tenant's rule of the same name replaces a shipped one (a disabled copy switches it off). A
tenant's rules are read at most every ``rules_refresh`` seconds (and at once after a change
made in this process), then indexed by what triggers them, so evaluating an ingest or a score
write against no matching rule costs one dictionary lookup.

:class:`RuleBook` is an engine observer: ``ingesting`` fires event rules and ``writing`` fires
score rules, both with the transaction's connection, through the outbox
(:mod:`rescore.automations.outbox`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.automations.conditions import holds
from rescore.automations.outbox import Firing, record
from rescore.automations.rules import (
    EventTrigger,
    Rule,
    ScheduleTrigger,
    ScoreTrigger,
    parse_rules,
    rule_of,
)
from rescore.automations.triggers import fires, new_components, tier_of
from rescore.db.schema import rules as rules_table
from rescore.events import Event
from rescore.exceptions import InvalidInput, PluginError
from rescore.plugins import PackRegistry
from rescore.reports import BulkOutcomes, Observer, Outcome
from rescore.store import Change

__all__ = ["InForce", "RuleBook", "event_context", "score_context"]


@dataclass(frozen=True, slots=True)
class InForce:
    """A tenant's rules in force, indexed by trigger. ``origin`` says where each came from
    (``rescore``: the admin alerts, ``pack``, or ``tenant``)."""

    rules: Mapping[str, Rule]
    origin: Mapping[str, str]
    by_event: Mapping[str, list[Rule]] = field(default_factory=dict)
    by_scorer: Mapping[str, list[Rule]] = field(default_factory=dict)
    scheduled: list[Rule] = field(default_factory=list)

    @classmethod
    def of(cls, found: Mapping[str, Rule], origin: Mapping[str, str]) -> InForce:
        by_event: dict[str, list[Rule]] = {}
        by_scorer: dict[str, list[Rule]] = {}
        scheduled: list[Rule] = []
        for rule in found.values():
            if not rule.enabled:
                continue
            trigger = rule.trigger
            if isinstance(trigger, EventTrigger):
                by_event.setdefault(trigger.type, []).append(rule)
            elif isinstance(trigger, ScoreTrigger):
                by_scorer.setdefault(trigger.scorer, []).append(rule)
            else:
                scheduled.append(rule)
        return cls(found, origin, by_event, by_scorer, scheduled)


class RuleBook(Observer):
    """The rules in force and their in-transaction evaluation (one per engine)."""

    def __init__(
        self, registry: PackRegistry, *, refresh: float, clock: Callable[[], datetime]
    ) -> None:
        self.clock = clock
        self.refresh = refresh
        self.shipped = _shipped(registry)
        self._cache: dict[str, tuple[float, InForce]] = {}
        self._lock = threading.Lock()
        self._recorded = threading.local()

    # the rules in force -------------------------------------------------------------------

    def in_force(self, conn: Connection, tenant: str) -> InForce:
        """The tenant's rules, re-read when older than ``refresh`` seconds."""
        with self._lock:
            cached = self._cache.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < self.refresh:
            return cached[1]
        found = dict(self.shipped)
        origin = {n: "pack" if r.pack else "rescore" for n, r in found.items()}
        query = sa.select(rules_table.c.body, rules_table.c.enabled).where(
            rules_table.c.tenant == tenant
        )
        for body, enabled in conn.execute(query):
            rule = rule_of(body).model_copy(update={"enabled": bool(enabled)})
            found[rule.name] = rule
            origin[rule.name] = "tenant"
        in_force = InForce.of(found, origin)
        with self._lock:
            self._cache[tenant] = (time.monotonic(), in_force)
        return in_force

    def forget(self, tenant: str) -> None:
        """Re-read the tenant's rules on next use (after a change in this process)."""
        with self._lock:
            self._cache.pop(tenant, None)

    # what the current transaction recorded (for the after-commit ``fired`` hook) ----------

    def _note(self, rule: Rule, status: str | None) -> None:
        if status is not None:
            self._pending().append((rule.name, status))

    def _pending(self) -> list[tuple[str, str]]:
        if not hasattr(self._recorded, "items"):
            self._recorded.items = []
        items: list[tuple[str, str]] = self._recorded.items
        return items

    def take(self) -> list[tuple[str, str]]:
        """The (rule, status) of the firings this thread recorded since the last call; the
        engine takes them before a write (discarding a rolled-back one's) and after its
        commit (to tell the observers)."""
        items = self._pending()
        self._recorded.items = []
        return items

    # evaluation, inside the causing transaction -------------------------------------------

    def ingesting(self, conn: Connection, events: Sequence[Event]) -> None:
        now = self.clock()
        for ev in events:
            for rule in self.in_force(conn, ev.tenant).by_event.get(ev.type, ()):
                if rule.pack not in (None, ev.pack):
                    continue
                context = event_context(rule, ev, now)
                if holds(rule.conditions, context):
                    firing = Firing(
                        rule=rule,
                        tenant=ev.tenant,
                        entity=ev.entity,
                        occurrence=f"event:{ev.event_id}",
                        context=context,
                        pack=ev.pack,
                    )
                    self._note(rule, record(conn, firing, now))

    def writing(self, conn: Connection, outcomes: Sequence[Outcome]) -> None:
        if isinstance(outcomes, BulkOutcomes) and not self._listens(conn, outcomes):
            return  # a first run's million outcomes are never built when no rule would look
        now = self.clock()
        rules: dict[str, InForce] = {}  # a population write hands over a million outcomes
        for outcome in outcomes:
            if outcome.tenant not in rules:
                rules[outcome.tenant] = self.in_force(conn, outcome.tenant)
            by_scorer = rules[outcome.tenant].by_scorer
            for change in outcome.changes:
                for rule in by_scorer.get(change.scorer, ()):
                    if rule.pack in (None, outcome.pack):
                        self._score_rule(conn, rule, outcome, change, now)

    def _listens(self, conn: Connection, outcomes: BulkOutcomes) -> bool:
        """Whether a rule in force for the outcomes' tenant watches a score of their pack."""
        by_scorer = self.in_force(conn, outcomes.tenant).by_scorer
        return any(r.pack in (None, outcomes.pack) for found in by_scorer.values() for r in found)

    def _score_rule(
        self, conn: Connection, rule: Rule, outcome: Outcome, change: Change, now: datetime
    ) -> None:
        trigger = rule.trigger
        if isinstance(trigger, ScoreTrigger) and trigger.new_component is not None:
            self._component_rule(conn, rule, outcome, change, now)
            return
        context = score_context(rule, outcome, change, now)
        if not holds(rule.conditions, context):
            return
        fired = fires(
            conn,
            rule,
            tenant=outcome.tenant,
            pack=outcome.pack,
            entity=outcome.entity,
            change=change,
            now=now,
        )
        if fired:
            seq = max((c.seq for c in outcome.causes), default=0)
            occurrence = f"score:{change.scorer}:{seq}:{outcome.committed_at.isoformat()}"
            self._fire_score(conn, rule, outcome, occurrence, context, now)

    def _fire_score(
        self,
        conn: Connection,
        rule: Rule,
        outcome: Outcome,
        occurrence: str,
        context: dict[str, Any],
        now: datetime,
    ) -> None:
        firing = Firing(
            rule=rule,
            tenant=outcome.tenant,
            entity=outcome.entity,
            occurrence=occurrence,
            context=context,
            pack=outcome.pack,
        )
        self._note(rule, record(conn, firing, now))

    def _component_rule(
        self, conn: Connection, rule: Rule, outcome: Outcome, change: Change, now: datetime
    ) -> None:
        """One firing per new component, keyed by it (so once per entity and component)."""
        assert isinstance(rule.trigger, ScoreTrigger)
        assert rule.trigger.new_component
        base = score_context(rule, outcome, change, now)
        for name, value in new_components(rule.trigger.new_component, change):
            context = base | {"component": name, "component_value": value}
            if holds(rule.conditions, context):
                occurrence = f"component:{change.scorer}:{name}"
                self._fire_score(conn, rule, outcome, occurrence, context, now)


def _shipped(registry: PackRegistry) -> dict[str, Rule]:
    """rescore's admin alerts and every pack's rules, validated when the engine starts (a
    bad one is a bug of whoever shipped it)."""
    found: dict[str, Rule] = {rule.name: rule for rule in admin_rules()}
    for pack, data in registry.rules():
        try:
            rule = rule_of({"pack": pack, **data})
        except InvalidInput as exc:
            name = data.get("name", "?")
            raise PluginError(f"pack {pack!r} ships an invalid rule {name!r}: {exc}") from exc
        if rule.name in found:
            raise PluginError(f"rule name {rule.name!r} is shipped twice")
        found[rule.name] = rule
    return found


def admin_rules() -> list[Rule]:
    """rescore's own admin alerts (``admin.yaml`` beside this module)."""
    text = resources.files("rescore.automations").joinpath("admin.yaml").read_text()
    return parse_rules(text, where="admin.yaml")


def _base(
    rule: Rule, tenant: str, pack: str, entity: str, kind: str, now: datetime
) -> dict[str, Any]:
    return {
        "rule": rule.name,
        "tenant": tenant,
        "pack": pack,
        "entity": entity,
        "trigger": kind,
        "now": now.isoformat(),
    }


def event_context(rule: Rule, ev: Event, now: datetime) -> dict[str, Any]:
    """What conditions and templates of an event rule see."""
    event = {
        "event_id": ev.event_id,
        "type": ev.type,
        "lane": ev.lane,
        "occurred_at": ev.occurred_at.isoformat(),
    }
    base = _base(rule, ev.tenant, ev.pack, ev.entity, "event", now)
    return base | {"event": event, "payload": dict(ev.payload)}


def score_context(rule: Rule, outcome: Outcome, change: Change, now: datetime) -> dict[str, Any]:
    """What conditions and templates of a score rule see: the scorer's value before and
    after, the component deltas, the other scorers' values and the causing events."""
    context = _base(rule, outcome.tenant, outcome.pack, outcome.entity, "score", now) | {
        "scorer": change.scorer,
        "version": change.version,
        "before": change.before,
        "after": change.after,
        "delta": change.delta,
        "deltas": dict(change.deltas),
        "values": dict(outcome.values),
        "events": [
            {"event_id": c.event_id, "type": c.type, "payload": dict(c.payload)}
            for c in outcome.causes[-20:]
        ],
    }
    trigger = rule.trigger
    if isinstance(trigger, ScoreTrigger) and trigger.tier is not None:
        context["tier_before"] = tier_of(trigger.tier, change.before)
        context["tier_after"] = tier_of(trigger.tier, change.after)
    return context


def schedule_context(
    rule: Rule, tenant: str, member: Mapping[str, Any], due: datetime
) -> dict[str, Any]:
    """What conditions and templates of a scheduled rule see: the audience row as ``member``."""
    assert isinstance(rule.trigger, ScheduleTrigger)
    entity = str(member.get("entity", ""))
    base = _base(rule, tenant, rule.pack or "", entity, "schedule", due)
    return base | {"due": due.isoformat(), "member": dict(member)}
