"""Automations: rules that watch events, scores and the clock, and tell people.

- :mod:`~rescore.automations.rules`: the rule schema (trigger, conditions, actions, throttle,
  digest, quiet hours), validated whole;
- :mod:`~rescore.automations.book`: the rules in force and their evaluation inside the
  transaction of the ingest or score write that fires them;
- :mod:`~rescore.automations.outbox`: firings and deliveries, idempotent on a key;
- :mod:`~rescore.automations.dispatcher` and :mod:`~rescore.automations.channels`: delivery
  through Apprise channels, signed webhooks or a new event, retried and dead-lettered;
- :mod:`~rescore.automations.audience`: what packs offer scheduled rules;
- :mod:`~rescore.automations.scheduling`: scheduled rules as cron schedules.
"""

from __future__ import annotations

from rescore.automations.audience import Audience
from rescore.automations.rules import Rule, parse_rules, rule_of

__all__ = ["Audience", "Rule", "parse_rules", "rule_of"]
