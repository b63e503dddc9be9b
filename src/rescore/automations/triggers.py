"""Score-transition triggers: a threshold crossed (with hysteresis), a tier changed, a drop
within a window. Each test looks at one :class:`rescore.store.Change` of one entity, inside the
transaction that writes it.

Hysteresis: a crossing rule that fired for an entity is *disarmed* (a row in
``rescore_rule_state``) until the score comes back past the threshold by the rule's ``band``;
so a score hovering at the line fires once, not at every wobble.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.automations.rules import (
    Crossing,
    Drop,
    NewComponent,
    Rule,
    ScoreTrigger,
    Tiers,
    parse_duration,
)
from rescore.db.schema import history, rule_state
from rescore.store import Change

__all__ = ["fires", "new_components", "tier_of"]


def tier_of(tiers: Tiers, value: float | None) -> str | None:
    """The name of the highest band whose lower bound ``value`` reaches."""
    if value is None:
        return None
    reached = [(low, name) for name, low in tiers.bands.items() if value >= low]
    return max(reached)[1] if reached else None


def fires(
    conn: Connection,
    rule: Rule,
    *,
    tenant: str,
    pack: str,
    entity: str,
    change: Change,
    now: datetime,
) -> bool:
    """Whether ``change`` fires ``rule`` (a score rule), updating hysteresis state."""
    trigger = rule.trigger
    assert isinstance(trigger, ScoreTrigger)
    if trigger.crosses is not None:
        return _crossing(conn, rule.name, trigger.crosses, tenant, entity, change, now)
    if trigger.tier is not None:
        return _tier_moved(trigger.tier, change)
    if trigger.new_component is not None:
        return bool(new_components(trigger.new_component, change))
    assert trigger.drop is not None
    return _dropped(conn, trigger.drop, tenant, pack, entity, change, now)


def _crossing(
    conn: Connection,
    rule: str,
    crossing: Crossing,
    tenant: str,
    entity: str,
    change: Change,
    now: datetime,
) -> bool:
    before, after = change.before, change.after
    downward = crossing.below is not None
    line = float(crossing.below if downward else crossing.above)  # type: ignore[arg-type]
    where = (
        rule_state.c.tenant == tenant,
        rule_state.c.rule == rule,
        rule_state.c.entity == entity,
    )
    disarmed = conn.execute(sa.select(rule_state.c.entity).where(*where)).first() is not None
    if disarmed:
        back = after >= line + crossing.band if downward else after <= line - crossing.band
        if back:
            conn.execute(rule_state.delete().where(*where))
        return False
    if before is None:
        return False
    crossed = before >= line > after if downward else before <= line < after
    if crossed:
        conn.execute(
            rule_state.insert().values(tenant=tenant, rule=rule, entity=entity, updated_at=now)
        )
    return crossed


def new_components(test: NewComponent, change: Change) -> list[tuple[str, float]]:
    """The components ``change`` took above ``test.above`` (name, value), in name order."""
    found = []
    for name, value in sorted(change.components.items()):
        before = value - change.deltas.get(name, value)
        if value > test.above >= before:
            found.append((name, value))
    return found


def _tier_moved(tiers: Tiers, change: Change) -> bool:
    if change.before is None:
        return False
    old, new = tier_of(tiers, change.before), tier_of(tiers, change.after)
    if old == new:
        return False
    rank = dict(tiers.bands)
    up = rank.get(new or "", float("-inf")) > rank.get(old or "", float("-inf"))
    return tiers.direction == "any" or (tiers.direction == "up") == up


def _dropped(
    conn: Connection,
    drop: Drop,
    tenant: str,
    pack: str,
    entity: str,
    change: Change,
    now: datetime,
) -> bool:
    """The highest value within the window (from history, and the value just replaced)
    minus the new value. Only a fall can fire (a rise is not a drop, whatever came before),
    and a fall that alone is big enough needs no history read."""
    if change.before is None or change.after >= change.before:
        return False
    if change.before - change.after >= drop.points:
        return True
    since = now - parse_duration(drop.within)
    query = sa.select(
        sa.func.max(history.c.after_value), sa.func.max(history.c.before_value)
    ).where(
        history.c.tenant == tenant,
        history.c.pack == pack,
        history.c.entity == entity,
        history.c.scorer == change.scorer,
        history.c.changed_at >= since,
    )
    found = conn.execute(query).one()
    peaks = [v for v in (*found, change.before) if v is not None]
    return bool(peaks) and max(peaks) - change.after >= drop.points
