"""Payments: Stripe's signed webhook (forged, stale and replayed events change nothing), the
downgrade after the grace period, the reminder three days before expiry delivered once through
the automation engine, the invoice PDF, and the MRR they move."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rescore.api import create_app
from rescore.automations.dispatcher import DeliveryDispatcher
from rescore.automations.scheduling import RuleSchedules
from rescore.db.schema import events
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.business_metrics import snapshot
from rescore.packs.tenders.invoice import invoice_data, render
from rescore.packs.tenders.payments import BadSignature, signature_header, verify
from rescore.packs.tenders.schema import payment_events, payments, subscribers
from rescore.packs.tenders.settings import TendersSettings
from rescore.packs.tenders.subscriptions import downgrade_due, plus_month
from rescore.schedule import Scheduler
from rescore.testing import ManualClock, scratch_engine

SECRET = "whsec_prueba_local"
NOW = datetime(2026, 11, 30, 15, 0)  # naive UTC, the pack's "now"
WHO = "00000000-0000-4000-8000-000000000001"
BASE = "/v1/packs/tenders"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW.replace(tzinfo=UTC))


@pytest.fixture
def engine(tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    settings = TendersSettings(stripe_secret=SECRET)  # type: ignore[arg-type]
    pack = TendersPack(as_of=lambda: clock.now.replace(tzinfo=None), settings=settings)
    with scratch_engine([pack], tmp_path / "t.db", clock=clock) as engine:
        with engine.source.begin() as conn:
            conn.execute(
                sa.insert(subscribers).values(
                    id=WHO,
                    nombre="Oficina Total Ltda.",
                    rut="76000001-1",
                    telegram_chat_id=100000001,
                    tier="emprendedor",
                    zona_horaria="America/Santiago",
                    descripcion_empresa="",
                    creado_en=datetime(2026, 1, 1),
                )
            )
        yield engine


@pytest.fixture
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine.settings, engine=engine, workers=False))


def stripe_event(event_id: str, kind: str, **obj: Any) -> bytes:
    """A Stripe event as its webhook POSTs it (metadata says who paid for what)."""
    body = {"object": "invoice", "currency": "clp", "metadata": {"suscriptor_id": WHO}} | obj
    return orjson.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": body}})


def paid(event_id: str, tier: str = "pyme", amount: int = 9990) -> bytes:
    meta = {"suscriptor_id": WHO, "tier": tier}
    return stripe_event(event_id, "invoice.paid", amount_paid=amount, metadata=meta)


def post(client: TestClient, payload: bytes, *, secret: str = SECRET, age: int = 0) -> Any:
    header = signature_header(payload, secret, int(time.time()) - age)
    return client.post(
        f"{BASE}/stripe",
        content=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def state(engine: Engine) -> tuple[str, datetime | None, int, int]:
    """The subscriber's tier and expiry, and how many payments and events are stored."""
    with engine.source.read() as conn:
        tier, until = conn.execute(
            sa.select(subscribers.c.tier, subscribers.c.vence_en).where(subscribers.c.id == WHO)
        ).one()
        count = lambda t: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()  # noqa: E731
        return tier, until, count(payments), count(payment_events)


def test_verify_follows_stripes_scheme() -> None:
    body = b'{"id": "evt_1"}'
    now = 1_795_958_400
    verify(body, signature_header(body, SECRET, now), SECRET, now=now + 299, tolerance=300)
    both = f"t={now},v1={'0' * 64},v1={signature_header(body, SECRET, now).split('v1=')[1]}"
    verify(body, both, SECRET, now=now, tolerance=300)  # a rolled secret: any v1 may match
    for header, when in [
        (signature_header(body, "whsec_other", now), now),  # forged
        (signature_header(body + b" ", SECRET, now), now),  # another body
        (signature_header(body, SECRET, now), now + 301),  # stale: a replay
        (f"v1={signature_header(body, SECRET, now).split('v1=')[1]}", now),  # no timestamp
        (None, now),
        ("garbage", now),
    ]:
        with pytest.raises(BadSignature) as refused:
            verify(body, header, SECRET, now=when, tolerance=300)
        assert refused.value.http_status == 400
        assert refused.value.field == "header.stripe-signature"


def test_a_paid_invoice_upgrades_once_and_a_replay_changes_nothing(
    engine: Engine, client: TestClient
) -> None:
    before = snapshot(engine, NOW).mrr_clp
    answer = post(client, paid("evt_paid_1"))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["resultado"], found["tier"]) == ("upgraded", "pyme")
    until = plus_month(NOW)
    assert found["vence_en"] == until.isoformat() + "Z"
    assert state(engine) == ("pyme", until, 1, 1)
    assert snapshot(engine, NOW).mrr_clp == before - 4990 + 9990
    again = post(client, paid("evt_paid_1"))
    assert again.status_code == 200
    assert again.json()["resultado"] == "duplicate"
    assert state(engine) == ("pyme", until, 1, 1)
    renewal = post(client, paid("evt_paid_2")).json()  # early renewal: from the expiry on
    assert renewal["resultado"] == "renewed"
    assert state(engine) == ("pyme", plus_month(until), 2, 2)
    with engine.db.read() as conn:
        kinds = conn.execute(
            sa.select(events.c.type, events.c.payload).where(events.c.entity == WHO)
        ).all()
    assert [(k, p["tier_antes"], p["tier"]) for k, p in kinds] == [
        ("subscriber_updated", "emprendedor", "pyme"), ("subscriber_updated", "pyme", "pyme")
    ]  # fmt: skip


def test_forged_stale_and_malformed_events_change_nothing(
    engine: Engine, client: TestClient
) -> None:
    for answer in (
        post(client, paid("evt_forged"), secret="whsec_attacker"),
        post(client, paid("evt_stale"), age=301),
        client.post(f"{BASE}/stripe", content=paid("evt_unsigned")),
    ):
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "header.stripe-signature"
    no_tier = stripe_event("evt_no_tier", "invoice.paid", amount_paid=9990)
    refused = post(client, no_tier)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "data", "object", "metadata", "tier"]
    dollars = paid("evt_usd").replace(b'"clp"', b'"usd"')
    assert post(client, dollars).status_code == 422
    assert post(client, b"[not json").status_code == 422
    assert state(engine) == ("emprendedor", None, 0, 0)
    assert post(client, paid("evt_no_tier")).status_code == 200  # fixed, retried: applied


def test_the_webhook_is_closed_without_a_secret(tmp_path: Path) -> None:
    pack = TendersPack(settings=TendersSettings())
    with scratch_engine([pack], tmp_path / "t.db") as engine:
        client = TestClient(create_app(engine.settings, engine=engine, workers=False))
        answer = post(client, paid("evt_1"))
    assert answer.status_code == 503
    assert "RESCORE_TENDERS_STRIPE_SECRET" in answer.json()["detail"]


def later(clock: ManualClock, moment: datetime) -> datetime:
    """Move the engine's clock to ``moment`` (naive UTC), which it returns."""
    clock.now = moment.replace(tzinfo=UTC)
    return moment


def test_a_failed_renewal_downgrades_after_the_grace_period(
    engine: Engine, client: TestClient, clock: ManualClock
) -> None:
    post(client, paid("evt_paid_1"))
    failed = stripe_event(
        "evt_failed_1",
        "invoice.payment_failed",
        amount_due=9990,
        subscription_details={"metadata": {"suscriptor_id": WHO, "tier": "pyme"}},
        metadata={},
    )
    assert post(client, failed).json()["resultado"] == "payment failed"
    grace = timedelta(days=3)
    assert downgrade_due(engine, later(clock, NOW + timedelta(days=2, hours=23)), grace) == []
    assert state(engine)[0] == "pyme"
    assert downgrade_due(engine, later(clock, NOW + grace), grace) == [WHO]
    assert state(engine)[:2] == ("free", None)
    assert downgrade_due(engine, NOW + grace, grace) == []  # already free


def test_paying_within_the_grace_period_keeps_the_tier(
    engine: Engine, client: TestClient, clock: ManualClock
) -> None:
    failed = stripe_event("evt_failed_1", "invoice.payment_failed", amount_due=9990)
    post(client, failed)
    clock.advance(86_400)
    post(client, paid("evt_paid_late"))
    assert downgrade_due(engine, later(clock, NOW + timedelta(days=10)), timedelta(days=3)) == []
    assert state(engine)[0] == "pyme"


def test_an_expired_tier_downgrades_after_the_grace_period(
    engine: Engine, clock: ManualClock
) -> None:
    with engine.source.begin() as conn:
        conn.execute(sa.update(subscribers).values(vence_en=NOW))
    grace = timedelta(days=3)
    assert downgrade_due(engine, later(clock, NOW + grace - timedelta(seconds=1)), grace) == []
    schedules = engine.registry["tenders"].register_schedules()
    (downgrade,) = [s for s in schedules if s.name == "tenders.downgrade"]
    due = later(clock, NOW + grace).replace(tzinfo=UTC)
    assert downgrade.run(engine, due) == [WHO]  # the schedule, with the default 3 days
    assert state(engine)[:2] == ("free", None)


def test_the_reminder_goes_out_once_three_days_before_expiry_at_nine_local(
    engine: Engine, clock: ManualClock
) -> None:
    expiry = datetime(2026, 12, 3, 18, 0)  # 15:00 in Santiago on 3 December
    with engine.source.begin() as conn:
        conn.execute(sa.update(subscribers).values(tier="pyme", vence_en=expiry))
    clock.now = datetime(2026, 11, 30, 11, 59, 30, tzinfo=UTC)  # 08:59:30 in Santiago

    def mine() -> list[Any]:
        return [s for s in RuleSchedules(engine)() if "tenders.recordatorio" in s.name]

    scheduler = Scheduler(engine, mine, claimant="s1")
    assert scheduler.tick() == []
    clock.now = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)
    (due,) = scheduler.tick()
    assert scheduler.run(due)
    assert Scheduler(engine, mine, claimant="s2").tick() == []  # claimed: not repeated
    clock.now = datetime(2026, 12, 1, 12, 0, 5, tzinfo=UTC)  # the next day: 2 days left
    for later in scheduler.tick():
        scheduler.run(later)
    dispatcher = DeliveryDispatcher(engine, worker="test")
    while dispatcher.run_once().handled:
        pass
    sent = inbox(engine, "telegram")
    assert len(sent) == 1, sent
    assert "Oficina Total Ltda.: tu plan PYME vence el 03-12-2026 15:00" in sent[0]["body"]
    assert sent[0]["to"] == "100000001"


def inbox(engine: Engine, channel: str) -> list[dict[str, Any]]:
    path = engine.settings.channel_dir / f"{channel}.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def test_each_payment_has_an_invoice_pdf(engine: Engine, client: TestClient) -> None:
    payment = post(client, paid("evt_paid_1")).json()["pago_id"]
    _, key = engine.keys.create("default", "read", datetime.now(UTC))
    read = {"Authorization": f"Bearer {key}"}
    answer = client.get(f"{BASE}/pagos/{payment}/factura.pdf", headers=read)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-")
    plain = render(invoice_data(engine, payment), compress=False)
    assert b"Total: $9.990 CLP" in plain
    assert rb"IVA \(19%\): $1.595 CLP" in plain  # parentheses are escaped in PDF strings
    assert b"Cliente: Oficina Total Ltda.  RUT 76000001-1" in plain
    assert b"Plan PYME, periodo 30-11-2026 al 30-12-2026" in plain
    listed = client.get(f"{BASE}/suscriptores/{WHO}/pagos", headers=read).json()
    assert [p["id"] for p in listed["pagos"]] == [payment]
    missing = client.get(f"{BASE}/pagos/{WHO}/factura.pdf", headers=read)
    assert missing.status_code == 404
    assert missing.json()["field"] == "pago_id"


def test_checkout_pays_a_month_unless_a_subscription_invoice_will(
    engine: Engine, client: TestClient
) -> None:
    meta = {"suscriptor_id": WHO, "tier": "profesional"}
    deferred = stripe_event(
        "evt_cs_1", "checkout.session.completed", mode="subscription", metadata=meta
    )
    assert post(client, deferred).json()["resultado"] == "deferred to invoice.paid"
    assert state(engine) == ("emprendedor", None, 0, 1)
    once = stripe_event(
        "evt_cs_2", "checkout.session.completed", mode="payment", amount_total=19990, metadata=meta
    )
    assert post(client, once).json()["resultado"] == "upgraded"
    assert state(engine) == ("profesional", plus_month(NOW), 1, 2)
    other = stripe_event("evt_other", "customer.created")
    assert post(client, other).json()["resultado"] == "ignored"
    assert state(engine)[2:] == (1, 3)
    free = paid("evt_free", tier="free", amount=0)
    refused = post(client, free)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "data", "object", "metadata", "tier"]
    assert "not a tier on sale" in refused.json()["detail"][0]["msg"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120),
        st.from_regex(r"\At=[0-9]{1,12},v1=[0-9a-f]{0,64}\Z"),
    ),
    body=st.one_of(st.binary(max_size=300), st.builds(paid, st.text(min_size=1, max_size=40))),
)
def test_no_unsigned_request_is_a_server_error_or_changes_anything(
    engine: Engine, client: TestClient, header: str | None, body: bytes
) -> None:
    sent = {} if header is None else {"Stripe-Signature": header}
    answer = client.post(f"{BASE}/stripe", content=body, headers=sent)
    assert answer.status_code == 400, answer.text
    assert state(engine) == ("emprendedor", None, 0, 0)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event=st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
))  # fmt: skip
def test_a_signed_event_of_any_shape_is_applied_or_refused_whole(
    engine: Engine, client: TestClient, event: Any
) -> None:
    before = state(engine)
    answer = post(client, orjson.dumps(event))
    assert answer.status_code in (200, 404, 422), answer.text
    if answer.status_code != 200:
        assert state(engine) == before
