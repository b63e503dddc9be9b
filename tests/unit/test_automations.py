# ruff: noqa: E501  (rules are written inline as their YAML, one per line, as users write them)
"""Automation rules: validation, conditions, triggers (event, crossing with hysteresis, tier,
drop), the transactional outbox, throttle, digest, quiet hours, retries and dead letters,
signed webhooks, and cron rules in a time zone."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import Clock, event, put_items
from receivers import HttpReceiver, http_receiver
from rescore.automations import parse_rules
from rescore.automations.conditions import holds
from rescore.automations.dispatcher import DeliveryDispatcher, quiet_until
from rescore.automations.rules import Conditions, QuietHours
from rescore.automations.scheduling import RuleSchedules
from rescore.engine import Engine
from rescore.exceptions import InvalidInput
from rescore.schedule import Schedule, Scheduler
from rescore.testing import drain

_ids = itertools.count()


def rules(text: str) -> list[Any]:
    return parse_rules(text)


def move(engine: Engine, entity: str, a: int) -> None:
    """Set the toy item's ``a`` and announce it: a_score becomes ``a``."""
    put_items(engine, **{entity: (a, 0)})
    engine.ingest([event(f"m{next(_ids)}", "a_changed", entity)])
    drain(engine)


def dispatch(engine: Engine) -> None:
    dispatcher = DeliveryDispatcher(engine, worker="test-deliver")
    while dispatcher.run_once().handled:
        pass


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    yield from http_receiver()


def inbox(engine: Engine, channel: str) -> list[dict[str, Any]]:
    path = engine.settings.channel_dir / f"{channel}.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


# rules are validated whole ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{name: r, trigger: {kind: schedule, cron: '0 25 * * *'}, actions: [{notify: {channel: s, body: b}}]}", "trigger.cron"),
        ("{name: r, trigger: {kind: schedule, cron: '0 9 * * *', timezone: Bogota}, actions: [{notify: {channel: s, body: b}}]}", "trigger.timezone"),
        ("{name: r, trigger: {kind: event, type: t}, actions: [{notify: {channel: s, body: '{% if %}'}}]}", "actions.0.notify.body"),
        ("{name: r, trigger: {kind: score, scorer: s}, actions: [{notify: {channel: s, body: b}}]}", "trigger"),
        ("{name: r, trigger: {kind: event, type: t}, actions: [{webhook: {url: 'file:///etc/passwd'}}]}", "actions.0.webhook.url"),
        ("{name: r, trigger: {kind: event, type: t}, conditions: {all: [{field: x, op: like, value: 1}]}, actions: [{ingest: {type: t}}]}", "conditions.all.0.op"),
        ("{name: r, trigger: {kind: event, type: t}, actions: [{ingest: {type: t}}], throttle: {count: 1, per: forever}}", "throttle.per"),
        ("{name: 'bad name', trigger: {kind: event, type: t}, actions: [{ingest: {type: t}}]}", "name"),
        ("{name: r, trigger: {kind: event, type: t}, actions: [{ingest: {type: t}}], extra: 1}", "extra"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_rules(text)
    assert field in [p.field for p in refused.value.problems]


def test_conditions_are_declarative_and_never_raise() -> None:
    context = {"payload": {"amount": 250, "tags": ["vip"], "name": "Ana", "empty": []}}
    check = Conditions.model_validate
    assert holds(check({"all": [{"field": "payload.amount", "op": "ge", "value": 100}]}), context)
    assert not holds(
        check({"all": [{"field": "payload.amount", "op": "lt", "value": 100}]}), context
    )
    assert holds(check({"any": [{"field": "payload.nope", "op": "exists"}, {"field": "payload.tags", "op": "contains", "value": "vip"}]}), context)  # fmt: skip
    assert holds(check({"all": [{"field": "payload.empty", "op": "empty"}]}), context)
    assert not holds(check({"all": [{"field": "payload.name", "op": "gt", "value": 3}]}), context)
    assert holds(check({"all": [{"field": "payload.name", "op": "in", "value": ["Ana", "Bo"]}]}), context)  # fmt: skip


# event rules: recorded in the ingest's transaction ----------------------------------------


def test_an_event_rule_fires_once_per_event_in_the_ingest_transaction(engine: Engine) -> None:
    engine.add_rules(rules("""
        name: big-a
        trigger: {kind: event, type: a_changed}
        conditions: {all: [{field: payload.amount, op: ge, value: 100}]}
        actions: [{notify: {channel: ops, body: "{{ entity }} moved {{ payload.amount }}"}}]
    """))  # fmt: skip
    put_items(engine, x=(10, 0))
    engine.ingest(
        [event("e1", "a_changed", "x", amount=150), event("e2", "a_changed", "x", amount=5)]
    )
    engine.ingest([event("e1", "a_changed", "x", amount=150)])  # a redelivery
    (fired,) = engine.firings()
    assert fired["rule"] == "big-a"
    assert fired["occurrence"] == "event:e1"
    (delivery,) = engine.deliveries()
    assert delivery["status"] == "pending"
    dispatch(engine)
    (line,) = inbox(engine, "ops")  # no RESCORE_CHANNEL_OPS: the offline inbox
    assert line["body"] == "x moved 150"
    assert engine.deliveries()[0]["status"] == "sent"


def test_a_refused_ingest_records_no_firing(engine: Engine) -> None:
    engine.add_rules(rules("{name: any-a, trigger: {kind: event, type: a_changed}, actions: [{ingest: {type: noted}}]}"))  # fmt: skip
    with pytest.raises(InvalidInput):
        engine.ingest([event("ok", "a_changed", "x"), {"event_id": "bad", "type": "a_changed"}])
    assert engine.firings() == []


# score rules -----------------------------------------------------------------------------


def test_a_score_hovering_at_the_line_fires_once_hysteresis(engine: Engine) -> None:
    engine.add_rules(rules("""
        name: a-low
        trigger: {kind: score, scorer: a_score, crosses: {below: 50, band: 10}}
        actions: [{notify: {channel: ops, body: "{{ entity }}: {{ before }} -> {{ after }}"}}]
    """))  # fmt: skip
    for a in (70, 49, 52, 48, 55, 47, 51, 46):  # wobbles around 50, never back above 60
        move(engine, "x", a)
    assert len(engine.firings()) == 1
    for a in (65, 40):  # back past the band, then down again: fires again
        move(engine, "x", a)
    fired = engine.firings()
    assert len(fired) == 2
    assert fired[0]["context"]["before"] == 65.0
    assert fired[0]["context"]["after"] == 40.0


def test_tier_changes_and_drops_within_a_window(engine: Engine, clock: Clock) -> None:
    engine.add_rules(rules("""
        - name: tier-up
          trigger: {kind: score, scorer: a_score, tier: {bands: {bronze: 0, silver: 40, gold: 60, platinum: 80}, direction: up}}
          actions: [{notify: {channel: ops, body: "{{ tier_before }} -> {{ tier_after }}"}}]
        - name: fell-20
          trigger: {kind: score, scorer: a_score, drop: {points: 20, within: 1h}}
          actions: [{notify: {channel: ops, body: "fell to {{ after }}"}}]
    """))  # fmt: skip
    for a in (30, 45, 50, 85):  # bronze -> silver (fires), silver, -> platinum (fires)
        move(engine, "x", a)
    for a in (75, 70):  # 85 -> 70 within the hour: 15 points, then...
        move(engine, "x", a)
    assert [f["rule"] for f in engine.firings()] == ["tier-up", "tier-up"]
    move(engine, "x", 64)  # 85 -> 64: 21 points within the hour
    clock.advance(7200)
    move(engine, "x", 90)
    move(engine, "x", 75)  # 15 below the new peak
    fired = [(f["rule"], f["context"].get("tier_after")) for f in reversed(engine.firings())]
    assert fired == [("tier-up", "silver"), ("tier-up", "platinum"), ("fell-20", None), ("tier-up", "platinum")]  # fmt: skip


# throttle, digest, quiet hours -----------------------------------------------------------


def test_throttle_records_but_does_not_deliver(engine: Engine) -> None:
    engine.add_rules(rules("""
        name: each-a
        trigger: {kind: event, type: a_changed}
        actions: [{notify: {channel: ops, body: "{{ entity }}"}}]
        throttle: {count: 2, per: 1d}
    """))  # fmt: skip
    put_items(engine, x=(1, 0))
    engine.ingest([event(f"t{i}", "a_changed", "x") for i in range(4)])
    statuses = sorted(f["status"] for f in engine.firings())
    assert statuses == ["fired", "fired", "throttled", "throttled"]
    assert len(engine.deliveries()) == 2


def test_a_digest_folds_a_window_into_one_message_per_recipient(
    engine: Engine, clock: Clock
) -> None:
    engine.add_rules(rules("""
        name: defaults
        trigger: {kind: event, type: a_changed}
        actions: [{notify: {channel: ops, to: "{{ payload.team }}", body: "{{ entity }} defaulted"}}]
        digest: {window: 1h, title: "{{ count }} clients defaulted in the last hour"}
    """))  # fmt: skip
    put_items(engine, x=(1, 0), y=(1, 0), z=(1, 0))
    engine.ingest([
        event("d1", "a_changed", "x", team="risk"),
        event("d2", "a_changed", "y", team="risk"),
        event("d3", "a_changed", "z", team="sales"),
    ])  # fmt: skip
    dispatch(engine)
    assert inbox(engine, "ops") == []  # the window is open
    clock.advance(3600)
    dispatch(engine)
    sent = {line["to"]: line for line in inbox(engine, "ops")}
    assert sent["risk"]["title"] == "2 clients defaulted in the last hour"
    assert sent["risk"]["body"].splitlines() == ["- x defaulted", "- y defaulted"]
    assert sent["sales"]["count"] == 1
    statuses = sorted(d["status"] for d in engine.deliveries())
    assert statuses == ["digested", "digested", "digested", "sent", "sent"]
    dispatch(engine)
    assert len(inbox(engine, "ops")) == 2  # folded once


def test_quiet_hours_hold_a_message_until_they_end(engine: Engine, clock: Clock) -> None:
    night = QuietHours(start="21:00", end="08:00", timezone="America/Bogota")
    # 10:30 UTC is 05:30 in Bogota: quiet until 08:00 there, 13:00 UTC
    assert quiet_until(night, clock.now) == datetime(2026, 1, 23, 13, 0, tzinfo=UTC)
    assert quiet_until(night, datetime(2026, 1, 23, 15, 0, tzinfo=UTC)) is None
    engine.add_rules(rules("""
        name: quiet
        trigger: {kind: event, type: a_changed}
        actions: [{notify: {channel: ops, body: "{{ entity }}"}}]
        quiet_hours: {start: "21:00", end: "08:00", timezone: America/Bogota}
    """))  # fmt: skip
    put_items(engine, x=(1, 0))
    engine.ingest([event("q1", "a_changed", "x")])
    dispatch(engine)
    assert inbox(engine, "ops") == []
    clock.now = datetime(2026, 1, 23, 13, 0, 1, tzinfo=UTC)
    dispatch(engine)
    assert len(inbox(engine, "ops")) == 1


# delivery: signed webhooks, retries, dead letters, requeue --------------------------------


def test_a_webhook_is_signed_retried_then_dead_lettered_and_requeued(
    engine: Engine, clock: Clock, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    engine.add_rules(rules(f"""
        name: hook
        trigger: {{kind: event, type: a_changed}}
        actions: [{{webhook: {{url: "{receiver.url}/n8n", secret_env: HOOK_SECRET}}}}]
    """))  # fmt: skip
    put_items(engine, x=(1, 0))
    engine.ingest([event("w1", "a_changed", "x", amount=3)])
    receiver.failures = 100
    for _ in range(engine.settings.delivery_attempts):
        dispatch(engine)
        clock.advance(3600)  # past any backoff
    (dead,) = engine.deliveries(status="dead")
    assert dead["attempts"] == engine.settings.delivery_attempts
    assert "503" in dead["last_error"]
    receiver.failures = 0
    assert engine.requeue_deliveries(ids=[dead["id"]]) == 1
    dispatch(engine)
    (got,) = receiver.received
    assert got.path == "/n8n"
    assert got.headers["Idempotency-Key"] == dead["key"]
    stamp, mac = (part.split("=", 1)[1] for part in got.headers["Rescore-Signature"].split(","))
    expected = hmac.new(b"s3cret", f"{stamp}.".encode() + got.body, hashlib.sha256)
    assert hmac.compare_digest(mac, expected.hexdigest())
    assert got.json()["context"]["payload"] == {"amount": 3}
    assert "s3cret" not in str(engine.deliveries())


def test_a_client_error_from_a_webhook_is_dead_at_once(
    engine: Engine, receiver: HttpReceiver
) -> None:
    engine.add_rules(rules(f"{{name: h, trigger: {{kind: event, type: a_changed}}, actions: [{{webhook: {{url: '{receiver.url}/x'}}}}]}}"))  # fmt: skip
    receiver.failures, receiver.fail_with = 1, 410
    put_items(engine, x=(1, 0))
    engine.ingest([event("g1", "a_changed", "x")])
    dispatch(engine)
    (dead,) = engine.deliveries(status="dead")
    assert dead["attempts"] == 1


def test_an_ingest_action_feeds_a_new_event_once(engine: Engine) -> None:
    engine.add_rules(rules("""
        name: follow-up
        trigger: {kind: event, type: a_changed}
        actions: [{ingest: {type: noted, payload: {because: "{{ event.event_id }}"}}}]
    """))  # fmt: skip
    put_items(engine, x=(1, 0))
    engine.ingest([event("i1", "a_changed", "x")])
    dispatch(engine)
    dispatch(engine)
    explained = [d["message"] for d in engine.deliveries()]
    assert explained[0]["payload"] == {"because": "i1"}
    assert explained[0]["via"] == "ingest:new"


# schedules -------------------------------------------------------------------------------


def test_a_cron_rule_fires_at_nine_in_bogota_once_per_tick(tmp_path: Path, engine: Engine, clock: Clock) -> None:  # fmt: skip
    engine.add_rules(rules("""
        name: morning
        trigger: {kind: schedule, cron: "0 9 * * *", timezone: America/Bogota}
        actions: [{notify: {channel: ops, body: "buenos días {{ due }}"}}]
    """))  # fmt: skip
    clock.now = datetime(2026, 1, 23, 13, 59, 30, tzinfo=UTC)  # 08:59:30 in Bogota
    mine = lambda: [s for s in RuleSchedules(engine)() if s.name == "rule:default:morning"]  # noqa: E731
    scheduler = Scheduler(engine, mine, claimant="s1")
    assert scheduler.tick() == []
    clock.now = datetime(2026, 1, 23, 14, 0, 5, tzinfo=UTC)
    (due,) = scheduler.tick()
    assert due.at == datetime(2026, 1, 23, 14, 0, tzinfo=UTC)
    assert scheduler.run(due)
    assert scheduler.tick() == []
    restarted = Scheduler(engine, mine, claimant="s2")
    assert restarted.tick() == []  # the tick is claimed: a second scheduler does not repeat it
    (fired,) = engine.firings()
    assert fired["occurrence"] == "at:2026-01-23T14:00:00+00:00"
    dispatch(engine)
    assert inbox(engine, "ops")[0]["body"] == "buenos días 2026-01-23T14:00:00+00:00"


def test_firings_and_deliveries_are_counted_for_prometheus(engine: Engine) -> None:
    from rescore.metrics import Metrics

    metrics = Metrics()
    engine.observers.append(metrics)
    engine.add_rules(
        rules(
            "{name: m, trigger: {kind: event, type: a_changed}, actions: [{notify: {channel: ops, body: hi}}], throttle: {count: 1, per: 1h}}"
        )
    )
    put_items(engine, x=(1, 0))
    engine.ingest([event("c1", "a_changed", "x"), event("c2", "a_changed", "x")])
    with pytest.raises(InvalidInput):  # rolled back: its firing is not counted
        engine.ingest([event("c3", "a_changed", "x"), {"event_id": "c4"}])
    dispatch(engine)
    text = metrics.exposition().decode()
    assert 'rescore_automation_firings_total{rule="m",status="fired"} 1.0' in text
    assert 'rescore_automation_firings_total{rule="m",status="throttled"} 1.0' in text
    assert 'rescore_automation_deliveries_total{kind="notify",status="sent"} 1.0' in text


def test_the_admin_alerts_are_rules_over_the_queue_health(engine: Engine, clock: Clock) -> None:
    put_items(engine, **{f"n{i}": (1, 1) for i in range(101)})
    engine.ingest([event(f"b{i}", "b_changed", f"n{i}") for i in range(101)])  # normal lane
    views = {v.rule.name: v for v in engine.automation_rules()}
    assert views["rescore.pending_high"].origin == "rescore"

    def admin() -> list[Schedule]:
        return [s for s in RuleSchedules(engine)() if s.name.startswith("rule:default:rescore.")]

    scheduler = Scheduler(engine, admin, claimant="s")
    clock.advance(60)
    for due in scheduler.tick():
        scheduler.run(due)
    dispatch(engine)
    (alert,) = inbox(engine, "admin")
    assert alert["title"] == "rescore: 101 entities waiting"
    drain(engine)
    clock.advance(3600)
    for due in scheduler.tick():
        scheduler.run(due)
    assert len(inbox(engine, "admin")) == 1  # the queue is empty again: quiet


def test_each_new_component_fires_once_for_it_ever(engine: Engine) -> None:
    engine.add_rules(rules("""
        name: new-part
        trigger: {kind: score, scorer: total, new_component: {above: 0}}
        actions: [{notify: {channel: ops, to: "{{ component }}", body: "{{ entity }} gained {{ component }} ({{ component_value }})"}}]
    """))  # fmt: skip
    put_items(engine, y=(7, 0))  # first score: a is already there, b is not
    engine.ingest([event("n1", "a_changed", "y")])
    drain(engine)
    assert [f["context"]["component"] for f in engine.firings()] == ["a"]
    move(engine, "y", 9)  # a rises but was there: nothing new
    put_items(engine, y=(9, 3))
    engine.ingest([event("n2", "b_changed", "y")])
    drain(engine)
    assert sorted(f["context"]["component"] for f in engine.firings()) == ["a", "b"]
    for a in (0, 12):  # a leaves and comes back: it was told once, it is not told again
        move(engine, "y", a)
    fired = engine.firings()
    assert len(fired) == 2
    dispatch(engine)
    assert sorted(m["to"] for m in inbox(engine, "ops")) == ["a", "b"]
    assert "y gained b (3.0)" in [m["body"] for m in inbox(engine, "ops")]


def test_a_new_component_rule_needs_exactly_one_test() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_rules(
            "{name: r, trigger: {kind: score, scorer: s, new_component: {}, drop: {points: 1, within: 1d}}, actions: [{ingest: {type: t}}]}"
        )
    assert refused.value.field == "trigger"
    assert "new_component" in refused.value.message
