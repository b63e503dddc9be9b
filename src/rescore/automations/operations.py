"""The engine's automation operations: rules in force, firings and deliveries, the
dispatcher's claims, scheduled rules, schedule runs. :class:`rescore.engine.Engine` inherits
them, so every front end (CLI, HTTP, dashboard, the dispatcher) goes through the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from rescore.automations.book import RuleBook, schedule_context
from rescore.automations.conditions import holds
from rescore.automations.outbox import Firing, record
from rescore.automations.rules import EventTrigger, Rule, ScheduleTrigger, ScoreTrigger
from rescore.db.dialect import insert_ignoring
from rescore.db.schema import DEFAULT_TENANT, deliveries, firings, schedule_runs
from rescore.db.schema import rules as rules_table
from rescore.exceptions import InvalidInput, NotFound
from rescore.operations import Parts

__all__ = ["AutomationOperations", "RuleView", "ScheduleOperations", "plain"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleView:
    """A rule in force and where it comes from (``rescore``: its admin alerts; ``pack``:
    shipped by a pack; ``tenant``: the tenant's own)."""

    rule: Rule
    origin: str

    def as_dict(self) -> dict[str, Any]:
        return self.rule.as_data() | {"enabled": self.rule.enabled, "origin": self.origin}


class ScheduleOperations(Parts):
    """Claims of cron ticks (``rescore.schedule.Scheduler`` drives these)."""

    def claim_schedule_run(self, name: str, due: datetime, claimant: str) -> bool:
        """Claim the tick ``due`` of schedule ``name``; False if another scheduler has it."""
        row = {"name": name, "due_at": due, "claimed_by": claimant, "started_at": self.clock()}
        with self.db.begin() as conn:
            return insert_ignoring(conn, schedule_runs, row, unique=["name", "due_at"]) is not None

    def finish_schedule_run(self, name: str, due: datetime, *, error: str | None = None) -> None:
        """Record how a claimed tick ended."""
        with self.db.begin() as conn:
            conn.execute(
                schedule_runs.update()
                .where(schedule_runs.c.name == name, schedule_runs.c.due_at == due)
                .values(finished_at=self.clock(), ok=error is None, error=error)
            )

    def last_schedule_run(self, name: str) -> datetime | None:
        """The due time of the newest claimed tick of ``name``, if it ever ran here."""
        query = sa.select(sa.func.max(schedule_runs.c.due_at)).where(schedule_runs.c.name == name)
        with self.db.read() as conn:
            found = conn.execute(query).scalar_one_or_none()
        return _aware(found)

    def schedule_runs(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """The newest schedule runs, with how they ended."""
        query = sa.select(schedule_runs).order_by(schedule_runs.c.started_at.desc()).limit(limit)
        with self.db.read() as conn:
            return [plain(row) for row in conn.execute(query)]


class AutomationOperations(Parts):
    """Rules, firings, deliveries."""

    rulebook: RuleBook
    # from QueueOperations, beside this group in the engine
    pending_counts: Callable[..., dict[str, int]]
    lane_lag: Callable[[], dict[str, float]]

    # rules ---------------------------------------------------------------------------------

    def automation_rules(self, *, tenant: str = DEFAULT_TENANT) -> list[RuleView]:
        """Every rule in force for ``tenant`` (enabled or not), by name."""
        with self.db.read() as conn:
            found = self.rulebook.in_force(conn, tenant)
        return [RuleView(rule=found.rules[n], origin=found.origin[n]) for n in sorted(found.rules)]

    def _known_type(self, type_: str, pack: str | None, field: str) -> None:
        try:
            self.registry.router.resolve(type_, pack)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=field) from None

    def rule_tenants(self) -> list[str]:
        """The runtime's tenant and every tenant with rules of its own."""
        query = sa.select(rules_table.c.tenant).distinct()
        with self.db.read() as conn:
            found = {row.tenant for row in conn.execute(query)}
        return sorted(found | {self.settings.tenant})

    def automation_rule(self, name: str, *, tenant: str = DEFAULT_TENANT) -> RuleView:
        """One rule in force (:class:`NotFound` naming the rule)."""
        for view in self.automation_rules(tenant=tenant):
            if view.rule.name == name:
                return view
        raise NotFound(f"no automation rule {name!r} for tenant {tenant!r}", field="rule")

    def add_rules(self, rules: Sequence[Rule], *, tenant: str = DEFAULT_TENANT) -> int:
        """Add or replace the tenant's rules, all or nothing; returns how many."""
        for rule in rules:
            self._check_rule(rule)
        now = self.clock()
        with self.db.begin() as conn:
            names = [r.name for r in rules]
            conn.execute(
                rules_table.delete().where(
                    rules_table.c.tenant == tenant, rules_table.c.name.in_(names)
                )
            )
            rows = [
                {
                    "tenant": tenant,
                    "name": r.name,
                    "pack": r.pack,
                    "body": r.as_data(),
                    "enabled": r.enabled,
                    "updated_at": now,
                }
                for r in rules
            ]
            if rows:
                conn.execute(rules_table.insert(), rows)
        self.rulebook.forget(tenant)
        return len(rules)

    def enable_rule(self, name: str, enabled: bool, *, tenant: str = DEFAULT_TENANT) -> Rule:
        """Switch a rule on or off for the tenant (a shipped one gets a tenant copy)."""
        rule = self.automation_rule(name, tenant=tenant).rule.model_copy(
            update={"enabled": enabled}
        )
        self.add_rules([rule], tenant=tenant)
        return rule

    def remove_rule(self, name: str, *, tenant: str = DEFAULT_TENANT) -> None:
        """Remove the tenant's own rule (a shipped rule of that name applies again)."""
        with self.db.begin() as conn:
            gone = conn.execute(
                rules_table.delete().where(
                    rules_table.c.tenant == tenant, rules_table.c.name == name
                )
            ).rowcount
        self.rulebook.forget(tenant)
        if not gone:
            raise NotFound(f"tenant {tenant!r} has no rule {name!r} of its own", field="rule")

    def _check_rule(self, rule: Rule) -> None:
        """What a rule names must exist: its pack, event types, scorer and audience."""
        if rule.pack is not None and rule.pack not in self.registry:
            raise InvalidInput(f"no pack {rule.pack!r} is loaded", field="pack")
        trigger = rule.trigger
        if isinstance(trigger, EventTrigger):
            self._known_type(trigger.type, rule.pack, "trigger.type")
        for i, action in enumerate(rule.actions):
            if action.ingest is not None:
                self._known_type(action.ingest.type, rule.pack, f"actions.{i}.ingest.type")
        if isinstance(trigger, ScoreTrigger):
            packs = [rule.pack] if rule.pack else self.registry.names
            if not any(trigger.scorer in self.registry.graph(p) for p in packs):
                raise InvalidInput(
                    f"no scorer {trigger.scorer!r} is loaded", field="trigger.scorer"
                )
        if isinstance(trigger, ScheduleTrigger) and trigger.audience is not None:
            if rule.pack is None:
                raise InvalidInput("a rule with an audience names its pack", field="pack")
            names = [a.name for a in self.registry[rule.pack].register_audiences()]
            if trigger.audience not in names:
                raise InvalidInput(
                    f"pack {rule.pack!r} has no audience {trigger.audience!r}; it has {names}",
                    field="trigger.audience",
                )

    # firings and deliveries, for people ---------------------------------------------------

    def firings(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        rule: str | None = None,
        entity: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Recorded firings, newest first."""
        query = sa.select(firings).where(firings.c.tenant == tenant)
        if rule is not None:
            query = query.where(firings.c.rule == rule)
        if entity is not None:
            query = query.where(firings.c.entity == entity)
        query = query.order_by(firings.c.id.desc()).limit(limit).offset(offset)
        with self.db.read() as conn:
            return [plain(row) for row in conn.execute(query)]

    def test_rule(self, name: str, entity: str, *, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
        """What rule ``name`` would fire for ``entity`` now, rendered, without sending or
        recording anything (:mod:`rescore.automations.dryrun`)."""
        from rescore.automations.dryrun import dry_run

        rule = self.automation_rule(name, tenant=tenant).rule
        return dry_run(self, rule, entity, tenant)  # type: ignore[arg-type]

    def automation_data(self, pack: str, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What templates read of each entity (``Pack.automation_data``, from the source)."""
        with self.source.read() as conn:
            return self.registry[pack].automation_data(conn, entities)

    # scheduled rules ---------------------------------------------------------------------

    def audience_zones(self, pack: str, audience: str) -> dict[str, str]:
        """Group -> time zone of a pack's audience."""
        with self.source.read() as conn:
            return dict(self.registry.audience(pack, audience).zones(conn))

    def audience_members(
        self, pack: str, audience: str, group: str, local: datetime
    ) -> list[dict[str, Any]]:
        """Who a pack's audience holds in ``group`` at ``local``."""
        with self.source.read() as conn:
            return list(self.registry.audience(pack, audience).members(conn, group, local))

    def health(self) -> dict[str, Any]:
        """What a scheduled rule without an audience sees as ``health`` (the admin alerts):
        pending work by lane and dead letters across tenants, each lane's lag in seconds,
        and dead deliveries."""
        counts = self.pending_counts(tenant=None)
        with self.db.read() as conn:
            dead_deliveries = conn.execute(
                sa.select(sa.func.count()).where(deliveries.c.status == "dead")
            ).scalar_one()
        return {
            "pending": {lane: counts.get(lane, 0) for lane in ("critical", "normal")},
            "dead": counts.get("dead", 0),
            "lag": self.lane_lag(),
            "dead_deliveries": int(dead_deliveries),
        }

    def fire_schedule(
        self,
        rule: Rule,
        due: datetime,
        members: Sequence[Mapping[str, Any]] | None,
        *,
        tenant: str = DEFAULT_TENANT,
    ) -> dict[str, int]:
        """Record the firings of a scheduled rule's tick for ``members`` (each with an
        ``entity``; None: a rule without an audience fires once, for the tenant), in one
        transaction: ``{"fired", "throttled", "duplicate", "skipped"}``."""
        counts = {"fired": 0, "throttled": 0, "duplicate": 0, "skipped": 0}
        now = self.clock()
        health = self.health() if members is None else None
        with self.db.begin() as conn:
            for member in [{"entity": tenant}] if members is None else members:
                context = schedule_context(rule, tenant, member, due)
                if health is not None:
                    context["health"] = health
                if not holds(rule.conditions, context):
                    counts["skipped"] += 1
                    continue
                firing = Firing(
                    rule=rule,
                    tenant=tenant,
                    entity=str(member["entity"]),
                    occurrence=f"at:{due.isoformat()}",
                    context=context,
                )
                status = record(conn, firing, now)
                counts[status or "duplicate"] += 1
        fired = [(rule.name, s) for s in ("fired", "throttled") for _ in range(counts[s])]
        if fired:
            self._emit("fired", fired)
        return counts


def _aware(value: Any) -> datetime | None:
    """A max() over a UTC column comes back untyped on some dialects (text on SQLite)."""
    if value is None:
        return None
    found = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def plain(row: Any) -> dict[str, Any]:
    """A row as JSON-ready data (times as ISO 8601)."""
    return {
        str(k): v.isoformat() if isinstance(v, datetime) else v for k, v in row._mapping.items()
    }
