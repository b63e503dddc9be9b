"""``rescore automations test``: what a rule would fire for an entity now, sending nothing.

The rule is evaluated against the entity's latest matching event (event rules), its current
score against the value before its last change (score rules), or the audience's members now
(scheduled rules), inside a transaction that is rolled back, so hysteresis state and the
outbox are untouched. The messages are rendered with the entity's ``data`` as the dispatcher
would render them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.automations.book import event_context, schedule_context, score_context
from rescore.automations.conditions import holds
from rescore.automations.messages import rendered
from rescore.automations.rules import EventTrigger, Rule, ScheduleTrigger, ScoreTrigger
from rescore.automations.templates import TemplateProblem
from rescore.automations.triggers import fires
from rescore.db.schema import events, history
from rescore.events import Event
from rescore.reports import Outcome
from rescore.store import Change

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["dry_run"]


class _RollBack(Exception):
    """Leaves the dry run's transaction without committing anything."""


def dry_run(engine: Engine, rule: Rule, entity: str, tenant: str) -> dict[str, Any]:
    """``{rule, entity, would_fire, reason, context, messages}`` for ``entity`` now."""
    answer: dict[str, Any] = {"rule": rule.name, "entity": entity}
    try:
        with engine.db.begin() as conn:
            answer |= _evaluate(engine, conn, rule, entity, tenant)
            raise _RollBack
    except _RollBack:
        pass
    if answer.get("would_fire"):
        answer["messages"] = _messages(engine, rule, answer["context"])
    return answer


def _evaluate(
    engine: Engine, conn: Connection, rule: Rule, entity: str, tenant: str
) -> dict[str, Any]:
    trigger = rule.trigger
    now = engine.clock()
    if isinstance(trigger, EventTrigger):
        return _event(conn, rule, trigger, entity, tenant, now)
    if isinstance(trigger, ScoreTrigger):
        return _score(conn, rule, trigger, entity, tenant, now)
    return _schedule(engine, rule, trigger, entity, tenant, now)


def _event(
    conn: Connection, rule: Rule, trigger: EventTrigger, entity: str, tenant: str, now: datetime
) -> dict[str, Any]:
    query = (
        sa.select(events)
        .where(events.c.tenant == tenant, events.c.entity == entity, events.c.type == trigger.type)
        .order_by(events.c.seq.desc())
        .limit(1)
    )
    if rule.pack is not None:
        query = query.where(events.c.pack == rule.pack)
    row = conn.execute(query).first()
    if row is None:
        return {"would_fire": False, "reason": f"{entity!r} has no {trigger.type!r} event"}
    ev = Event(**{c: getattr(row, c) for c in Event.__dataclass_fields__ if hasattr(row, c)})
    context = event_context(rule, ev, now)
    ok = holds(rule.conditions, context)
    reason = f"its latest {trigger.type} event" + ("" if ok else ": the conditions do not hold")
    return {"would_fire": ok, "reason": reason, "context": context}


def _score(
    conn: Connection, rule: Rule, trigger: ScoreTrigger, entity: str, tenant: str, now: datetime
) -> dict[str, Any]:
    query = (
        sa.select(history)
        .where(
            history.c.tenant == tenant,
            history.c.entity == entity,
            history.c.scorer == trigger.scorer,
        )
        .order_by(history.c.id.desc())
        .limit(1)
    )
    if rule.pack is not None:
        query = query.where(history.c.pack == rule.pack)
    row = conn.execute(query).first()
    if row is None:
        return {"would_fire": False, "reason": f"{entity!r} has no {trigger.scorer} score"}
    change = Change(
        scorer=row.scorer,
        version=row.version,
        before=row.before_value,
        after=row.after_value,
        deltas=row.deltas,
        components=row.components,
    )
    outcome = Outcome(
        tenant=tenant,
        pack=row.pack,
        entity=entity,
        lane=None,
        changes=(change,),
        causes=(),
        stale=False,
        committed_at=now,
    )
    context = score_context(rule, outcome, change, now)
    if not holds(rule.conditions, context):
        return {"would_fire": False, "reason": "the conditions do not hold", "context": context}
    ok = fires(conn, rule, tenant=tenant, pack=row.pack, entity=entity, change=change, now=now)
    reason = f"its last change, {change.before} -> {change.after}"
    return {"would_fire": ok, "reason": reason, "context": context}


def _schedule(
    engine: Engine, rule: Rule, trigger: ScheduleTrigger, entity: str, tenant: str, now: datetime
) -> dict[str, Any]:
    if trigger.audience is None or rule.pack is None:
        context = schedule_context(rule, tenant, {"entity": entity}, now)
        return {"would_fire": True, "reason": "fires at every tick", "context": context}
    for group, zone in engine.audience_zones(rule.pack, trigger.audience).items():
        local = now.astimezone(
            ZoneInfo(zone if trigger.timezone == "audience" else trigger.timezone)
        )
        for member in engine.audience_members(rule.pack, trigger.audience, group, local):
            if str(member.get("entity")) == entity:
                context = schedule_context(rule, tenant, member, now)
                ok = holds(rule.conditions, context)
                reason = f"in the {trigger.audience} audience now"
                return {"would_fire": ok, "reason": reason, "context": context}
    return {"would_fire": False, "reason": f"not in the {trigger.audience} audience now"}


def _messages(engine: Engine, rule: Rule, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    data: dict[str, Any] = {}
    pack, entity = context.get("pack"), str(context.get("entity"))
    if pack and pack in engine.registry:
        data = engine.automation_data(pack, [entity]).get(entity, {})
    messages = []
    for action in rule.actions:
        try:
            messages.append({"kind": action.kind, **rendered(action, {**context, "data": data})})
        except TemplateProblem as exc:
            messages.append({"kind": action.kind, "error": str(exc)})
    return messages
