"""The dispatcher: delivers the outbox's deliveries, with retries, digests and quiet hours.

Each :meth:`DeliveryDispatcher.run_once`:

1. folds every digest window that has ended into one message per recipient
   ("12 × credit.default_alert");
2. claims due deliveries (a lease, so a dispatcher killed mid-delivery loses nothing: its
   claims are taken over when the lease ends, and the receiver gets the same
   ``Idempotency-Key`` again, so it can drop the repeat);
3. for each: postpones it to the end of the rule's quiet hours if they are on; renders its
   templates with the firing's context and the entity's ``data``; sends it; records ``sent``,
   or a retry with exponential backoff, or ``dead`` after ``delivery_attempts`` (dead
   deliveries stay visible and can be requeued).

Both runtimes run it: a thread of the embedded runtime, a Celery task that beat sends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rescore.automations.channels import DeliveryFailed, notify, webhook
from rescore.automations.deliveries import Claimed, DigestGroup
from rescore.automations.messages import rendered
from rescore.automations.rules import Action, QuietHours, Rule
from rescore.automations.templates import TemplateProblem, render
from rescore.exceptions import NotFound, RescoreError

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["DeliveryDispatcher", "DispatchReport", "quiet_until"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DispatchReport:
    """One dispatcher pass: deliveries by outcome and digests made."""

    outcomes: dict[str, int] = field(default_factory=dict)
    digests: int = 0

    @property
    def handled(self) -> int:
        return sum(self.outcomes.values()) + self.digests


def quiet_until(quiet: QuietHours, now: datetime) -> datetime | None:
    """The end of the quiet hours ``now`` falls in (UTC), or None outside them."""
    local = now.astimezone(ZoneInfo(quiet.timezone))
    start, end = (time.fromisoformat(quiet.start), time.fromisoformat(quiet.end))
    at = local.time()
    inside = start <= at < end if start < end else at >= start or at < end
    if not inside:
        return None
    day = local.date() if at < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo).astimezone(now.tzinfo)


class DeliveryDispatcher:
    """Delivers for ``engine`` as ``worker`` (a name in the deliveries' claims)."""

    def __init__(self, engine: Engine, *, worker: str, batch: int = 100) -> None:
        self.engine = engine
        self.worker = worker
        self.batch = batch

    def run_once(self) -> DispatchReport:
        report = DispatchReport()
        rules: dict[tuple[str, str], Rule | None] = {}
        for group in self.engine.due_digests():
            report.digests += self._fold(group, self._rule(rules, group.tenant, group.rule))
        for claimed in self.engine.claim_deliveries(self.worker, limit=self.batch):
            outcome = self.deliver(claimed, self._rule(rules, claimed.tenant, claimed.rule))
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
            self.engine.notify("delivered", claimed.rule, claimed.kind, outcome)
        return report

    def _rule(
        self, cache: dict[tuple[str, str], Rule | None], tenant: str, name: str
    ) -> Rule | None:
        if (tenant, name) not in cache:
            try:
                cache[tenant, name] = self.engine.automation_rule(name, tenant=tenant).rule
            except NotFound:
                cache[tenant, name] = None
        return cache[tenant, name]

    def deliver(self, claimed: Claimed, rule: Rule | None) -> str:
        """Send one claimed delivery; the status it ends in."""
        if rule is None or claimed.action >= len(rule.actions):
            error = f"rule {claimed.rule!r} was removed or changed"
            return self.engine.finish_delivery(claimed, self.worker, error=error, permanent=True)
        action = rule.actions[claimed.action]
        if rule.quiet_hours is not None and action.notify is not None:
            until = quiet_until(rule.quiet_hours, self.engine.clock())
            if until is not None:
                self.engine.postpone_delivery(claimed, self.worker, until)
                return "postponed"
        try:
            message = claimed.message or self._message(claimed, rule, action)
            via = self._send(claimed, action, message)
        except DeliveryFailed as exc:
            log.warning("delivery %s of rule %s failed: %s", claimed.id, rule.name, exc)
            return self.engine.finish_delivery(
                claimed, self.worker, error=str(exc), permanent=exc.permanent
            )
        return self.engine.finish_delivery(claimed, self.worker, message={**message, "via": via})

    def _message(self, claimed: Claimed, rule: Rule, action: Action) -> dict[str, Any]:
        context = self._context(claimed)
        try:
            return rendered(action, context)
        except TemplateProblem as exc:
            raise DeliveryFailed(str(exc), permanent=True) from None

    def _context(self, claimed: Claimed) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if claimed.pack and claimed.entity is not None and claimed.pack in self.engine.registry:
            try:
                data = self.engine.automation_data(claimed.pack, [claimed.entity]).get(
                    claimed.entity, {}
                )
            except RescoreError as exc:
                raise DeliveryFailed(f"could not read the entity's data: {exc}") from None
        return {**claimed.context, "data": data}

    def _send(self, claimed: Claimed, action: Action, message: Mapping[str, Any]) -> str:
        if action.notify is not None:
            return notify(
                action.notify,
                message,
                key=claimed.key,
                channel_dir=self.engine.settings.channel_dir,
            )
        if action.webhook is not None:
            payload = {"rule": claimed.rule, "idempotency_key": claimed.key, **message}
            return webhook(action.webhook, payload, key=claimed.key)
        assert action.ingest is not None
        return self._ingest(claimed, message)

    def _ingest(self, claimed: Claimed, message: Mapping[str, Any]) -> str:
        event = {
            "event_id": f"automation:{claimed.key[:48]}",
            "type": message["type"],
            "entity": message["entity"],
            "occurred_at": self.engine.clock().isoformat(),
            "payload": message.get("payload", {}),
        }
        try:
            result = self.engine.ingest([event], tenant=claimed.tenant)
        except RescoreError as exc:
            permanent = exc.http_status < 500
            raise DeliveryFailed(f"ingest: {exc}", permanent=permanent) from None
        return f"ingest:{'new' if result.accepted else 'duplicate'}"

    def _fold(self, group: DigestGroup, rule: Rule | None) -> int:
        """One digest delivery per recipient of the group; how many were made."""
        if rule is None or rule.digest is None or group.action >= len(rule.actions):
            return 0
        action = rule.actions[group.action]
        by_recipient: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for member in group.members:
            try:
                message = rendered(action, self._context(member))
            except (TemplateProblem, DeliveryFailed) as exc:
                message = {"title": rule.name, "body": f"(not rendered: {exc})", "to": None}
            by_recipient.setdefault(str(message.get("to") or ""), []).append((member.id, message))
        made = 0
        for recipient, items in by_recipient.items():
            messages = [m for _, m in items]
            context = {"rule": rule.name, "count": len(messages), "messages": messages}
            try:
                title = render(rule.digest.title, context)
                body = render(rule.digest.body, context)
            except TemplateProblem as exc:
                title, body = rule.name, f"{len(messages)} messages (digest not rendered: {exc})"
            digest = {"title": title, "body": body, "to": recipient or None, "count": len(messages)}
            made += self.engine.record_digest(group, recipient, digest, [i for i, _ in items])
        return made
